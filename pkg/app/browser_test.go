package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browserDir holds the Node side of the browser test (test/browser).
const browserDir = "../../test/browser"

// TestPlaysInHLSJS plays our output the way viewers will: hls.js in headless
// Chromium, every level in turn, then a seek to the end. `make test` installs
// Debian's chromium and the pinned npm packages; where they cannot be
// installed the test says so and skips.
func TestPlaysInHLSJS(t *testing.T) {
	t.Parallel()
	chromium := requireBrowser(t)
	base := startAll(t)
	var masters []string
	for _, clip := range []string{
		// Three renditions with audio, at 29.97 fps.
		generate(t, "abr.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30000/1001", "-f", "lavfi", "-i", "sine=sample_rate=44100",
			"-t", "9", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"),
		// Audio only.
		generate(t, "audio.m4a", "-f", "lavfi", "-i", "sine=frequency=330", "-t", "5", "-c:a", "aac"),
	} {
		status, body, _ := upload(t, base+"/upload", clip)
		if status != http.StatusOK {
			t.Fatalf("upload %s: %d %s", filepath.Base(clip), status, body)
		}
		masters = append(masters, strings.TrimSpace(body))
	}

	// ffmpeg reads each master to the end, every stream, without a complaint,
	// and the conformance suite has nothing to say.
	for _, m := range masters {
		out, err := exec.Command("ffmpeg", "-v", "error", "-i", m, "-map", "0", "-f", "null", "-").CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("ffmpeg reading %s to the end: %v\n%s", m, err, out)
		}
		assertConformant(t, m)
	}

	out := playInHLSJS(t, chromium, masters)
	if !strings.Contains(out, `"switched":[`) || !strings.Contains(out, "1280x720") {
		t.Fatal("the report lacks the level switches")
	}
}

// playInHLSJS plays each master with hls.js in headless Chromium
// (test/browser/play.js): several seconds, every level, a seek to the end.
// It fails the test on any fatal hls.js or media error, and returns the
// report.
func playInHLSJS(t *testing.T, chromium string, masters []string) string {
	t.Helper()
	page := httptest.NewServer(http.FileServer(http.Dir(browserDir)))
	defer page.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"play.js", page.URL + "/page.html"}, masters...)...)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("hls.js report:\n%s", out)
	if err != nil {
		t.Fatalf("hls.js did not play everything: %v", err)
	}
	if n := strings.Count(string(out), `"ok":true`); n != len(masters) {
		t.Fatalf("%d of %d streams played", n, len(masters))
	}
	return string(out)
}
