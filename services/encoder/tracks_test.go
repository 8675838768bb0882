package encoder

import (
	"testing"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/video"
)

func TestBCP47(t *testing.T) {
	for in, want := range map[string]string{
		"eng": "en", "fre": "fr", "fra": "fr", "ger": "de", "jpn": "ja", "chi": "zh", "pt-BR": "pt-BR", "es-419": "es-419",
		"EN": "en", "en_US": "en-US",
		"": "", "und": "", "mul": "", "zxx": "", "mis": "", "qaa": "", "xyz": "", "not a tag": "", "e\"n": "",
	} {
		if got := bcp47(in); got != want {
			t.Errorf("bcp47(%q) = %q, want %q", in, got, want)
		}
	}
}

// The audio group's renditions: names, languages and labels from the
// tracks, the default as the file marks it, labels unique and quotable.
func TestAudioRenditions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tracks []ffmpeg.AudioStream
		want   []video.Rendition
	}{
		{"one untagged track", []ffmpeg.AudioStream{{}},
			[]video.Rendition{{Name: "audio", Label: "Audio", Default: true}}},
		{"languages, the second marked default", []ffmpeg.AudioStream{{Language: "eng"}, {Language: "fre", Default: true}, {Language: "ger", Default: true}},
			[]video.Rendition{
				{Name: "audio", Language: "en", Label: "English"},
				{Name: "audio-2", Language: "fr", Label: "Français", Default: true},
				{Name: "audio-3", Language: "de", Label: "Deutsch"},
			}},
		{"titles, description, commentary, same language twice", []ffmpeg.AudioStream{
			{Language: "eng", Default: true}, {Language: "eng", Described: true}, {Language: "eng", Comment: true},
			{Language: "eng"}, {Title: "  Director's \"cut\"\x01 mix  "}, {}},
			[]video.Rendition{
				{Name: "audio", Language: "en", Label: "English", Default: true},
				{Name: "audio-2", Language: "en", Label: "English (audio description)", Characteristics: describesVideo},
				{Name: "audio-3", Language: "en", Label: "English (commentary)"},
				{Name: "audio-4", Language: "en", Label: "English 2"},
				{Name: "audio-5", Label: "Director's 'cut' mix"},
				{Name: "audio-6", Label: "Audio 6"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := audioRenditions(tc.tracks)
			if len(got) != len(tc.want) {
				t.Fatalf("%d renditions, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Name != w.Name || g.Language != w.Language || g.Label != w.Label || g.Default != w.Default || g.Characteristics != w.Characteristics {
					t.Errorf("rendition %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
