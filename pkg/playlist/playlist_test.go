package playlist

import (
	"bytes"
	"strings"
	"testing"

	"github.com/grafov/m3u8"
)

func TestMedia(t *testing.T) {
	segs := []Segment{{"seg_00000.ts", 6.006, 100}, {"seg_00001.ts", 6.006, 100}, {"seg_00002.ts", 2.4, 40}}
	b, err := Media(segs)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"#EXTM3U\n", "#EXT-X-VERSION:3\n", "#EXT-X-PLAYLIST-TYPE:VOD\n", "#EXT-X-TARGETDURATION:6\n",
		"#EXT-X-INDEPENDENT-SEGMENTS\n", "#EXT-X-MEDIA-SEQUENCE:0\n", "#EXTINF:6.006,\nseg_00000.ts\n", "#EXTINF:2.400,\nseg_00002.ts\n", "#EXT-X-ENDLIST\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	// A strict parser reads it back with the same segments.
	p, typ, err := m3u8.Decode(*bytes.NewBuffer(b), true)
	if err != nil || typ != m3u8.MEDIA {
		t.Fatalf("decode: %v %v", err, typ)
	}
	mp := p.(*m3u8.MediaPlaylist)
	if mp.Count() != 3 || !mp.Closed || mp.MediaType != m3u8.VOD {
		t.Fatalf("decoded %d segments closed=%v type=%v", mp.Count(), mp.Closed, mp.MediaType)
	}
}

func TestTargetDurationRounds(t *testing.T) {
	for _, tc := range []struct {
		durs []float64
		want int
	}{{[]float64{6.006, 6.006}, 6}, {[]float64{6.5, 1}, 7}, {[]float64{6.49}, 6}, {[]float64{0.3}, 1}, {[]float64{2, 9.7, 3}, 10}} {
		var segs []Segment
		for _, d := range tc.durs {
			segs = append(segs, Segment{Duration: d})
		}
		if got := TargetDuration(segs); got != tc.want {
			t.Errorf("TargetDuration(%v) = %d, want %d", tc.durs, got, tc.want)
		}
	}
}

func TestMediaRejectsEmpty(t *testing.T) {
	if _, err := Media(nil); err == nil {
		t.Fatal("empty playlist accepted")
	}
	if _, err := Media([]Segment{{"a.ts", 0, 1}}); err == nil {
		t.Fatal("zero-length segment accepted")
	}
}

func TestBandwidth(t *testing.T) {
	peak, avg := Bandwidth([]Segment{{"", 6, 750_000}, {"", 6, 1_500_000}, {"", 3, 375_000}})
	if peak != 2_000_000 || avg != 1_400_000 {
		t.Fatalf("peak %d avg %d", peak, avg)
	}
}

func TestMaster(t *testing.T) {
	b, err := Master([]Variant{
		{"1080p/index.m3u8", 6_800_000, 6_100_000, "avc1.640028,mp4a.40.2", 1920, 1080, 30},
		{"360p/index.m3u8", 900_000, 800_000, "avc1.64001e,mp4a.40.2", 640, 360, 30},
		{"540p/index.m3u8", 2_300_000, 2_100_000, "avc1.64001f,mp4a.40.2", 960, 540, 30},
		{"720p/index.m3u8", 3_500_000, 3_100_000, "avc1.64001f,mp4a.40.2", 1280, 720, 29.97002997},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"#EXT-X-INDEPENDENT-SEGMENTS\n",
		`BANDWIDTH=2300000,AVERAGE-BANDWIDTH=2100000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=960x540,FRAME-RATE=30.000` + "\n540p/index.m3u8",
		"FRAME-RATE=29.970"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	// Start variant first, then ascending.
	order := []string{"540p", "360p", "720p", "1080p"}
	last := -1
	for _, o := range order {
		i := strings.Index(s, o+"/index.m3u8")
		if i < last {
			t.Fatalf("variant order wrong, want %v:\n%s", order, s)
		}
		last = i
	}
	p, typ, err := m3u8.Decode(*bytes.NewBuffer(b), true)
	if err != nil || typ != m3u8.MASTER || len(p.(*m3u8.MasterPlaylist).Variants) != 4 {
		t.Fatalf("decode: %v %v", err, typ)
	}
}

func TestMasterAudioOnly(t *testing.T) {
	b, err := Master([]Variant{{URI: "audio/index.m3u8", Bandwidth: 140_000, AverageBandwidth: 130_000, Codecs: "mp4a.40.2"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "RESOLUTION") || strings.Contains(string(b), "FRAME-RATE") {
		t.Fatalf("audio-only variant has video attributes:\n%s", b)
	}
}
