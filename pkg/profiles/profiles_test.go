package profiles

import (
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
		{`"name": "540p"`, `"name": "360p"`, "renditions[1].name"},
		{`"name": "540p"`, `"name": "../x"`, "renditions[1].name"},
		{`"height": 720`, `"height": 721`, "renditions[2].height"},
		{`"maxrate_kbps": 2200`, `"maxrate_kbps": 100`, "renditions[1].maxrate_kbps"},
		{`"video_kbps": 6000`, `"video_kbps": 0`, "renditions[3].video_kbps"},
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
		{"1080p source gets every rung", 1920, 1080, []wh{{"360p", 640, 360}, {"540p", 960, 540}, {"720p", 1280, 720}, {"1080p", 1920, 1080}}},
		{"720p source is not upscaled", 1280, 720, []wh{{"360p", 640, 360}, {"540p", 960, 540}, {"720p", 1280, 720}}},
		{"cinemascope keeps its rung", 1280, 536, []wh{{"360p", 640, 268}, {"540p", 960, 402}, {"720p", 1280, 536}}},
		{"portrait", 1080, 1920, []wh{{"360p", 360, 640}, {"540p", 540, 960}, {"720p", 720, 1280}, {"1080p", 1080, 1920}}},
		{"odd size", 853, 479, []wh{{"360p", 640, 360}}},
		{"4:3", 640, 480, []wh{{"360p", 480, 360}}},
		{"tiny source keeps its size", 320, 240, []wh{{"360p", 320, 240}}},
		{"tiny odd source rounds down", 175, 99, []wh{{"360p", 174, 98}}},
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

func TestSelectSkipsDisabled(t *testing.T) {
	p, _ := Load("../../profiles.json")
	p.Renditions[1].Enabled = false
	for _, r := range p.Select(1920, 1080) {
		if r.Name == "540p" {
			t.Fatal("disabled rung selected")
		}
	}
}
