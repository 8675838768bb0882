package app_test

import (
	"bytes"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// cmafProfiles writes profiles.json with "container": "cmaf" (and the
// replacements given, old then new, as ultrafastProfiles does) and returns
// its path.
func cmafProfiles(t *testing.T, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	replace = append(replace, `"encryption": "none",`, `"encryption": "none", "container": "cmaf",`)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("profiles.json lacks %s", replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	return testutil.WriteFile(t, t.TempDir(), "profiles.json", []byte(s))
}

// With "container": "cmaf" every rendition is fragmented MP4: an init
// segment named by EXT-X-MAP and .m4s segments holding the very samples
// the TS output would, on the same grid, across chunk joins (the 40 s
// source is two chunks), with an I-frame playlist of keyframe fragments.
// The stream passes every rule of hlsd check (fMP4's too: the init
// segment, tfdt following on, sync samples first) and ffmpeg decodes the
// whole master without a word.
func TestCMAFPlays(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) { c.ProfilesPath = cmafProfiles(t, `"preset": "veryfast"`, `"preset": "superfast"`) })
	src := generate(t, "cmaf.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
		"-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	status, body, _ := upload(t, base+"/upload", src)
	master := strings.TrimSpace(body)
	if status != http.StatusOK || masterURLRe.FindStringSubmatch(master) == nil {
		t.Fatalf("POST /upload = %d %q", status, body)
	}
	p := checkPublishedHLS(t, master, hlsWant{duration: 40, video: true, audio: true})
	for _, r := range append(p.renditions, *p.audio) {
		pl, _ := get(t, r.url)
		for _, want := range []string{"#EXT-X-VERSION:7\n", "#EXT-X-MAP:URI=\"init.mp4\"\n"} {
			if !bytes.Contains(pl, []byte(want)) {
				t.Errorf("%s lacks %q:\n%s", r.url, strings.TrimSpace(want), pl)
			}
		}
		if r.init == "" || len(r.segments) < 7 {
			t.Fatalf("%s: init %q, %d segments", r.url, r.init, len(r.segments))
		}
		for _, u := range append([]string{r.init}, r.segments...) {
			if !strings.HasSuffix(u, ".m4s") && !strings.HasSuffix(u, "/init.mp4") {
				t.Errorf("%s is not a CMAF segment's name", u)
			}
			_, h := get(t, u)
			if ct := h.Get("Content-Type"); ct != "video/mp4" {
				t.Errorf("%s: Content-Type %q, want video/mp4", u, ct)
			}
		}
	}
	// Trick play: each I-frame entry is a keyframe's own fragment, read
	// with the init segment (hlsd check decoded them all above).
	iframes := regexp.MustCompile(`#EXT-X-I-FRAME-STREAM-INF:.*URI="([^"]+)"`).FindAllSubmatch(p.body, -1)
	if len(iframes) != len(p.renditions) {
		t.Fatalf("%d I-frame playlists for %d video variants:\n%s", len(iframes), len(p.renditions), p.body)
	}
	ib, _ := get(t, master[:strings.LastIndex(master, "/")+1]+string(iframes[0][1]))
	if !bytes.Contains(ib, []byte("#EXT-X-MAP:URI=\"init.mp4\"\n")) || bytes.Count(ib, []byte("#EXT-X-BYTERANGE:")) != 20 {
		t.Errorf("the I-frame playlist should map init.mp4 and list 20 keyframes (every 2 s of 40):\n%s", ib)
	}
}
