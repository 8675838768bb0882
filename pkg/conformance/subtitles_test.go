package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/conformance"
)

// TestSubtitleRules adds a WebVTT subtitle rendition to FFmpeg's HLS output
// (8 s, segments of 2 s) and spoils it in each way the rules look for.
func TestSubtitleRules(t *testing.T) {
	t.Parallel()
	const header = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n"
	good := []string{header + "\n00:00:00.500 --> 00:00:01.500\nOne\n", header, header + "\n00:00:04.500 --> 00:00:05.000\nThree\n", header}
	for _, c := range []struct {
		name  string
		segs  []string
		fires []string
	}{
		{"correct", good, nil},
		{"no WEBVTT header", []string{"00:00:00.500 --> 00:00:01.500\nOne\n", header, header, header}, []string{"webvtt-segments"}},
		{"no X-TIMESTAMP-MAP", []string{"WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nOne\n", header, header, header}, []string{"webvtt-segments"}},
		{"a cue outside its segment", []string{header + "\n00:00:05.000 --> 00:00:06.000\nLate\n", header, header, header}, []string{"webvtt-segments"}},
		{"shorter than the video", good[:1], []string{"subtitle-duration"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := ffmpegHLS(t)
			if err := os.Mkdir(filepath.Join(dir, "subs"), 0o755); err != nil {
				t.Fatal(err)
			}
			pl := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n"
			for i, body := range c.segs {
				name := fmt.Sprintf("s%d.vtt", i)
				if err := os.WriteFile(filepath.Join(dir, "subs", name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				pl += "#EXTINF:2.000,\n" + name + "\n"
			}
			if err := os.WriteFile(filepath.Join(dir, "subs", "index.m3u8"), []byte(pl+"#EXT-X-ENDLIST\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			edit(t, dir, "master.m3u8", "#EXT-X-STREAM-INF:", `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,URI="subs/index.m3u8"`+
				"\n"+`#EXT-X-STREAM-INF:SUBTITLES="subs",`)
			r := check(t, serve(t, dir, true)+"/master.m3u8", conformance.Options{TargetDuration: 2})
			for _, rule := range []string{"webvtt-segments", "subtitle-duration"} {
				want := slices.Contains(c.fires, rule)
				if got := slices.Contains(rules(r.Findings), rule); got != want {
					t.Errorf("%s fired: %v, want %v; findings: %v", rule, got, want, r.Findings)
				}
			}
			for _, f := range r.Findings {
				if f.Rule.ID == "rendition-default" && strings.Contains(f.URI, "SUBTITLES") {
					t.Errorf("a subtitles group without a default is right: %v", f)
				}
			}
		})
	}
}
