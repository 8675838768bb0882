package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/queue"
)

// The library refuses an open API beyond loopback too, before it opens
// anything, whoever calls it.
func TestRunRefusesOpenAPIBeyondLoopback(t *testing.T) {
	for _, target := range []app.Target{app.All, app.Gateway} {
		for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
			cfg := app.Config{Listen: addr, DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}
			err := app.Run(context.Background(), target, cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "refusing to listen on "+addr+" without API tokens") {
				t.Errorf("hlsd %s on %s without tokens: %v", target, addr, err)
			}
		}
	}
}

// `hlsd all` with a token: uploads and the whole API need it; the form,
// the streams, health, readiness and metrics do not.
func TestAllWithTokens(t *testing.T) {
	t.Parallel()
	const token = "e2e-token-0123456789abcdef"
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	cfg := app.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), ProfilesPath: "../../../profiles.json",
		MaxUploadBytes: 1 << 20, EncoderWorkers: 1, SegmenterWorkers: 1, ShutdownGrace: 5 * time.Second,
		Limits: ffmpeg.DefaultLimits(), EncodeMinTimeout: time.Minute, Jobs: queue.DefaultConfig(),
		APITokens: []string{"another-token-0123456789", token},
		Log:       slog.New(slog.NewTextHandler(authLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Ready:     func(a string) { addr <- a },
	}
	go func() { done <- app.Run(ctx, app.All, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hlsd all stopped with %v", err)
		}
	})
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("hlsd all with tokens did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("hlsd all did not start within 30s")
	}

	do := func(method, path, authorization, contentType string, body io.Reader) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	const form = "--x\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.mp4\"\r\n\r\nnot a video\r\n--x--\r\n"
	id := layout.NewVideoID()
	for _, r := range []struct{ method, path string }{
		{"POST", "/upload"}, {"POST", "/api/videos"}, {"GET", "/api/videos"}, {"GET", "/api/videos/" + id}, {"DELETE", "/api/videos/" + id},
	} {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + token} {
			status, body, hdr := do(r.method, r.path, auth, "multipart/form-data; boundary=x", strings.NewReader(form))
			if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="hlsd"`) || strings.Contains(body, token) {
				t.Errorf("%s %s with %q: %d %q %q, want 401 with a Bearer challenge", r.method, r.path, auth, status, hdr.Get("WWW-Authenticate"), body)
			}
		}
	}
	if status, body, _ := do("GET", "/api/videos", "Bearer "+token, "", nil); status != http.StatusOK || !strings.Contains(body, `"videos"`) {
		t.Errorf("GET /api/videos with the token: %d %q", status, body)
	}
	if status, body, _ := do("GET", "/api/videos/"+id, "Bearer "+token, "", nil); status != http.StatusNotFound {
		t.Errorf("GET /api/videos/%s with the token: %d %q, want 404", id, status, body)
	}
	status, body, _ := do("POST", "/api/videos", "Bearer "+token, "multipart/form-data; boundary=x", strings.NewReader(form))
	if status != http.StatusAccepted {
		t.Errorf("POST /api/videos with the token: %d %q", status, body)
	}
	for path, want := range map[string]int{"/": 200, "/healthz": 200, "/readyz": 200, "/metrics": 200, "/streams/" + id + "/master.m3u8": 404} {
		if status, body, _ := do("GET", path, "", "", nil); status != want {
			t.Errorf("GET %s without a token: %d %q, want %d", path, status, body, want)
		}
	}
}

// authLog sends hlsd's log to the test's.
type authLog struct{ t *testing.T }

func (w authLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
