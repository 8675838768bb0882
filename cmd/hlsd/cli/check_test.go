package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	// A master playlist that breaks MUST rules before any segment is needed.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/master.m3u8" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nmissing.m3u8\n"))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := Check([]string{srv.URL + "/master.m3u8"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"MUST mime-type", "MUST codecs-present", "MUST http-ok", "findings"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := Check([]string{"not a url"}, &out, &errb); code != 2 {
		t.Errorf("a bad URL: exit %d, want 2", code)
	}
	if code := Check(nil, &out, &errb); code != 2 {
		t.Errorf("no URL: exit %d, want 2", code)
	}
}
