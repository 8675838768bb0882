package content

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playback"
)

func TestKeyVideoID(t *testing.T) {
	for p, want := range map[string]string{
		"/streams/" + id + "/key":      id,
		"/streams/" + otherID + "/key": otherID,
		"/streams/" + id + "/key/":     "",
		"/streams/" + id + "/Key":      "",
		"/streams/" + id + "/%6bey":    "",
		"/streams/" + id + "/360p/key": "",
		"/streams/" + id + "//key":     "",
		"/streams/" + id + "/key;x":    "",
		"/streams//key":                "",
		"/streams/key":                 "",
		"/streams/" + id[:23] + "/key": "",
		"/keys/" + id + "/aes128.key":  "",
		"/streams/" + id + "/key.m3u8": "",
	} {
		got, ok := KeyVideoID(p)
		if got != want || ok != (want != "") {
			t.Errorf("KeyVideoID(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
	if k, ok := ObjectKey("/streams/" + id + "/key"); ok {
		t.Errorf("ObjectKey maps the key path to %q", k)
	}
}

// The key is served with headers that keep it out of every cache, to
// anyone an open deployment serves segments to; a video without a key
// (stored in the clear, or unknown) has none to give.
func TestServesTheKey(t *testing.T) {
	f := newFixture(t)
	put := func(k, s string) {
		if err := f.store.Put(context.Background(), k, strings.NewReader(s), int64(len(s))); err != nil {
			t.Fatal(err)
		}
	}
	put(layout.MasterKey(otherID), "#EXTM3U\n") // a video in the clear: no key
	const shortID = "cdefghijklmnopqrstuvwxyz"
	put(layout.EncryptionKeyKey(shortID), "short")
	var logged bytes.Buffer
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: slog.New(slog.NewTextHandler(&logged, nil))}).Handler())
	defer srv.Close()

	resp, body := do(t, "GET", srv.URL+"/streams/"+id+"/key", nil)
	h := resp.Header
	if resp.StatusCode != 200 || string(body) != markKey {
		t.Fatalf("GET key = %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/octet-stream", "Cache-Control": "private, no-store", "Content-Length": "16",
		"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff", "ETag": "", "Last-Modified": "",
	} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	if resp, body := do(t, "HEAD", srv.URL+"/streams/"+id+"/key", nil); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != 16 {
		t.Errorf("HEAD key = %d, %d bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	if resp, body := do(t, "GET", srv.URL+"/streams/"+id+"/key", map[string]string{"Range": "bytes=4-7"}); resp.StatusCode != 206 || string(body) != markKey[4:8] {
		t.Errorf("Range on the key = %d %q", resp.StatusCode, body)
	}
	// The query never changes what is served.
	if resp, body := do(t, "GET", srv.URL+"/streams/"+id+"/key?x=../../uploads/"+id+"/source", nil); resp.StatusCode != 200 || string(body) != markKey {
		t.Errorf("key with a query = %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/streams/" + otherID + "/key", "/streams/zzzzzzzzzzzzzzzzzzzzzzzz/key"} {
		resp, body := do(t, "GET", srv.URL+p, nil)
		if resp.StatusCode != 404 || string(body) != msgNotFound+"\n" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s = %d %q %q, want 404", p, resp.StatusCode, body, resp.Header.Get("Cache-Control"))
		}
	}
	resp, body = do(t, "GET", srv.URL+"/streams/"+shortID+"/key", nil)
	if resp.StatusCode != 503 || string(body) != msgUnavailable+"\n" || !strings.Contains(logged.String(), "wrong size") {
		t.Errorf("damaged key = %d %q; log %s", resp.StatusCode, body, logged.String())
	}
	if resp, _ := do(t, "POST", srv.URL+"/streams/"+id+"/key", nil); resp.StatusCode != 405 {
		t.Errorf("POST key = %d", resp.StatusCode)
	}
}

const encryptedMedia = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-KEY:METHOD=AES-128,URI=\"../key\"\n" +
	"#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_00000.ts\n#EXT-X-ENDLIST\n"

// With signed playback the key is as closed as everything else under
// /streams/{id}/: only a valid, unexpired token for that very video opens
// it, and the one the rewritten media playlist carries does.
func TestSignedKey(t *testing.T) {
	e := newSignedEnv(t)
	good := e.signer.Token(id, t0)
	keyPath := "/streams/" + id + "/key"
	for _, tc := range []struct {
		name, query string
		status      int
		body        string
	}{
		{"valid", "token=" + good, 200, markKey},
		{"missing", "", 403, msgNoToken},
		{"empty", "token=", 403, msgNoToken},
		{"wrong", "token=" + strings.Repeat("A", playback.TokenLen), 403, msgNoToken},
		{"tampered", "token=" + flip(good, playback.TokenLen-5), 403, msgNoToken},
		{"another video's", "token=" + e.signer.Token(otherID, t0), 403, msgNoToken},
		{"twice", "token=" + good + "&token=" + good, 403, msgNoToken},
		{"expired", "token=" + e.signer.Sign(id, t0.Add(-time.Second)), 403, msgExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := keyPath
			if tc.query != "" {
				target += "?" + tc.query
			}
			resp, body := e.get(t, target, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d %q, want %d", target, resp.StatusCode, body, tc.status)
			}
			want := tc.body
			if tc.status != 200 {
				want += "\n"
			}
			if string(body) != want {
				t.Fatalf("body %q, want %q", body, want)
			}
			wantCC := "no-store"
			if tc.status == 200 {
				wantCC = "private, no-store"
			}
			if cc := resp.Header.Get("Cache-Control"); cc != wantCC {
				t.Errorf("Cache-Control %q, want %q", cc, wantCC)
			}
		})
	}
	// A video without a key: 403 without a token (no existence oracle), 404 with one.
	other := "/streams/" + otherID + "/key"
	if resp, _ := e.get(t, other, nil); resp.StatusCode != 403 {
		t.Errorf("keyless video, no token: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, other+"?token="+e.signer.Token(otherID, t0), nil); resp.StatusCode != 404 {
		t.Errorf("keyless video, valid token: %d", resp.StatusCode)
	}
	// After the token expires, the key closes with the rest.
	e.clock.set(t0.Add(time.Hour))
	if resp, body := e.get(t, keyPath+"?token="+good, nil); resp.StatusCode != 403 || string(body) != msgExpired+"\n" {
		t.Errorf("key after expiry: %d %q", resp.StatusCode, body)
	}
}

// A player given the signed master follows the media playlist's EXT-X-KEY,
// rewritten with the token, to the key.
func TestSignedKeyURIIsRewritten(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Put(context.Background(), layout.MediaPlaylistKey(id, "360p"), strings.NewReader(encryptedMedia), int64(len(encryptedMedia))); err != nil {
		t.Fatal(err)
	}
	signer, _ := playback.NewSigner(time.Hour, playSecret)
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: quietLog(), Signer: signer, Now: func() time.Time { return t0 }}).Handler())
	defer srv.Close()
	tok := signer.Token(id, t0)
	mediaURL := srv.URL + "/streams/" + id + "/360p/index.m3u8?token=" + tok
	for _, enc := range []string{"identity", "gzip"} {
		resp, body := do(t, "GET", mediaURL, map[string]string{"Accept-Encoding": enc})
		if enc == "gzip" {
			body = gunzip(t, body)
		}
		want := `#EXT-X-KEY:METHOD=AES-128,URI="../key?token=` + tok + `"` + "\n"
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s media playlist: %d\n%s\nwant %q", enc, resp.StatusCode, body, want)
		}
	}
	base, _ := url.Parse(mediaURL)
	ref, _ := base.Parse("../key?token=" + tok)
	resp, body := do(t, "GET", ref.String(), nil)
	if ref.Path != "/streams/"+id+"/key" || resp.StatusCode != http.StatusOK || string(body) != markKey {
		t.Fatalf("GET %s = %d %q", ref, resp.StatusCode, body)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
