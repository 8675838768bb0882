package segmenter

import (
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/video"
)

// The master of a video with several audio tracks: the default track first
// in the group, every variant's BANDWIDTH counting the largest audio
// rendition; of an audio-only video, the default track as the variant,
// listed in its group without a URI.
func TestMasterWithAudioTracks(t *testing.T) {
	audio := func(name, lang, label string, def bool, bw int) video.Rendition {
		return video.Rendition{Name: name, Language: lang, Label: label, Default: def, Channels: 2, Codecs: "mp4a.40.2", Bandwidth: bw, AverageBandwidth: bw}
	}
	tracks := []video.Rendition{
		audio("audio", "en", "English", false, 130_000),
		audio("audio-2", "fr", "Français", true, 140_000),
		audio("audio-3", "en", "English (commentary)", false, 100_000),
	}
	for _, c := range []struct {
		name       string
		renditions []video.Rendition
		want       []string
	}{
		{"with video", append([]video.Rendition{{Name: "360p", Width: 640, Height: 360, FrameRate: 25, Codecs: "avc1.64001e", Bandwidth: 500_000, AverageBandwidth: 400_000}}, tracks...),
			[]string{
				`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="fr",NAME="Français",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio-2/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English (commentary)",DEFAULT=NO,AUTOSELECT=NO,CHANNELS="2",URI="audio-3/index.m3u8"
`,
				`BANDWIDTH=640000,AVERAGE-BANDWIDTH=540000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,AUDIO="audio",CLOSED-CAPTIONS=NONE`,
			}},
		{"audio only", tracks,
			[]string{
				`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="fr",NAME="Français",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2"` + "\n",
				`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"`,
				`BANDWIDTH=280000,AVERAGE-BANDWIDTH=280000,CODECS="mp4a.40.2",AUDIO="audio"` + "\naudio-2/index.m3u8\n",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := masterPlaylist(video.Video{ID: "v", Renditions: c.renditions}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("master lacks\n%s\ngot\n%s", w, b)
				}
			}
		})
	}
}
