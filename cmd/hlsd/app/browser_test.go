package app_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

// browserDir holds the Node side of the browser test (test/browser).
const browserDir = "../../../test/browser"

// TestPlaysInEveryPlayer plays our output the way viewers will: hls.js,
// Shaka Player and video.js (each with its own HLS parser and MPEG-TS
// transmuxer: hls.js forgives what the others do not) in headless Chromium,
// every level in turn, then a seek to the end; MPEG-TS and CMAF alike. `make test` installs Debian's
// chromium and the pinned npm packages; where they cannot be installed the
// test says so and skips.
func TestPlaysInEveryPlayer(t *testing.T) {
	t.Parallel()
	chromium := requireBrowser(t)
	base := startAll(t)
	// A subtitle shown from 1 s to 7 s: hls.js must show it at 1 s.
	srt := filepath.Join(t.TempDir(), "en.srt")
	if err := os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:07,000\nSubtitle check\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Two audio languages (every player switches between them) and
	// English subtitles (hls.js shows them).
	languages := generate(t, "languages.mkv", "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-f", "lavfi", "-i", "sine=frequency=880", "-i", srt, "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-t", "8",
		"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:s:0", "language=eng",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "copy")
	// Five renditions with audio, at 29.97 fps, in two chunks (one join).
	abr := generate(t, "abr.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30000/1001", "-f", "lavfi", "-i", "sine=sample_rate=44100",
		"-t", "9", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	// The same as CMAF (fragmented MP4) from a second hlsd, whose 234p and
	// 360p rungs are H.264, HEVC and AV1 too: Chromium plays the AV1
	// variants (it has no HEVC decoder; players leave those out).
	cmaf := startAll(t, func(c *app.Config) { c.ProfilesPath = codecProfiles(t) })
	var masters []string
	for _, u := range []struct{ base, clip string }{
		{base, abr},
		// Audio only.
		{base, generate(t, "audio.m4a", "-f", "lavfi", "-i", "sine=frequency=330", "-t", "5", "-c:a", "aac")},
		{base, languages},
		{cmaf, abr},
		{cmaf, languages},
	} {
		status, body, _ := upload(t, u.base+"/upload", u.clip)
		if status != http.StatusOK {
			t.Fatalf("upload %s: %d %s", filepath.Base(u.clip), status, body)
		}
		masters = append(masters, strings.TrimSpace(body))
	}

	// ffmpeg reads each master to the end, every stream, without a complaint,
	// and the conformance suite has nothing to say.
	for _, m := range masters {
		body, _ := get(t, m)
		out, err := decodeMaster(m, body)
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
		// Every player shows the subtitle cue at its time.
		at := cueShift(t, languages, "s:0", 1) // see TestSubtitles
		wantCueShown(t, player, out, "Subtitle check", 1+at, 7+at)
	}

	// Shaka Player plays the CMAF videos' DASH manifests: the same
	// segments, every level, both languages.
	var dash []string
	for _, m := range masters[3:] {
		dash = append(dash, strings.TrimSuffix(m, "master.m3u8")+"manifest.mpd")
	}
	out := playIn(t, chromium, "shaka.html", dash)
	if !strings.Contains(out, "1280x720") || strings.Count(out, `"switched":[`) != len(dash) {
		t.Errorf("Shaka's DASH report lacks the level switches")
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

// cueRe is the first cue play.js saw shown: cue={"text":…,"start":…,"end":…}.
var cueRe = regexp.MustCompile(`cue=(\{[^}]*\})`)

// wantCueShown finds in a play.js report the cue text shown from start to
// end on the video's clock: on the media's clock less the start of what it
// buffered (hls.js starts its clock at the first decoding time, two frames
// before the first picture). Within 30 ms: a frame of the 25 fps picture.
func wantCueShown(t *testing.T, player, report, text string, start, end float64) {
	t.Helper()
	var m []string
	for _, line := range strings.Split(report, "\n") {
		var r struct{ Note string }
		if json.Unmarshal([]byte(line), &r) == nil {
			if m = cueRe.FindStringSubmatch(r.Note); m != nil {
				break
			}
		}
	}
	if m == nil {
		t.Fatalf("%s: the report shows no subtitle cue", player)
	}
	var cue struct {
		Text               string
		Start, End, Origin float64
		Fatal              string
	}
	err := json.Unmarshal([]byte(m[1]), &cue)
	if err != nil || cue.Text != text || math.Abs(cue.Start-cue.Origin-start) > 0.03 || math.Abs(cue.End-cue.Origin-end) > 0.03 {
		t.Errorf("%s: cue shown %s (%v), want %q from %g s to %g s of the video", player, m[1], err, text, start, end)
	}
}
