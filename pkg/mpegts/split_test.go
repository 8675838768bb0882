package mpegts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/testutil"
)

// Real media is generated with ffmpeg once per test binary into mediaDir.
var (
	mediaDir   string
	mediaMu    sync.Mutex
	mediaCache = map[string]*mediaEntry{}
)

type mediaEntry struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mpegts-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mediaDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needFFmpeg(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s not on PATH", tool)
		}
	}
}

// media returns the path of an MPEG-TS file made by ffmpeg from args
// (inputs and codec options), generating it on first use.
func media(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	needFFmpeg(tb)
	mediaMu.Lock()
	e := mediaCache[name]
	if e == nil {
		e = &mediaEntry{}
		mediaCache[name] = e
	}
	mediaMu.Unlock()
	e.once.Do(func() {
		e.path = filepath.Join(mediaDir, name+".ts")
		full := slices.Concat([]string{"-v", "error", "-y"}, args, []string{"-f", "mpegts", e.path})
		if out, err := exec.Command("ffmpeg", full...).CombinedOutput(); err != nil {
			e.err = fmt.Errorf("ffmpeg %s: %v\n%s", strings.Join(full, " "), err, out)
		}
	})
	if e.err != nil {
		tb.Fatal(e.err)
	}
	return e.path
}

func videoIn(size, rate string) []string {
	return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=" + rate}
}

var (
	audioIn = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	// Keyframes forced every 2 s, no others.
	x264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "600",
		"-x264-params", "scenecut=0:open_gop=0", "-force_key_frames", "expr:gte(t,n_forced*2)"}
	aac = []string{"-c:a", "aac", "-b:a", "64k"}
)

func avArgs(size, rate, secs string, extra ...string) []string {
	return slices.Concat(videoIn(size, rate), audioIn, []string{"-t", secs}, x264, aac, extra)
}

type probePacket struct {
	PTS   float64
	Key   bool
	Start bool // first packet of a PES (ffprobe reports a byte position)
}

// probePackets lists the packets of one stream ("v" or "a") with ffprobe.
func probePackets(t *testing.T, path, stream string) []probePacket {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", stream,
		"-show_entries", "packet=pts_time,flags,pos", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct {
		Packets []struct {
			PTS   string `json:"pts_time"`
			Flags string `json:"flags"`
			Pos   string `json:"pos"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	pkts := make([]probePacket, 0, len(res.Packets))
	for _, p := range res.Packets {
		pts, err := strconv.ParseFloat(p.PTS, 64)
		if err != nil {
			t.Fatalf("ffprobe pts %q: %v", p.PTS, err)
		}
		pkts = append(pkts, probePacket{pts, strings.HasPrefix(p.Flags, "K"), p.Pos != "" && p.Pos != "N/A"})
	}
	return pkts
}

type probeStream struct {
	CodecType string `json:"codec_type"`
	Profile   string `json:"profile"`
	Level     int    `json:"level"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

func probeStreams(t *testing.T, path string) []probeStream {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries",
		"stream=codec_type,profile,level,width,height", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct{ Streams []probeStream }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res.Streams
}

// referenceCuts applies the grid rule offline to candidate times (relative
// to the first), returning segment durations given the stream end.
func referenceCuts(cands []float64, target, end float64) []float64 {
	cuts := []float64{0}
	k := 1.0
	for {
		b := k * target
		last := cuts[len(cuts)-1]
		lo, hi := math.NaN(), math.NaN()
		for _, c := range cands {
			if c <= last {
				continue
			}
			if c < b {
				lo = c
			} else {
				hi = c
				break
			}
		}
		if math.IsNaN(hi) {
			break
		}
		cut := hi
		if !math.IsNaN(lo) && b-lo < hi-b-1e-7 {
			cut = lo
		}
		cuts = append(cuts, cut)
		k = max(k+1, math.Floor(cut/target+1e-9)+1)
	}
	cuts = append(cuts, end)
	durs := make([]float64, len(cuts)-1)
	for i := range durs {
		durs[i] = cuts[i+1] - cuts[i]
	}
	return durs
}

// expectedDurations derives the expected cuts from ffprobe's view of the
// stream: video keyframes (or audio PES starts) and the end of the stream.
func expectedDurations(t *testing.T, path string, target float64, video bool) []float64 {
	t.Helper()
	stream := "a"
	if video {
		stream = "v"
	}
	pkts := probePackets(t, path, stream)
	var cands, all []float64
	for _, p := range pkts {
		all = append(all, p.PTS)
		if video && p.Key || !video && p.Start {
			cands = append(cands, p.PTS)
		}
	}
	origin := cands[0]
	for i := range cands {
		cands[i] -= origin
	}
	slices.Sort(all)
	var frame float64
	if video {
		// Most common delta between sorted PTS.
		counts := map[int64]int{}
		for i := 1; i < len(all); i++ {
			counts[int64(math.Round((all[i]-all[i-1])*clockRate))]++
		}
		n := 0
		for d, c := range counts {
			if c > n {
				frame, n = float64(d)/clockRate, c
			}
		}
	} else {
		frame = 1024.0 / 48000
	}
	return referenceCuts(cands, target, all[len(all)-1]+frame-origin)
}

var profileIDC = map[string]string{
	"Constrained Baseline": "42", "Baseline": "42", "Main": "4d", "High": "64",
	"High 10": "6e", "High 4:2:2": "7a", "High 4:4:4 Predictive": "f4",
}

// checkInfo compares codec strings and picture size with ffprobe.
func checkInfo(t *testing.T, path string, info Info) {
	t.Helper()
	var sawVideo, sawAudio bool
	for _, s := range probeStreams(t, path) {
		switch s.CodecType {
		case "video":
			sawVideo = true
			want := fmt.Sprintf("avc1.%s", profileIDC[s.Profile])
			if !strings.HasPrefix(info.VideoCodec, want) || !strings.HasSuffix(info.VideoCodec, fmt.Sprintf("%02x", s.Level)) {
				t.Errorf("VideoCodec %q, ffprobe says %s level %d", info.VideoCodec, s.Profile, s.Level)
			}
			if s.Profile == "Constrained Baseline" && info.VideoCodec[7:9] != "c0" {
				t.Errorf("VideoCodec %q lacks constraint_set1 for Constrained Baseline", info.VideoCodec)
			}
			if info.Width != s.Width || info.Height != s.Height {
				t.Errorf("size %dx%d, ffprobe says %dx%d", info.Width, info.Height, s.Width, s.Height)
			}
		case "audio":
			sawAudio = true
			if want := map[string]string{"Main": "mp4a.40.1", "LC": "mp4a.40.2", "LTP": "mp4a.40.4"}[s.Profile]; info.AudioCodec != want {
				t.Errorf("AudioCodec %q, ffprobe says profile %s", info.AudioCodec, s.Profile)
			}
		}
	}
	if !sawVideo && (info.VideoCodec != "" || info.Width != 0) {
		t.Errorf("video info %q %dx%d for a stream without video", info.VideoCodec, info.Width, info.Height)
	}
	if !sawAudio && info.AudioCodec != "" {
		t.Errorf("AudioCodec %q for a stream without audio", info.AudioCodec)
	}
}

// checkWithFFmpeg writes the segments out and has ffprobe/ffmpeg judge them.
func checkWithFFmpeg(t *testing.T, c collected, video bool) {
	t.Helper()
	dir := t.TempDir()
	concat := filepath.Join(dir, "concat.ts")
	for i, data := range c.data {
		name := filepath.Join(dir, fmt.Sprintf("seg%03d.ts", i))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if !video {
			continue
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=pts_time,flags",
			"-select_streams", "v", "-of", "csv=p=0", name).Output()
		if err != nil {
			t.Fatalf("ffprobe segment %d: %v", i, err)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if f := strings.Split(strings.TrimSpace(first), ","); len(f) < 2 || !strings.HasPrefix(f[1], "K") {
			t.Errorf("segment %d: first video packet %q is not a keyframe", i, first)
		}
	}
	if err := os.WriteFile(concat, bytes.Join(c.data, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", concat, "-f", "null", "-").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("decoding the concatenated segments: %v\n%s", err, out)
	}
}

func TestSplitTSMedia(t *testing.T) {
	needFFmpeg(t)
	tests := []struct {
		name   string
		args   []string
		target time.Duration
		want   []float64 // expected durations, besides the ffprobe-derived ones; nil to skip
		video  bool
	}{
		{"av30", avArgs("320x180", "30", "20"), 6 * time.Second, []float64{6, 6, 6, 2}, true},
		{"av30 T2", avArgs("320x180", "30", "20"), 2 * time.Second, []float64{2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, true},
		{"av30 T5", avArgs("320x180", "30", "20"), 5 * time.Second, []float64{6, 4, 6, 4}, true},
		// Keyframes at multiples of 2.002 s; ffmpeg keeps 599 frames.
		{"av2997", avArgs("320x180", "30000/1001", "20"), 6 * time.Second, []float64{6.006, 6.006, 6.006, 599*1.001/30 - 18.018}, true},
		{"video only", slices.Concat(videoIn("320x180", "30"), []string{"-t", "20"}, x264), 6 * time.Second, []float64{6, 6, 6, 2}, true},
		{"audio only", slices.Concat(audioIn, []string{"-t", "20"}, aac), 6 * time.Second, nil, false},
		{"short", avArgs("320x180", "30", "3"), 6 * time.Second, []float64{3}, true},
		// PTS starts at 95443 s, 0.72 s before the 33-bit wrap.
		{"wrap", avArgs("320x180", "30", "20", "-output_ts_offset", "95443", "-muxdelay", "0", "-muxpreload", "0"),
			6 * time.Second, []float64{6, 6, 6, 2}, true},
		// Irregular keyframes: the cut at 5.5 looks back from 7, so 7 and
		// 11 go to the second segment.
		{"lookback", slices.Concat(videoIn("320x180", "30"), audioIn, []string{"-t", "20", "-c:v", "libx264",
			"-preset", "ultrafast", "-g", "600", "-x264-params", "scenecut=0:open_gop=0",
			"-force_key_frames", "0,2.5,5,5.5,7,11,13,17.9"}, aac), 6 * time.Second, []float64{5.5, 7.5, 7}, true},
		// High profile with B-frames: PTS out of decode order.
		{"high bframes", slices.Concat(videoIn("320x180", "30"), audioIn, []string{"-t", "20", "-c:v", "libx264",
			"-preset", "veryfast", "-profile:v", "high", "-g", "600", "-x264-params", "scenecut=0:open_gop=0",
			"-force_key_frames", "expr:gte(t,n_forced*2)"}, aac), 6 * time.Second, []float64{6, 6, 6, 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := media(t, strings.Fields(tt.name)[0], tt.args...)
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := split(t, in, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			ref := expectedDurations(t, path, tt.target.Seconds(), tt.video)
			checkDurations(t, c, ref, 1e-3)
			if tt.want != nil {
				checkDurations(t, c, tt.want, 1e-3)
			}
			for i := range c.segs {
				checkSegment(t, c.segs[i], c.data[i], tt.video)
			}
			checkContinuity(t, c.data)
			checkPassThrough(t, in, c.data)
			_, vpid, _, _, _ := tsPIDs(t, c.data[0])
			checkKeyframes(t, in, c, vpid, tt.video)
			checkInfo(t, path, c.info)
			checkWithFFmpeg(t, c, tt.video)
			if tt.video {
				checkKeyframeTimes(t, path, c)
				checkKeyframesDecode(t, c, firstKeyPTS(t, path))
			}
		})
	}
}

// TestSplitTSWrapsPTS makes sure the wrap test really crosses 2^33.
func TestSplitTSWrapsPTS(t *testing.T) {
	path := media(t, "wrap", avArgs("320x180", "30", "20", "-output_ts_offset", "95443", "-muxdelay", "0", "-muxpreload", "0")...)
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw []int64
	for o := 0; o+PacketSize <= len(in); o += PacketSize {
		p := in[o : o+PacketSize]
		if packetPID(p) != 0x100 || p[1]&0x40 == 0 {
			continue
		}
		var h pesHeader
		h.reset()
		h.feed(packetPayload(p))
		if pts, _, ok, _ := h.timestamps(); h.done && ok {
			raw = append(raw, pts)
		}
	}
	if len(raw) < 2 || raw[0] < ptsWrap-2*clockRate || raw[len(raw)-1] > 30*clockRate {
		t.Fatalf("raw video PTS go from %d to %d; want a wrap past 2^33", raw[0], raw[len(raw)-1])
	}
	c, err := split(t, in, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range c.segs {
		if s.Start < 0 || i > 0 && s.Start <= c.segs[i-1].Start {
			t.Errorf("segment %d Start %v not positive and increasing", i, s.Start)
		}
	}
}

// TestSplitTSRenditionsAlign splits two renditions of the same source and
// expects identical cut times.
func TestSplitTSRenditionsAlign(t *testing.T) {
	needFFmpeg(t)
	var results []collected
	for _, size := range []string{"320x180", "640x360"} {
		in, err := os.ReadFile(media(t, "rendition"+size, avArgs(size, "30000/1001", "25")...))
		if err != nil {
			t.Fatal(err)
		}
		c, err := split(t, in, 6*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, c)
	}
	a, b := results[0], results[1]
	if len(a.segs) != len(b.segs) {
		t.Fatalf("%d vs %d segments", len(a.segs), len(b.segs))
	}
	for i := range a.segs {
		if a.segs[i].Start != b.segs[i].Start || a.segs[i].Duration != b.segs[i].Duration {
			t.Errorf("segment %d: %v+%v vs %v+%v", i, a.segs[i].Start, a.segs[i].Duration, b.segs[i].Start, b.segs[i].Duration)
		}
	}
	if a.info.Width != 320 || b.info.Width != 640 {
		t.Errorf("widths %d and %d", a.info.Width, b.info.Width)
	}
}

// Info.Captions says whether the video carries CEA-608 captions, as
// x264 writes them on from a captioned source.
func TestSplitTSFindsCaptions(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	captioned := testutil.CaptionedH264(t, "cc.mp4", 3, "HI", 1)
	for _, c := range []struct {
		name string
		args []string
		want bool
	}{
		{"copied", []string{"-i", captioned, "-c", "copy"}, true},
		{"encoded again", []string{"-i", captioned, "-c:v", "libx264", "-preset", "ultrafast"}, true},
		{"none", slices.Concat(videoIn("320x180", "30"), []string{"-t", "1", "-c:v", "libx264", "-preset", "ultrafast"}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(testutil.Generate(t, "v.ts", append(c.args, "-f", "mpegts")...))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := SplitTS(f, Options{TargetDuration: 6 * time.Second}, nil)
			if err != nil || info.Captions != c.want {
				t.Fatalf("captions %v (%v), want %v", info.Captions, err, c.want)
			}
		})
	}
}

// TestSplitTSCodecVariants checks SPS parsing against ffprobe on encoder
// settings that exercise its branches.
func TestSplitTSCodecVariants(t *testing.T) {
	needFFmpeg(t)
	enc := func(size string, extra ...string) []string {
		return slices.Concat(videoIn(size, "30"), []string{"-frames:v", "3", "-c:v", "libx264", "-preset", "ultrafast"}, extra)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"hd1080", enc("1920x1080", "-preset", "veryfast")},
		{"yuv444", enc("322x182", "-pix_fmt", "yuv444p")},
		{"yuv422", enc("322x182", "-pix_fmt", "yuv422p")},
		{"10bit", enc("322x182", "-pix_fmt", "yuv420p10le")},
		{"cqm", enc("320x180", "-x264-params", "cqm=jvt")},
		{"interlaced", enc("320x180", "-x264-params", "interlaced=1")},
		{"odd", enc("98x62")},
		{"aac main", slices.Concat(audioIn, []string{"-t", "2", "-c:a", "aac", "-profile:a", "aac_main"})},
		{"aac ltp", slices.Concat(audioIn, []string{"-t", "2", "-c:a", "aac", "-profile:a", "aac_ltp", "-strict", "-2"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			needFFmpeg(t)
			path := filepath.Join(t.TempDir(), "v.ts")
			args := slices.Concat([]string{"-v", "error"}, tt.args, []string{"-f", "mpegts", path})
			if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				if tt.name == "10bit" {
					t.Skipf("this ffmpeg cannot encode %s: %s", tt.name, out)
				}
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := SplitTS(f, Options{TargetDuration: 6 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkInfo(t, path, info)
		})
	}
}

// TestSplitTSBoundedBuffering shows the look-back stays within one segment
// plus one GOP: 6 s segments of ~700 KB with 2 s GOPs fit in 1.2 MB.
func TestSplitTSBoundedBuffering(t *testing.T) {
	f, err := os.Open(media(t, "av30", avArgs("320x180", "30", "20")...))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = SplitTS(f, Options{TargetDuration: 6 * time.Second, MaxSegmentSize: 1200 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSplitTS splits a 36 s 640x360 stream in memory, as cut (plain)
// and with Options.Continuous (every counter renumbered, the last segment
// padded), as the segmenter runs it.
func BenchmarkSplitTS(b *testing.B) {
	in, err := os.ReadFile(media(b, "bench", avArgs("640x360", "30", "36")...))
	if err != nil {
		b.Fatal(err)
	}
	for _, continuous := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "continuous"}[continuous], func(b *testing.B) {
			r := bytes.NewReader(in)
			var segs int
			emit := func(seg Segment, data []byte) error {
				segs++
				return nil
			}
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Reset(in)
				if _, err := SplitTS(io.Reader(r), Options{TargetDuration: 6 * time.Second, Continuous: continuous}, emit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(in))/1e6, "MB/input")
		})
	}
}

// MaxSegments: a chunk planned as N segments comes out as N, the rest of
// the stream joining the last one (audio packets near the end of a chunk
// would otherwise start a sliver of a segment).
func TestSplitTSMaxSegments(t *testing.T) {
	needFFmpeg(t)
	for _, tt := range []struct {
		name string
		args []string
		max  int
		want []float64
	}{
		{"av30", avArgs("320x180", "30", "20"), 2, []float64{6, 14}},
		{"av30", avArgs("320x180", "30", "20"), 1, []float64{20}},
		{"audio", slices.Concat(audioIn, []string{"-t", "6.2"}, aac), 1, nil},
	} {
		t.Run(fmt.Sprintf("%s max %d", tt.name, tt.max), func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(media(t, tt.name, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			var segs []Segment
			_, err = SplitTS(bytes.NewReader(in), Options{TargetDuration: 6 * time.Second, MaxSegments: tt.max}, func(seg Segment, _ []byte) error {
				segs = append(segs, seg)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != tt.max {
				t.Fatalf("%d segments, want %d", len(segs), tt.max)
			}
			for i, w := range tt.want {
				if math.Abs(segs[i].Duration-w) > 1e-3 {
					t.Errorf("segment %d lasts %.3f, want %.3f", i, segs[i].Duration, w)
				}
			}
		})
	}
	if _, err := SplitTS(bytes.NewReader(nil), Options{TargetDuration: time.Second, MaxSegments: -1}, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("MaxSegments -1: %v", err)
	}
	for _, hold := range []int{-1, MaxHold + 1} {
		if _, err := SplitTS(bytes.NewReader(nil), Options{TargetDuration: time.Second, Hold: hold}, nil); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Hold %d: %v", hold, err)
		}
	}
}
