package segmenter

import (
	"strconv"
	"strings"
	"testing"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/hlsd/hlsd/pkg/video"
)

func TestSegmentTimeline(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []timeEntry
		want string // t,d,r per S
	}{
		{"the faster start then full segments", []timeEntry{{216000, 180000}, {396000, 180000}, {576000, 180000}, {756000, 540000}, {1296000, 540000}, {1836000, 200000}},
			"216000,180000,2 -,540000,1 -,200000,0"},
		{"a gap starts a new S with its time", []timeEntry{{0, 10}, {10, 10}, {25, 10}}, "0,10,1 25,10,0"},
		{"one segment", []timeEntry{{114176, 97280}}, "114176,97280,0"},
	} {
		var got []string
		for _, s := range segmentTimeline(tc.in).S {
			ts := "-"
			if s.T != nil {
				ts = itoa(*s.T)
			}
			got = append(got, ts+","+itoa(s.D)+","+itoa(uint64(s.R)))
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, g, tc.want)
		}
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestFrameRate(t *testing.T) {
	for in, want := range map[float64]string{25: "25", 30: "30", 29.97: "30000/1001", 59.94: "60000/1001", 23.976: "24000/1001", 12.5: "12500/1000", 0: ""} {
		if got := frameRate(in); got != want {
			t.Errorf("frameRate(%g) = %q, want %q", in, got, want)
		}
	}
}

// The manifest: one period starting at the video's first picture (each
// Representation's presentationTimeOffset is that instant on its clock),
// the video renditions in one AdaptationSet, each audio rendition in its
// own with its language and role.
func TestDASHManifest(t *testing.T) {
	body, err := dashManifest([]dashTrack{
		{video.Rendition{Name: "360p", Codecs: "avc1.64001e", Bandwidth: 500000, Width: 640, Height: 360, FrameRate: 29.97}, 90000,
			[]timeEntry{{216000, 180000}, {396000, 180000}}},
		{video.Rendition{Name: "audio", Codecs: "mp4a.40.2", Bandwidth: 130000, Channels: 2, Language: "en", Label: "English", Default: true}, 48000,
			[]timeEntry{{114176, 97280}, {211456, 98304}}},
		{video.Rendition{Name: "audio-2", Codecs: "mp4a.40.2", Bandwidth: 130000, Channels: 2, Language: "fr", Label: "Français"}, 48000,
			[]timeEntry{{114176, 97280}, {211456, 98304}}},
		{video.Rendition{Name: "360p-hevc", Codecs: "hvc1.2.4.L90.90", Bandwidth: 300000, Width: 640, Height: 360, FrameRate: 29.97, VideoRange: "PQ"}, 90000,
			[]timeEntry{{216000, 180000}, {396000, 180000}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mpd.MPDFromBytes(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if m.GetType() != "static" || m.MediaPresentationDuration == nil || m.MediaPresentationDuration.Seconds() != 4 {
		t.Errorf("type %s, duration %v", m.GetType(), m.MediaPresentationDuration)
	}
	sets := m.Periods[0].AdaptationSets
	if len(sets) != 4 || sets[0].ContentType != "video" || sets[1].Lang != "en" || sets[2].Lang != "fr" || sets[3].Representations[0].Id != "360p-hevc" {
		t.Fatalf("adaptation sets:\n%s", body)
	}
	v, a := sets[0].Representations[0], sets[1].Representations[0]
	if v.Id != "360p" || v.FrameRate != "30000/1001" || *v.SegmentTemplate.PresentationTimeOffset != 216000 || *a.SegmentTemplate.PresentationTimeOffset != 115200 {
		t.Errorf("video %s at %s fps, PTO %d; audio PTO %d:\n%s", v.Id, v.FrameRate, *v.SegmentTemplate.PresentationTimeOffset, *a.SegmentTemplate.PresentationTimeOffset, body)
	}
	// Each codec its own set; HDR says its transfer, as an essential property.
	if len(sets[0].EssentialProperties) != 0 || len(sets[3].EssentialProperties) != 1 || sets[3].EssentialProperties[0].Value != "16" {
		t.Errorf("the SDR H.264 set and the PQ HEVC set should differ by the transfer property:\n%s", body)
	}
	if sets[1].Roles[0].Value != "main" || sets[2].Roles[0].Value != "alternate" {
		t.Errorf("roles %s, %s", sets[1].Roles[0].Value, sets[2].Roles[0].Value)
	}
}
