package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

// With "rate_control": "capped-crf" the renditions hlsd publishes are
// encoded at constant quality (x264 writes its settings into the stream:
// rc=crf, crf=20.0) under 95 % of each rung's rate with a one-second
// buffer, and the stream is held to the same rules as any other.
func TestCappedCRFProfiles(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	const video = `"video": {`
	if !bytes.Contains(b, []byte(video)) {
		t.Fatalf("profiles.json lacks %s", video)
	}
	profiles := filepath.Join(t.TempDir(), "profiles.json")
	if err := os.WriteFile(profiles, bytes.Replace(b, []byte(video), []byte(video+` "rate_control": "capped-crf",`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startAll(t, func(c *app.Config) { c.ProfilesPath = profiles })
	src := generate(t, "talk.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
		"-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	master := uploadForMaster(t, base, src)
	p := checkPublishedHLS(t, master, hlsWant{duration: 7, video: true, audio: true})
	for _, r := range p.renditions {
		if r.height != 360 {
			continue
		}
		seg, _ := get(t, r.segments[0])
		// 360p: 365 kbit/s, so a ceiling of 346 and a buffer of 365.
		for _, want := range []string{" rc=crf ", " crf=20.0 ", " vbv_maxrate=346 ", " vbv_bufsize=365 "} {
			if !bytes.Contains(seg, []byte(want)) {
				t.Errorf("%s: x264's settings lack%s", r.segments[0], want)
			}
		}
		return
	}
	t.Fatalf("no 360p rendition: %+v", p.renditions)
}
