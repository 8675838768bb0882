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
	for _, tc := range []struct{ name, old, new, want string }{
		{"a bad preset", `"preset": "veryfast"`, `"preset": "warp"`, "video.preset"},
		{"an unknown container", `"encryption": "none",`, `"encryption": "none", "container": "mkv",`, "container"},
		// CMAF's encryption would be SAMPLE-AES (cbcs), not whole segments.
		{"CMAF with AES-128", `"encryption": "none",`, `"encryption": "aes-128", "container": "cmaf",`, "SAMPLE-AES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("profiles.json lacks %s", tc.old)
			}
			bad := filepath.Join(t.TempDir(), "profiles.json")
			if err := os.WriteFile(bad, []byte(strings.Replace(string(good), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			started := false
			err := app.Run(ctx, app.All, app.Config{
				Listen: "127.0.0.1:0", DataDir: t.TempDir(), ProfilesPath: bad, MaxUploadBytes: 1 << 20,
				EncoderWorkers: 1, SegmenterWorkers: 1, ShutdownGrace: time.Second, Limits: ffmpeg.DefaultLimits(),
				EncodeMinTimeout: time.Minute, Jobs: queue.DefaultConfig(), Ready: func(string) { started = true },
				Log: slog.New(slog.NewTextHandler(testWriter{T: t}, nil)),
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) || started {
				t.Fatalf("hlsd all with %s: started=%v err=%v; want a start-up error naming %s", tc.name, started, err, tc.want)
			}
		})
	}
}
