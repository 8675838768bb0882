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
const browserDir = "../../../test/browser"

// TestPlaysInEveryPlayer plays our output the way viewers will: hls.js,
// Shaka Player and video.js (each with its own HLS parser and MPEG-TS
// transmuxer: hls.js forgives what the others do not) in headless Chromium,
// every level in turn, then a seek to the end. `make test` installs Debian's
// chromium and the pinned npm packages; where they cannot be installed the
// test says so and skips.
func TestPlaysInEveryPlayer(t *testing.T) {
	t.Parallel()
	chromium := requireBrowser(t)
	base := startAll(t)
	var masters []string
	for _, clip := range []string{
		// Five renditions with audio, at 29.97 fps, in two chunks (one join).
		generate(t, "abr.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30000/1001", "-f", "lavfi", "-i", "sine=sample_rate=44100",
			"-t", "9", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"),
		// Audio only.
		generate(t, "audio.m4a", "-f", "lavfi", "-i", "sine=frequency=330", "-t", "5", "-c:a", "aac"),
		// Two audio languages: every player switches between them.
		generate(t, "languages.mkv", "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
			"-f", "lavfi", "-i", "sine=frequency=880", "-map", "0", "-map", "1", "-map", "2", "-t", "8",
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"),
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
		out, err := exec.Command("ffmpeg", "-v", "warning", "-i", m, "-map", "0", "-f", "null", "-").CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("ffmpeg reading %s to the end: %v\n%s", m, err, out)
		}
		assertConformant(t, m)
	}

	for _, player := range []string{"page.html", "shaka.html", "videojs.html"} {
		out := playIn(t, chromium, player, masters)
		if !strings.Contains(out, `"switched":[`) || !strings.Contains(out, "1280x720") {
			t.Fatalf("%s: the report lacks the level switches", player)
		}
		// hls.js and video.js list the audio tracks apart from the levels:
		// both languages were played.
		if player != "shaka.html" && !strings.Contains(out, "audio0 audio1 ") {
			t.Errorf("%s: the report lacks the switch to each audio language", player)
		}
	}
}

// playInHLSJS plays each master with hls.js; see playIn.
func playInHLSJS(t *testing.T, chromium string, masters []string) string {
	return playIn(t, chromium, "page.html", masters)
}

// playIn plays each master in headless Chromium with the player of a page
// of test/browser (page.html: hls.js; shaka.html; videojs.html), through
// play.js: several seconds, every level, a seek to the end. It fails the
// test on any fatal player or media error, and returns the report.
func playIn(t *testing.T, chromium, player string, masters []string) string {
	t.Helper()
	page := httptest.NewServer(http.FileServer(http.Dir(browserDir)))
	defer page.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"play.js", page.URL + "/" + player}, masters...)...)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("%s report:\n%s", player, out)
	if err != nil {
		t.Fatalf("%s did not play everything: %v", player, err)
	}
	if n := strings.Count(string(out), `"ok":true`); n != len(masters) {
		t.Fatalf("%d of %d streams played", n, len(masters))
	}
	return string(out)
}
