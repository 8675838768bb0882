package playlist

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/grafov/m3u8"
)

func TestMedia(t *testing.T) {
	segs := []Segment{{"seg_00000.ts", 6.006, 100}, {"seg_00001.ts", 6.006, 100}, {"seg_00002.ts", 2.4, 40}}
	b, err := Media(segs, 6, Header{})
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

// A CMAF rendition's playlist names its init segment with EXT-X-MAP, which
// needs version 6 (we say 7), and reads back with the map.
func TestMediaWithMap(t *testing.T) {
	segs := []Segment{{"seg_00000.m4s", 2, 100}, {"seg_00001.m4s", 6, 300}}
	for _, write := range []func([]Segment, int, Header) ([]byte, error){Media, Event} {
		b, err := write(segs, 6, Header{Map: "init.mp4"})
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, want := range []string{"#EXT-X-VERSION:7\n", "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n", "#EXTINF:2.000,\nseg_00000.m4s\n"} {
			if !strings.Contains(s, want) {
				t.Errorf("missing %q in\n%s", want, s)
			}
		}
		if strings.Index(s, "#EXT-X-MAP") > strings.Index(s, "#EXTINF") {
			t.Errorf("EXT-X-MAP after the first segment:\n%s", s)
		}
		p, _, err := m3u8.Decode(*bytes.NewBuffer(b), true)
		if err != nil || p.(*m3u8.MediaPlaylist).Map == nil || p.(*m3u8.MediaPlaylist).Map.URI != "init.mp4" {
			t.Errorf("decoded %v, %+v", err, p)
		}
	}
	if _, err := Media(segs, 6, Header{Map: "in\"it.mp4"}); err == nil {
		t.Error("a map URI with a quote was written")
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
	if _, err := Media(nil, 6, Header{}); err == nil {
		t.Fatal("empty playlist accepted")
	}
	if _, err := Media([]Segment{{"a.ts", 0, 1}}, 6, Header{}); err == nil {
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
		{URI: "1080p/index.m3u8", Bandwidth: 6_800_000, AverageBandwidth: 6_100_000, Codecs: "avc1.640028,mp4a.40.2", Width: 1920, Height: 1080, FrameRate: 30},
		{URI: "360p/index.m3u8", Bandwidth: 900_000, AverageBandwidth: 800_000, Codecs: "avc1.64001e,mp4a.40.2", Width: 640, Height: 360, FrameRate: 30},
		{URI: "540p/index.m3u8", Bandwidth: 2_300_000, AverageBandwidth: 2_100_000, Codecs: "avc1.64001f,mp4a.40.2", Width: 960, Height: 540, FrameRate: 30},
		{URI: "720p/index.m3u8", Bandwidth: 3_500_000, AverageBandwidth: 3_100_000, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720, FrameRate: 29.97002997},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"#EXT-X-INDEPENDENT-SEGMENTS\n",
		`BANDWIDTH=2300000,AVERAGE-BANDWIDTH=2100000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=960x540,CLOSED-CAPTIONS=NONE,FRAME-RATE=30.000,VIDEO-RANGE=SDR` + "\n540p/index.m3u8",
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
	b, err := Master([]Variant{{URI: "audio/index.m3u8", Bandwidth: 140_000, AverageBandwidth: 130_000, Codecs: "mp4a.40.2"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "RESOLUTION") || strings.Contains(string(b), "FRAME-RATE") {
		t.Fatalf("audio-only variant has video attributes:\n%s", b)
	}
}

func TestIFrames(t *testing.T) {
	frames := []IFrame{
		{URI: "seg_00000.ts", Offset: 376, Size: 40_000, Duration: 2},
		{URI: "seg_00000.ts", Offset: 300_000, Size: 30_000, Duration: 2},
		{URI: "seg_00001.ts", Offset: 376, Size: 50_000, Duration: 1.5},
	}
	b, err := IFrames(frames, IFrame{URI: "seg_00000.ts", Size: 376})
	if err != nil {
		t.Fatal(err)
	}
	want := `#EXTM3U
#EXT-X-VERSION:5
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="seg_00000.ts",BYTERANGE="376@0"
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-TARGETDURATION:2
#EXT-X-I-FRAMES-ONLY
#EXT-X-BYTERANGE:40000@376
#EXTINF:2.000,
seg_00000.ts
#EXT-X-BYTERANGE:30000@300000
#EXTINF:2.000,
seg_00000.ts
#EXT-X-BYTERANGE:50000@376
#EXTINF:1.500,
seg_00001.ts
#EXT-X-ENDLIST
`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(b), true)
	if err != nil || typ != m3u8.MEDIA || !pl.(*m3u8.MediaPlaylist).Iframe {
		t.Fatalf("does not parse back strictly as an I-frame playlist: %v", err)
	}
	peak, avg := IFrameBandwidth(frames)
	if peak != 266_667 || avg != 174_546 { // ceil(400000/1.5), ceil(960000/5.5)
		t.Errorf("peak %d average %d, want 266667 174546", peak, avg)
	}
	if _, err := IFrames([]IFrame{{URI: "a", Size: 0, Duration: 1}}, IFrame{URI: "a", Size: 376}); err == nil {
		t.Error("an empty I-frame was accepted")
	}
}

// Closed captions in the video: one CLOSED-CAPTIONS rendition, named by
// every video variant; an instream id or name that cannot be written is
// refused.
func TestMasterClosedCaptions(t *testing.T) {
	vs := []Variant{{URI: "360p/index.m3u8", Bandwidth: 900_000, Codecs: "avc1.64001e,mp4a.40.2", Width: 640, Height: 360, FrameRate: 25}}
	b, err := Master(vs, []AudioRendition{{URI: "audio/index.m3u8", Name: "Audio", Channels: 2, Default: true}},
		&Captions{Name: "Closed captions", InstreamID: "CC1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="Closed captions",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"` + "\n",
		`RESOLUTION=640x360,AUDIO="audio",CLOSED-CAPTIONS="cc",FRAME-RATE=25.000`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("master lacks %s:\n%s", want, b)
		}
	}
	if _, _, err := m3u8.Decode(*bytes.NewBuffer(b), true); err != nil {
		t.Errorf("the master does not parse strictly: %v", err)
	}
	for _, bad := range []Captions{{Name: "CC", InstreamID: "CC5"}, {Name: "CC", InstreamID: "SERVICE64"}, {InstreamID: "CC1"}, {Name: `a"b`, InstreamID: "CC1"}} {
		if _, err := Master(vs, nil, &bad); err == nil {
			t.Errorf("captions %+v were written", bad)
		}
	}
}

func TestMasterListsIFrameStreams(t *testing.T) {
	b, err := Master([]Variant{{
		URI: "360p/index.m3u8", Bandwidth: 900_000, AverageBandwidth: 800_000, Codecs: "avc1.64001e,mp4a.40.2",
		Width: 640, Height: 360, FrameRate: 30,
		IFrames: &IFrameVariant{URI: "360p/iframes.m3u8", Bandwidth: 200_000, AverageBandwidth: 150_000, Codecs: "avc1.64001e"},
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `#EXT-X-I-FRAME-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=200000,AVERAGE-BANDWIDTH=150000,CODECS="avc1.64001e",RESOLUTION=640x360,VIDEO-RANGE=SDR,URI="360p/iframes.m3u8"` + "\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("master lacks %s:\n%s", want, b)
	}
}

func TestBandwidthUsesWrittenDurations(t *testing.T) {
	// 6.0004 s is written as 6.000: the peak must be computed from 6.000.
	peak, _ := Bandwidth([]Segment{{URI: "a", Duration: 6.0004, Size: 750_000}})
	if peak != 1_000_000 {
		t.Errorf("peak %d, want 1000000", peak)
	}
}

func TestMediaKeepsTheTargetForShortVideos(t *testing.T) {
	b, err := Media([]Segment{{URI: "seg_00000.ts", Duration: 2.5, Size: 100}}, 6, Header{})
	if err != nil || !strings.Contains(string(b), "#EXT-X-TARGETDURATION:6\n") {
		t.Errorf("a 2.5 s video: %v\n%s", err, b)
	}
	b, err = Media([]Segment{{URI: "seg_00000.ts", Duration: 7.6, Size: 100}}, 6, Header{})
	if err != nil || !strings.Contains(string(b), "#EXT-X-TARGETDURATION:8\n") {
		t.Errorf("a 7.6 s segment must raise the target to 8: %v\n%s", err, b)
	}
}

func TestMediaWithKey(t *testing.T) {
	segs := []Segment{{"seg_00000.ts", 6, 112}, {"seg_00001.ts", 6, 112}, {"seg_00002.ts", 1.5, 32}}
	b, err := Media(segs, 6, Header{Key: &Key{URI: "../key"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// One EXT-X-KEY, before the first segment, without an IV: each segment's
	// IV is its media sequence number, which starts at 0.
	if n := strings.Count(s, "#EXT-X-KEY:"); n != 1 {
		t.Fatalf("%d EXT-X-KEY tags in\n%s", n, s)
	}
	key := strings.Index(s, "#EXT-X-KEY:METHOD=AES-128,URI=\"../key\"\n")
	if key < 0 || key > strings.Index(s, "#EXTINF:") || strings.Contains(s, "IV=") || !strings.Contains(s, "#EXT-X-MEDIA-SEQUENCE:0\n") {
		t.Fatalf("playlist:\n%s", s)
	}
	p, _, err := m3u8.Decode(*bytes.NewBuffer(b), true)
	if err != nil {
		t.Fatal(err)
	}
	mp := p.(*m3u8.MediaPlaylist)
	if mp.Key == nil || mp.Key.Method != "AES-128" || mp.Key.URI != "../key" || mp.Key.IV != "" || mp.Count() != 3 {
		t.Fatalf("decoded key %+v, %d segments", mp.Key, mp.Count())
	}
	for _, bad := range []string{"", `a"b`, "a\nb"} {
		if _, err := Media(segs, 6, Header{Key: &Key{URI: bad}}); err == nil {
			t.Errorf("key URI %q accepted", bad)
		}
	}
}

func TestSegmentIV(t *testing.T) {
	for seq, want := range map[uint64]string{
		0:          "00000000000000000000000000000000",
		1:          "00000000000000000000000000000001",
		0x1234abcd: "0000000000000000000000001234abcd",
		1<<64 - 1:  "0000000000000000ffffffffffffffff",
	} {
		iv := SegmentIV(seq)
		if got := hex.EncodeToString(iv[:]); got != want {
			t.Errorf("SegmentIV(%d) = %s, want %s", seq, got, want)
		}
	}
}

// With an audio group: one EXT-X-MEDIA with CHANNELS, and every variant
// with a picture names the group.
func TestMasterAudioGroup(t *testing.T) {
	b, err := Master([]Variant{
		{URI: "360p/index.m3u8", Bandwidth: 900_000, AverageBandwidth: 800_000, Codecs: "avc1.64001e,mp4a.40.2", Width: 640, Height: 360, FrameRate: 30},
		{URI: "720p/index.m3u8", Bandwidth: 3_500_000, AverageBandwidth: 3_100_000, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720, FrameRate: 30},
	}, []AudioRendition{{URI: "audio/index.m3u8", Name: "Audio", Channels: 2, Default: true, Autoselect: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"` + "\n",
		`RESOLUTION=640x360,AUDIO="audio",CLOSED-CAPTIONS=NONE,FRAME-RATE=30.000,VIDEO-RANGE=SDR` + "\n360p/index.m3u8",
		`RESOLUTION=1280x720,AUDIO="audio",CLOSED-CAPTIONS=NONE,FRAME-RATE=30.000,VIDEO-RANGE=SDR` + "\n720p/index.m3u8",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("master lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "#EXT-X-MEDIA") > strings.Index(s, "#EXT-X-STREAM-INF") {
		t.Errorf("EXT-X-MEDIA after the variants:\n%s", s)
	}
	for _, bad := range [][]AudioRendition{
		{{URI: `a"b`, Name: "Audio", Channels: 2, Default: true}},
		{{URI: "a", Name: "English", Channels: 2, Default: true}, {URI: "b", Name: "English", Channels: 2}},
		{{URI: "a", Name: "English", Channels: 2}, {URI: "b", Name: "Français", Channels: 2}},
		{{URI: "a", Name: "English", Channels: 2, Default: true}, {URI: "b", Name: "Français", Channels: 2, Default: true}},
		{{URI: "a", Name: "", Channels: 2, Default: true}},
	} {
		if _, err := Master([]Variant{{URI: "a", Bandwidth: 1, Codecs: "x"}}, bad, nil); err == nil {
			t.Errorf("a master with the audio group %+v was written", bad)
		}
	}
}

// Several audio tracks: an EXT-X-MEDIA each, in order, with LANGUAGE,
// CHARACTERISTICS and AUTOSELECT as given, and a rendition without URI
// (an audio-only variant's own audio) written without one.
func TestMasterAudioLanguages(t *testing.T) {
	b, err := Master([]Variant{
		{URI: "360p/index.m3u8", Bandwidth: 900_000, Codecs: "avc1.64001e,mp4a.40.2", Width: 640, Height: 360, FrameRate: 25},
	}, []AudioRendition{
		{URI: "audio/index.m3u8", Name: "English", Language: "en", Channels: 2, Default: true, Autoselect: true},
		{URI: "audio-2/index.m3u8", Name: "Français", Language: "fr", Channels: 2, Autoselect: true},
		{URI: "audio-3/index.m3u8", Name: "English (audio description)", Language: "en", Channels: 2, Autoselect: true, Characteristics: "public.accessibility.describes-video"},
		{URI: "audio-4/index.m3u8", Name: "Director's commentary", Language: "en", Channels: 1},
		{Name: "Audio 5", Channels: 2},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="fr",NAME="Français",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio-2/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English (audio description)",DEFAULT=NO,AUTOSELECT=YES,CHARACTERISTICS="public.accessibility.describes-video",CHANNELS="2",URI="audio-3/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="Director's commentary",DEFAULT=NO,AUTOSELECT=NO,CHANNELS="1",URI="audio-4/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio 5",DEFAULT=NO,AUTOSELECT=NO,CHANNELS="2"
`
	if !strings.Contains(string(b), want) {
		t.Errorf("master lacks\n%s\ngot\n%s", want, b)
	}
}

// An EVENT playlist: no ENDLIST, no EXT-X-ALLOW-CACHE; Media closes it.
func TestEventPlaylist(t *testing.T) {
	segs := []Segment{{URI: "seg_00000.ts", Duration: 6, Size: 1000}}
	b, err := Event(segs, 6, Header{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "#EXT-X-PLAYLIST-TYPE:EVENT\n") || strings.Contains(s, "ENDLIST") || strings.Contains(s, "ALLOW-CACHE") {
		t.Errorf("event playlist:\n%s", s)
	}
	if !InProgress(b) {
		t.Error("an EVENT playlist is not in progress")
	}
	b, _ = Media(segs, 6, Header{})
	if InProgress(b) {
		t.Error("a VOD playlist is in progress")
	}
	if s := string(b); !strings.Contains(s, "#EXT-X-PLAYLIST-TYPE:VOD\n") || !strings.HasSuffix(s, "#EXT-X-ENDLIST\n") {
		t.Errorf("VOD playlist:\n%s", s)
	}
}

func TestMasterInProgress(t *testing.T) {
	b, err := Master([]Variant{{URI: "a/index.m3u8", Bandwidth: 1, Codecs: "mp4a.40.2"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if InProgress(b) || !InProgress(MarkInProgress(b)) {
		t.Error("MarkInProgress and InProgress disagree")
	}
	if _, _, err := m3u8.DecodeFrom(bytes.NewReader(MarkInProgress(b)), true); err != nil {
		t.Errorf("a marked master does not parse strictly: %v", err)
	}
}

// The storyboard track of a chunked video: cues back to back from 0, each
// naming its chunk's sheet and its place in it; the last ends with the
// video, and a thumbnail past the end has none.
func TestStoryboardVTT(t *testing.T) {
	got := string(StoryboardVTT([]Sheet{
		{Name: "sprite_0.jpg", First: 0, Count: 3, Columns: 3},
		{Name: "sprite_1.jpg", First: 3, Count: 12, Columns: 10},
	}, 2, 160, 90, 28.5))
	want := "WEBVTT\n" +
		"\n00:00:00.000 --> 00:00:02.000\nsprite_0.jpg#xywh=0,0,160,90\n" +
		"\n00:00:02.000 --> 00:00:04.000\nsprite_0.jpg#xywh=160,0,160,90\n" +
		"\n00:00:04.000 --> 00:00:06.000\nsprite_0.jpg#xywh=320,0,160,90\n" +
		"\n00:00:06.000 --> 00:00:08.000\nsprite_1.jpg#xywh=0,0,160,90\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("track starts\n%s\nwant\n%s", got[:min(len(got), len(want))], want)
	}
	for _, line := range []string{
		"\n00:00:24.000 --> 00:00:26.000\nsprite_1.jpg#xywh=1440,0,160,90\n", // the 10th of its sheet
		"\n00:00:26.000 --> 00:00:28.000\nsprite_1.jpg#xywh=0,90,160,90\n",   // the 11th: the second row
		"\n00:00:28.000 --> 00:00:28.500\nsprite_1.jpg#xywh=160,90,160,90\n", // the last, to the end
	} {
		if !strings.Contains(got, line) {
			t.Errorf("track lacks %q:\n%s", line, got)
		}
	}
	if n := strings.Count(got, " --> "); n != 15 {
		t.Errorf("%d cues, want 15 (0 to 28 s)", n)
	}
}

func TestMasterSubtitles(t *testing.T) {
	vs := []Variant{{URI: "360p/index.m3u8", Bandwidth: 900_000, Codecs: "avc1.64001e,mp4a.40.2", Width: 640, Height: 360, FrameRate: 25}}
	subs := []SubtitleRendition{
		{URI: "subtitles-1/index.m3u8", Name: "English", Language: "en", Autoselect: true},
		{URI: "subtitles-2/index.m3u8", Name: "Français (forced)", Language: "fr", Default: true, Forced: true},
		{URI: "subtitles-3/index.m3u8", Name: "English (SDH)", Language: "en", Characteristics: "public.accessibility.transcribes-spoken-dialog"},
	}
	b, err := Master(vs, []AudioRendition{{URI: "audio/index.m3u8", Name: "Audio", Channels: 2, Default: true}}, nil, subs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-1/index.m3u8"` + "\n",
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr",NAME="Français (forced)",DEFAULT=YES,AUTOSELECT=YES,FORCED=YES,URI="subtitles-2/index.m3u8"` + "\n",
		`NAME="English (SDH)",DEFAULT=NO,AUTOSELECT=NO,FORCED=NO,CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog",URI="subtitles-3/index.m3u8"` + "\n",
		`AUDIO="audio",CLOSED-CAPTIONS=NONE,SUBTITLES="subs"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("master lacks %s:\n%s", want, b)
		}
	}
	if _, _, err := m3u8.Decode(*bytes.NewBuffer(b), true); err != nil {
		t.Errorf("the master does not parse strictly: %v", err)
	}
	for _, bad := range [][]SubtitleRendition{
		{{URI: "a/index.m3u8", Name: "A", Default: true}, {URI: "b/index.m3u8", Name: "B", Default: true}},
		{{URI: "a/index.m3u8", Name: "A"}, {URI: "b/index.m3u8", Name: "A"}},
		{{Name: "A"}},
		{{URI: "a/index.m3u8", Name: `say "A"`}},
	} {
		if _, err := Master(vs, nil, nil, bad...); err == nil {
			t.Errorf("subtitles %+v were written", bad)
		}
	}
}

func TestDurations(t *testing.T) {
	body, err := Media([]Segment{{URI: "a.ts", Duration: 2}, {URI: "b.ts", Duration: 2.002}, {URI: "c.ts", Duration: 1.5}}, 6, Header{})
	if err != nil {
		t.Fatal(err)
	}
	got, target, err := Durations(body)
	if err != nil || len(got) != 3 || got[0] != 2 || got[1] != 2.002 || got[2] != 1.5 || target != 6 {
		t.Errorf("Durations = %v, %d, %v", got, target, err)
	}
	if _, _, err := Durations([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n")); err == nil {
		t.Error("a master playlist gave durations")
	}
}
