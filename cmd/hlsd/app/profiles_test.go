package app_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/queue"
)

// A wrong profiles.json stops hlsd at start-up with the field named, before
// it accepts a single upload.
func TestInvalidProfilesFailAtStartup(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("../../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "profiles.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(good), `"preset": "veryfast"`, `"preset": "warp"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := false
	err = app.Run(ctx, app.All, app.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), ProfilesPath: bad, MaxUploadBytes: 1 << 20,
		EncoderWorkers: 1, SegmenterWorkers: 1, ShutdownGrace: time.Second, Limits: ffmpeg.DefaultLimits(),
		EncodeMinTimeout: time.Minute, Jobs: queue.DefaultConfig(), Ready: func(string) { started = true },
		Log: slog.New(slog.NewTextHandler(testWriter{T: t}, nil)),
	})
	if err == nil || !strings.Contains(err.Error(), "video.preset") || started {
		t.Fatalf("hlsd all with a bad preset: started=%v err=%v; want a start-up error naming video.preset", started, err)
	}
}
