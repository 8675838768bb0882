package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireBrowser skips where Chromium, Node.js or the pinned npm packages
// cannot be had (make test installs them), and returns the Chromium binary.
func requireBrowser(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("Chromium is not installed at %s (make test installs Debian's chromium; set CHROMIUM to use another)", chromium)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("Node.js is not installed (make test installs it with Debian's nodejs package)")
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core")); err != nil {
		t.Skipf("npm packages missing: run `npm ci` in test/browser (make test does)")
	}
	return chromium
}

// TestWebUI uses the web UI as a new user would, in headless Chromium: drop
// a file on the upload page (the connection is cut once mid-upload and the
// upload resumes), watch the bytes reach 100% and the processing progress,
// play and switch quality, delete the video from the library. Screenshots of
// every page, at laptop and phone sizes, are left in test/browser/screenshots.
func TestWebUI(t *testing.T) {
	t.Parallel()
	chromium := requireBrowser(t)
	base := startAll(t)
	// Noise keeps the file large (several 8 MiB tus chunks) while short.
	// Two audio languages, for the audio menu; English subtitles, for the
	// subtitles menu.
	srt := filepath.Join(t.TempDir(), "en.srt")
	if err := os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:05,000\nA holiday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clip := generate(t, "holiday.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30,noise=alls=60:allf=t",
		"-f", "lavfi", "-i", "sine", "-f", "lavfi", "-i", "sine=frequency=880", "-i", srt, "-map", "0", "-map", "1", "-map", "2", "-map", "3",
		"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:s:0", "language=eng",
		"-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-c:a", "aac", "-c:s", "mov_text")
	info, err := os.Stat(clip)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() < 17<<20 {
		t.Fatalf("the clip is %d bytes: too small to span several upload chunks", info.Size())
	}
	shots, err := filepath.Abs(filepath.Join(browserDir, "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "ui.js", base, clip, "holiday.mp4", shots)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.Output()
	t.Logf("UI report: %s", out)
	var r struct {
		OK             bool     `json:"ok"`
		Error          string   `json:"error"`
		Steps          []string `json:"steps"`
		UploadMaxPct   int      `json:"uploadMaxPct"`
		PatchBytes     int64    `json:"patchBytes"`
		Cut            bool     `json:"cut"`
		VideoID        string   `json:"videoID"`
		ProcessingSeen string   `json:"processingSeen"`
		Levels         int      `json:"levels"`
		AudioTracks    []string `json:"audioTracks"`
		SubtitleTracks []string `json:"subtitleTracks"`
		Preview        string   `json:"preview"` // the seek preview's background-image
		Screenshots    []string `json:"screenshots"`
		ConsoleErrors  []string `json:"consoleErrors"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		t.Fatalf("ui.js: %v %v\n%s", err, jerr, out)
	}
	if !r.OK || err != nil {
		t.Fatalf("the UI walk stopped after %v: %s (screenshots in %s)", r.Steps, r.Error, shots)
	}
	if r.UploadMaxPct != 100 {
		t.Errorf("the upload bar reached %d%%, want 100%%", r.UploadMaxPct)
	}
	if !r.Cut || r.PatchBytes != info.Size() {
		t.Errorf("after a cut connection the upload sent %d bytes for a %d-byte file (cut: %v): it must resume, not restart", r.PatchBytes, info.Size(), r.Cut)
	}
	if r.Levels < 1 {
		t.Errorf("the quality selector offered %d levels", r.Levels)
	}
	if !slices.Equal(r.AudioTracks, []string{"English", "Français"}) {
		t.Errorf("the audio menu offered %q, want English and Français", r.AudioTracks)
	}
	if !slices.Equal(r.SubtitleTracks, []string{"Off", "English"}) {
		t.Errorf("the subtitles menu offered %q, want Off and English", r.SubtitleTracks)
	}
	// Hovering the seek bar shows a thumbnail from the storyboard's sheet.
	if !regexp.MustCompile(`^url\("http://[^"]+/streams/[a-z2-7]{24}/sprite_0\.jpg"\)$`).MatchString(r.Preview) {
		t.Errorf("the seek preview shows %q, want a storyboard sheet", r.Preview)
	}
	for _, e := range r.ConsoleErrors {
		// The cut connection is logged by the browser; anything else is a bug.
		if !strings.Contains(e, "ERR_CONNECTION_RESET") && !strings.Contains(e, "net::") {
			t.Errorf("console error: %s", e)
		}
	}
	if len(r.Screenshots) < 12 {
		t.Errorf("%d screenshots written, want 12", len(r.Screenshots))
	}
	t.Logf("screenshots: %s", shots)
	// The delete in the library really removed the video.
	resp, err := http.Get(base + "/api/videos/" + r.VideoID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/videos/%s after the delete = %d, want 404", r.VideoID, resp.StatusCode)
	}
}
