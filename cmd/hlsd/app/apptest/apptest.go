// Package apptest runs a whole `hlsd all` inside a test process, for the
// end-to-end tests of any package (cmd/hlsd/app, the CLI client…).
package apptest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// Start runs `hlsd all` (embedded NATS, files on disk in a temporary
// directory) on a free loopback port and returns its base URL. profiles is
// the path of profiles.json from the test's directory; opts may change the
// configuration first. It stops when the test ends, and the test fails if
// it does not stop cleanly.
func Start(t testing.TB, profiles string, opts ...func(*app.Config)) string {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	cfg := app.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), ProfilesPath: profiles,
		MaxUploadBytes: 1 << 30, EncoderWorkers: 1, SegmenterWorkers: 2, ShutdownGrace: 5 * time.Second,
		Limits: ffmpeg.DefaultLimits(), EncodeMinTimeout: 5 * time.Minute, Jobs: queue.DefaultConfig(),
		Log:   slog.New(slog.NewTextHandler(LogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Ready: func(a string) { addr <- a },
	}
	for _, o := range opts {
		o(&cfg)
	}
	go func() { done <- app.Run(ctx, app.All, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hlsd all stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("hlsd all did not stop within 30s")
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatalf("hlsd all failed to start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("hlsd all did not start within 30s")
	}
	return ""
}

// LogWriter sends log lines to the test's log.
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
