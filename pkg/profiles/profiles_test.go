package profiles

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestRepoProfilesAreValid(t *testing.T) {
	if _, err := Load("../../profiles.json"); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	good, err := os.ReadFile("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, field string }{
		{`"segment_duration": 6`, `"segment_duration": 0`, "segment_duration"},
		{`"keyframe_interval": 2`, `"keyframe_interval": 4`, "keyframe_interval"},
		{`"preset": "veryfast"`, `"preset": "warp"`, "video.preset"},
		{`"profile": "high"`, `"profile": "high10"`, "video.profile"},
		{`"kbps": 128`, `"kbps": 5`, "audio.kbps"},
		{`"channels": 2`, `"channels": 6`, "audio.channels"},
		{`"sample_rate": 48000`, `"sample_rate": 48000, "max_tracks": 17`, "audio.max_tracks"},
		{`"sample_rate": 48000`, `"sample_rate": 48000, "max_tracks": -1`, "audio.max_tracks"},
		{`"name": "540p"`, `"name": "audio-2"`, "renditions[3].name"},
		{`"name": "540p"`, `"name": "subtitles-1"`, "renditions[3].name"},
		{`"max_frame_rate": 60`, `"max_frame_rate": 60, "rate_control": "crf"`, "video.rate_control"},
		{`"max_frame_rate": 60`, `"max_frame_rate": 60, "rate_control": "capped-crf", "crf": 60`, "video.crf"},
		{`"max_frame_rate": 60`, `"max_frame_rate": 60, "crf": 20`, "video.crf"},
		{`"name": "540p"`, `"name": "360p"`, "renditions[3].name"},
		{`"name": "540p"`, `"name": "../x"`, "renditions[3].name"},
		{`"height": 720`, `"height": 721`, "renditions[4].height"},
		{`"maxrate_kbps": 2200`, `"maxrate_kbps": 100`, "renditions[3].maxrate_kbps"},
		{`"video_kbps": 6000`, `"video_kbps": 0`, "renditions[5].video_kbps"},
		{`"enabled": true }`, `"enabeld": true }`, "enabeld"},
		{`"encryption": "none"`, `"encryption": "aes-256"`, "encryption"},
		{`"encryption": "none"`, `"encryption": "AES-128"`, "encryption"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			b := strings.Replace(string(good), tc.from, tc.to, 1)
			if b == string(good) {
				t.Fatalf("test input %q not found", tc.from)
			}
			_, err := Parse([]byte(b))
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want an error naming %s", err, tc.field)
			}
		})
	}
	all := strings.ReplaceAll(string(good), `"enabled": true`, `"enabled": false`)
	if _, err := Parse([]byte(all)); err == nil || !strings.Contains(err.Error(), "enabled") {
		t.Fatalf("all disabled: got %v", err)
	}
}

func TestEncryption(t *testing.T) {
	good, err := os.ReadFile("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to string
		want           bool
	}{
		{"shipped file", "", "", false},
		{"absent", `"encryption": "none",`, ``, false},
		{"none", "", "", false},
		{"aes-128", `"encryption": "none"`, `"encryption": "aes-128"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := strings.Replace(string(good), tc.from, tc.to, 1)
			if tc.from != "" && b == string(good) {
				t.Fatalf("test input %q not found", tc.from)
			}
			p, err := Parse([]byte(b))
			if err != nil {
				t.Fatal(err)
			}
			if p.Encrypted() != tc.want {
				t.Fatalf("Encrypted() = %v, want %v", p.Encrypted(), tc.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	p, err := Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	type wh struct {
		name string
		w, h int
	}
	for _, tc := range []struct {
		name string
		w, h int
		want []wh
	}{
		{"1080p source gets every rung", 1920, 1080, []wh{{"234p", 416, 234}, {"360p", 640, 360}, {"432p", 768, 432}, {"540p", 960, 540}, {"720p", 1280, 720}, {"1080p", 1920, 1080}}},
		{"720p source is not upscaled", 1280, 720, []wh{{"234p", 416, 234}, {"360p", 640, 360}, {"432p", 768, 432}, {"540p", 960, 540}, {"720p", 1280, 720}}},
		{"cinemascope keeps its rung", 1280, 536, []wh{{"234p", 416, 174}, {"360p", 640, 268}, {"432p", 768, 322}, {"540p", 960, 402}, {"720p", 1280, 536}}},
		{"portrait", 1080, 1920, []wh{{"234p", 234, 416}, {"360p", 360, 640}, {"432p", 432, 768}, {"540p", 540, 960}, {"720p", 720, 1280}, {"1080p", 1080, 1920}}},
		// Between two rungs: the top rendition at the source's own size.
		{"odd size", 853, 479, []wh{{"234p", 416, 234}, {"360p", 640, 360}, {"432p", 768, 432}, {"852x478", 852, 478}}},
		{"4:3", 640, 480, []wh{{"234p", 312, 234}, {"360p", 480, 360}, {"432p", 576, 432}, {"640x480", 640, 480}}},
		{"webcam 640x360", 640, 360, []wh{{"234p", 416, 234}, {"360p", 640, 360}}},
		{"web 480x270", 480, 270, []wh{{"234p", 416, 234}, {"480x270", 480, 270}}},
		{"camera 768x432", 768, 432, []wh{{"234p", 416, 234}, {"360p", 640, 360}, {"432p", 768, 432}}},
		// Within 10% of a rung: it replaces the rung, but never leaves one alone.
		{"just over 720p", 1282, 722, []wh{{"234p", 416, 234}, {"360p", 640, 360}, {"432p", 768, 432}, {"540p", 960, 540}, {"1282x722", 1282, 722}}},
		{"240 lines", 426, 240, []wh{{"234p", 416, 234}, {"426x240", 426, 240}}},
		{"small 4:3", 320, 240, []wh{{"234p", 312, 234}, {"320x240", 320, 240}}},
		{"tiny source keeps its size", 300, 200, []wh{{"234p", 300, 200}}},
		{"tiny odd source rounds down", 175, 99, []wh{{"234p", 174, 98}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Select(tc.w, tc.h)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rungs %+v, want %v", len(got), got, tc.want)
			}
			for i, g := range got {
				if g.Name != tc.want[i].name || g.Width != tc.want[i].w || g.Height != tc.want[i].h {
					t.Errorf("rung %d = %s %dx%d, want %v", i, g.Name, g.Width, g.Height, tc.want[i])
				}
				if g.Width%2 != 0 || g.Height%2 != 0 || g.Width > max(tc.w, 2) || g.Height > max(tc.h, 2) {
					t.Errorf("rung %d %dx%d is odd or upscaled", i, g.Width, g.Height)
				}
			}
		})
	}
}

// The rendition at the source's own size gets bit rates between its two
// neighbours', by pixel count.
func TestSelectInterpolates(t *testing.T) {
	p, err := Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	got := p.Select(853, 479)
	own, below := got[len(got)-1], got[len(got)-2]
	above := p.Renditions[3] // 540p: 960x540 for this shape (960x539, rounded)
	if below.Name != "432p" || above.Name != "540p" {
		t.Fatalf("neighbours %s and %s, want 432p and 540p", below.Name, above.Name)
	}
	f := float64(852*478-768*432) / float64(960*540-768*432)
	want := int(math.Round(730 + f*(2000-730)))
	if own.VideoKbps != want || own.MaxrateKbps < own.VideoKbps || own.BufsizeKbps <= below.BufsizeKbps || own.BufsizeKbps >= above.BufsizeKbps {
		t.Errorf("852x478: %d/%d/%d kbps, want video %d between 432p's and 540p's", own.VideoKbps, own.MaxrateKbps, own.BufsizeKbps, want)
	}
}

func TestSelectSkipsDisabled(t *testing.T) {
	p, _ := Load("../../profiles.json")
	p.Renditions[1].Enabled = false
	for _, r := range p.Select(1920, 1080) {
		if r.Name == p.Renditions[1].Name {
			t.Fatal("disabled rung selected")
		}
	}
}

func TestRateControl(t *testing.T) {
	good, err := os.ReadFile("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(good)
	if err != nil || p.Video.CappedCRF() {
		t.Fatalf("the shipped profiles: %v, capped CRF %v; want fixed rates by default", err, p.Video.CappedCRF())
	}
	for _, tc := range []struct {
		extra string
		crf   float64
	}{
		{`"rate_control": "capped-crf"`, DefaultCRF},
		{`"rate_control": "capped-crf", "crf": 20.5`, 20.5},
	} {
		p, err := Parse([]byte(strings.Replace(string(good), `"max_frame_rate": 60`, `"max_frame_rate": 60, `+tc.extra, 1)))
		if err != nil || !p.Video.CappedCRF() || p.Video.Quality() != tc.crf {
			t.Errorf("%s: %v, capped %v, CRF %g; want CRF %g", tc.extra, err, p.Video.CappedCRF(), p.Video.Quality(), tc.crf)
		}
	}
}
