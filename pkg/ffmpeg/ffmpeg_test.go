package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
)

func needFFmpeg(t *testing.T) { testutil.RequireTools(t, "ffmpeg", "ffprobe") }

var generate = testutil.Generate

func TestProbe(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		file       string
		args       []string
		wantVideo  bool
		wantAudio  bool
		w, h       int
		fps        float64
		wantFormat string
	}{
		{"mp4 with audio", "a.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30000/1001", "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "1", "-c:v", "libx264", "-c:a", "aac"}, true, true, 320, 180, 29.97, "mov"},
		{"webm vp8 vorbis", "a.webm", []string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-f", "lavfi", "-i", "sine", "-t", "1", "-c:v", "libvpx", "-c:a", "libvorbis"}, true, true, 160, 120, 10, "matroska"},
		{"anamorphic", "b.mkv", []string{"-f", "lavfi", "-i", "testsrc2=size=360x240:rate=25", "-t", "1", "-c:v", "libx264", "-aspect", "16:9"}, true, false, 427, 240, 25, "matroska"},
		// ffmpeg 5.1 writes a display matrix for rotate= only when stream copying.
		{"rotated", "r.mp4", []string{"-i", generate(t, "unrotated.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "1", "-c:v", "libx264"), "-c", "copy", "-metadata:s:v", "rotate=90"}, true, false, 180, 320, 25, "mov"},
		{"audio only", "a.m4a", []string{"-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac"}, false, true, 0, 0, 0, "mov"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := generate(t, tc.file, tc.args...)
			src, err := Probe(ctx, p, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if (src.Video != nil) != tc.wantVideo || (src.Audio() != nil) != tc.wantAudio || src.Format != tc.wantFormat {
				t.Fatalf("got %+v video=%v audio=%v", src, src.Video, src.Audio())
			}
			if v := src.Video; v != nil {
				if v.DisplayWidth != tc.w || v.DisplayHeight != tc.h || (v.FrameRate-tc.fps > 0.01 || tc.fps-v.FrameRate > 0.01) {
					t.Fatalf("video %+v, want %dx%d at %g", v, tc.w, tc.h, tc.fps)
				}
			}
			if src.Duration < 0.9 || src.Duration > 1.2 {
				t.Fatalf("duration %g", src.Duration)
			}
		})
	}
}

// Every audio track is listed, in file order, with its language tag,
// title and disposition, as Matroska and MP4 carry them.
func TestProbeAudioTracks(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	tracks := []string{"-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440", "-f", "lavfi", "-i", "sine=frequency=660", "-f", "lavfi", "-i", "sine=frequency=880",
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-t", "1", "-c:v", "libx264", "-c:a", "aac",
		"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:a:2", "language=eng",
		"-metadata:s:a:2", "title=Described", "-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "visual_impaired"}
	for _, tc := range []struct {
		name, file string
		want       []AudioStream
	}{
		{"mkv", "a.mkv", []AudioStream{
			{Index: 1, Codec: "aac", Language: "eng", Default: true},
			{Index: 2, Codec: "aac", Language: "fre"},
			{Index: 3, Codec: "aac", Language: "eng", Title: "Described", Described: true},
		}},
		// ffmpeg's MP4 muxer keeps no track title (only a handler name).
		{"mp4", "a.mp4", []AudioStream{
			{Index: 1, Codec: "aac", Language: "eng", Default: true},
			{Index: 2, Codec: "aac", Language: "fre"},
			{Index: 3, Codec: "aac", Language: "eng", Described: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, err := Probe(context.Background(), generate(t, tc.file, tracks...), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if len(src.Audios) != len(tc.want) || src.Audio() == nil || src.Audio().Index != src.Audios[0].Index {
				t.Fatalf("audio %+v, tracks %+v; want %d tracks, the first as Audio", src.Audio(), src.Audios, len(tc.want))
			}
			for i, w := range tc.want {
				a := src.Audios[i]
				a.Channels, a.SampleRate = 0, 0
				if a != w {
					t.Errorf("track %d: %+v, want %+v", i, a, w)
				}
			}
		})
	}
}

// HasCaptions finds CEA-608 captions in a source's first frames, which
// ffprobe's closed_captions field does not; KeepsCaptions says whether
// the renditions can carry them (only at the source's own frame rate).
func TestCaptions(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		file string
		want bool
	}{
		{"captioned", testutil.CaptionedH264(t, "cc.mp4", 2, "HI", 0.5), true},
		{"plain", generate(t, "plain.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast"), false},
	} {
		src, err := Probe(ctx, tc.file, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := HasCaptions(ctx, tc.file, src, time.Minute); got != tc.want || err != nil {
			t.Errorf("%s: HasCaptions = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		v    VideoStream
		max  float64
		want bool
	}{
		{VideoStream{FrameRate: 30, FieldOrder: "progressive"}, 60, true},
		{VideoStream{FrameRate: 29.97002997, FieldOrder: "progressive"}, 60, true},
		{VideoStream{FrameRate: 25, FieldOrder: "tt"}, 60, false}, // 50 fields: 50p
		{VideoStream{FrameRate: 25, FieldOrder: "progressive", Combed: "tff"}, 60, false},
		{VideoStream{FrameRate: 30, FieldOrder: "tt"}, 30, true},           // not at field rate: one frame per frame
		{VideoStream{FrameRate: 60, FieldOrder: "progressive"}, 30, false}, // capped
		{VideoStream{FrameRate: 27, FieldOrder: "progressive"}, 60, false}, // snapped to 25
	} {
		if got := KeepsCaptions(&tc.v, tc.max); got != tc.want {
			t.Errorf("KeepsCaptions(%+v, max %g) = %v, want %v", tc.v, tc.max, got, tc.want)
		}
	}
}

func TestProbeRejects(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string { return testutil.WriteFile(t, dir, name, []byte(body)) }
	subtitleOnly := generate(t, "subs.mkv", "-f", "lavfi", "-i", "sine", "-t", "1", "-f", "srt", "-i", write("s.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n"), "-map", "1", "-c:s", "srt")
	for _, tc := range []struct {
		name, path, code string
		lim              Limits
	}{
		{"text", write("notes.mp4", "hello, this is not a video"), video.CodeUnsupported, DefaultLimits()},
		{"empty", write("empty.mp4", ""), video.CodeUnsupported, DefaultLimits()},
		{"hls playlist in disguise", write("evil.avi", "#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n"), video.CodeUnsupported, DefaultLimits()},
		{"concat list in disguise", write("evil2.bin", "ffconcat version 1.0\nfile /etc/passwd\n"), video.CodeUnsupported, DefaultLimits()},
		{"subtitles only", subtitleOnly, video.CodeNoMedia, DefaultLimits()},
		{"too long", generate(t, "long.mp4", "-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "aac"), video.CodeLimitExceeded, Limits{MaxDuration: 2 * time.Second}},
		{"too wide", generate(t, "wide.mp4", "-f", "lavfi", "-i", "color=size=640x64", "-t", "0.2", "-c:v", "libx264"), video.CodeLimitExceeded, Limits{MaxWidth: 320, MaxHeight: 320}},
		{"too many pixels", generate(t, "pixels.mp4", "-f", "lavfi", "-i", "color=size=640x480", "-t", "0.2", "-c:v", "libx264"), video.CodeLimitExceeded, Limits{MaxPixels: 640*480 - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Probe(context.Background(), tc.path, tc.lim)
			var pe *ProbeError
			if !errors.As(err, &pe) || pe.Code != tc.code || pe.Reason == "" {
				t.Fatalf("got %v, want ProbeError %s", err, tc.code)
			}
		})
	}
}

func TestEncodeAlignsKeyframes(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	src := generate(t, "src.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30000/1001", "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "7", "-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	if b, _ := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=channels", "-select_streams", "a", "-of", "csv=p=0", src).Output(); strings.TrimSpace(string(b)) != "6" {
		t.Fatalf("test source has %q channels, want 6", b)
	}
	probe, err := Probe(context.Background(), src, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	prof.Video.Preset = "ultrafast"
	dir := t.TempDir()
	outs := []Output{
		{Name: "a", Width: 320, Height: 180, VideoKbps: 300, MaxrateKbps: 330, BufsizeKbps: 600, Path: filepath.Join(dir, "a.ts")},
		{Name: "b", Width: 640, Height: 360, VideoKbps: 800, MaxrateKbps: 880, BufsizeKbps: 1600, Path: filepath.Join(dir, "b.ts")},
	}
	var last float64
	err = Encode(context.Background(), EncodeSpec{Input: src, Source: probe, Outputs: outs, Profiles: prof, Progress: func(f float64) { last = f }})
	if err != nil {
		t.Fatal(err)
	}
	if last < 0.9 {
		t.Errorf("progress ended at %g", last)
	}
	var keys [][]string
	for _, o := range outs {
		b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", o.Path).Output()
		if err != nil {
			t.Fatal(err)
		}
		var k []string
		var first float64 = -1
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Split(line, ",")
			if len(f) >= 2 && strings.HasPrefix(f[1], "K") {
				pts, _ := strconv.ParseFloat(f[0], 64)
				if first < 0 {
					first = pts
				}
				k = append(k, strconv.FormatFloat(pts-first, 'f', 3, 64))
			}
		}
		keys = append(keys, k)
		a, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_name,profile,channels,sample_rate", "-of", "csv=p=0", o.Path).Output()
		if first, _, _ := strings.Cut(strings.TrimSpace(string(a)), "\n"); err != nil || strings.TrimRight(first, ",") != "aac,LC,48000,2" {
			t.Errorf("audio of %s = %q (%v), want AAC-LC stereo 48 kHz", o.Name, a, err)
		}
	}
	want := "0.000 2.002 4.004 6.006"
	for i, k := range keys {
		if got := strings.Join(k, " "); got != want {
			t.Errorf("rendition %d keyframes at %s, want %s", i, got, want)
		}
	}
}

func TestEncodeTimeout(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	src := generate(t, "src.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "30", "-c:v", "libx264", "-preset", "ultrafast")
	probe, err := Probe(context.Background(), src, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profiles.Load("../../profiles.json")
	prof.Video.Preset = "veryslow"
	err = Encode(context.Background(), EncodeSpec{Input: src, Source: probe, Profiles: prof, Timeout: 200 * time.Millisecond,
		Outputs: []Output{{Name: "a", Width: 320, Height: 180, VideoKbps: 300, MaxrateKbps: 300, BufsizeKbps: 600, Path: filepath.Join(t.TempDir(), "a.ts")}}})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
}

// Renditions say they are limited range, with the matrix that goes with it,
// also when the source does not: x264 writes no range without a colour
// description, so an untagged full-range (yuvj420p) source used to give
// untagged output that players had to guess about.
func TestEncodeSignalsColour(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	prof.Video.Preset = "ultrafast"
	for _, tc := range []struct {
		name    string
		args    []string
		wantSrc string // pix_fmt/color_range/color_space of the source
		wantOut string
	}{
		{"untagged full range", []string{"-pix_fmt", "yuvj420p"}, "yuvj420p/pc/", "yuv420p/tv/bt709"},
		{"tagged BT.709 limited range", []string{"-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_range", "tv"}, "yuv420p/tv/bt709", "yuv420p/tv/bt709"},
		// BT.601 (SD) is converted to BT.709, what every rendition is.
		{"tagged BT.601", []string{"-pix_fmt", "yuv420p", "-colorspace", "smpte170m", "-color_range", "tv"}, "yuv420p/tv/smpte170m", "yuv420p/tv/bt709"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := generate(t, "src.mp4", append([]string{"-f", "lavfi", "-i", "color=black:size=320x180:rate=25",
				"-vf", "drawbox=x=0:y=0:w=160:h=90:color=white:t=fill", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast"}, tc.args...)...)
			if got := colourOf(t, src); got != tc.wantSrc {
				t.Fatalf("test source is %s, want %s", got, tc.wantSrc)
			}
			probe, err := Probe(context.Background(), src, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "a.ts")
			err = Encode(context.Background(), EncodeSpec{Input: src, Source: probe, Profiles: prof,
				Outputs: []Output{{Name: "a", Width: 320, Height: 180, VideoKbps: 300, MaxrateKbps: 330, BufsizeKbps: 600, Path: out}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := colourOf(t, out); got != tc.wantOut {
				t.Errorf("output is %s, want %s", got, tc.wantOut)
			}
			if got := tagsOf(t, out); got != "bt709/bt709" {
				t.Errorf("output primaries/transfer %s, want bt709/bt709", got)
			}
			y, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
			if err != nil || len(y) < 320*180 {
				t.Fatalf("decoding the output: %v", err)
			}
			// Limited range samples: white 235, black 16.
			if w, b := y[45*320+80], y[135*320+240]; w < 232 || w > 238 || b < 13 || b > 19 {
				t.Errorf("output luma white %d black %d, want 235 and 16", w, b)
			}
		})
	}
}

func colourOf(t *testing.T, path string) string {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=pix_fmt,color_range,color_space", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n") // a transport stream lists it again under its program
	return strings.ReplaceAll(strings.ReplaceAll(first, "unknown", ""), ",", "/")
}

func tagsOf(t *testing.T, path string) string {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=color_primaries,color_transfer", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	// ffprobe prints them as transfer, primaries.
	trc, prim, _ := strings.Cut(first, ",")
	return prim + "/" + trc
}

func TestSourceMatrix(t *testing.T) {
	for _, tc := range []struct {
		space  string
		w, h   int
		scaler string
	}{
		{"bt709", 320, 180, "bt709"},       // the source's own, whatever its size
		{"bt470bg", 1920, 1080, "bt601"},   // likewise
		{"smpte170m", 640, 480, "bt601"},   //
		{"", 1920, 1080, "bt709"},          // untagged HD: what players assume
		{"unknown", 720, 1280, "bt709"},    // portrait HD
		{"unknown", 640, 360, "bt601"},     // untagged SD
		{"gbr", 640, 360, "bt601"},         // RGB: converted with the size's matrix
		{"ycgco", 1280, 720, "bt709"},      // not a matrix hlsd reads
		{"bt2020nc", 3840, 2160, "bt2020"}, // wide gamut
	} {
		if got := SourceMatrix(&VideoStream{ColorSpace: tc.space, Width: tc.w, Height: tc.h}); got != tc.scaler {
			t.Errorf("%q %dx%d: got %s, want %s", tc.space, tc.w, tc.h, got, tc.scaler)
		}
	}
}

func TestOutputFrameRate(t *testing.T) {
	for _, tc := range []struct {
		src, max float64
		want     string
	}{
		{30, 60, "30"},
		{30000.0 / 1001, 60, "30000/1001"},
		{29.97, 60, "30000/1001"}, // 2997/100 from a sloppy muxer
		{12.5, 60, "25/2"},
		{10, 60, "10"},
		{15.865, 60, "15"}, // a variable-rate phone clip's average
		{27, 60, "25"},
		{120, 60, "60"},
		{59.94, 30, "30"},
		{1, 60, "5"},
		{0, 60, "30"}, // unknown
		{30, 4, "4"},  // a cap below every standard rate
	} {
		got, f := OutputFrameRate(&VideoStream{FrameRate: tc.src}, tc.max)
		if got != tc.want || f != parseRate(tc.want) {
			t.Errorf("OutputFrameRate(%g, max %g) = %s (%g), want %s", tc.src, tc.max, got, f, tc.want)
		}
	}
	// Interlaced sources: one frame per field within the cap, else per frame.
	for _, tc := range []struct {
		v      VideoStream
		max    float64
		want   string
		filter string
	}{
		{VideoStream{FrameRate: 25, FieldOrder: "tt"}, 60, "50", "bwdif=mode=send_field:parity=auto:deint=all"},
		{VideoStream{FrameRate: 30000.0 / 1001, FieldOrder: "bb"}, 60, "60000/1001", "bwdif=mode=send_field:parity=auto:deint=all"},
		{VideoStream{FrameRate: 30000.0 / 1001, FieldOrder: "tb"}, 30, "30000/1001", "bwdif=mode=send_frame:parity=auto:deint=all"},
		{VideoStream{FrameRate: 25, FieldOrder: "progressive", Combed: "bff"}, 60, "50", "bwdif=mode=send_field:parity=bff:deint=all"},
		{VideoStream{FrameRate: 25, FieldOrder: "progressive"}, 60, "25", ""},
		{VideoStream{FrameRate: 25, FieldOrder: "unknown"}, 60, "25", ""},
	} {
		got, _ := OutputFrameRate(&tc.v, tc.max)
		if f := deinterlaceFilter(&tc.v, fieldRate(&tc.v, tc.max)); got != tc.want || f != tc.filter {
			t.Errorf("%+v, max %g: rate %s, filter %q; want %s, %q", tc.v, tc.max, got, f, tc.want, tc.filter)
		}
	}
}

func TestParseIdet(t *testing.T) {
	line := func(tff, bff, prog, und int) string {
		return fmt.Sprintf("[Parsed_idet_0 @ 0x1] Single frame detection: TFF: 1 BFF: 0 Progressive: 0 Undetermined: 0\n"+
			"[Parsed_idet_0 @ 0x1] Multi frame detection: TFF: %5d BFF: %5d Progressive: %5d Undetermined: %5d\n", tff, bff, prog, und)
	}
	for _, tc := range []struct {
		stderr, want string
	}{
		{line(90, 0, 0, 0), "tff"},
		{line(0, 88, 2, 0), "bff"},
		{line(40, 10, 30, 10), "tff"}, // mostly combed among those told apart
		{line(2, 0, 85, 3), ""},       // progressive
		{line(10, 0, 2, 78), ""},      // mostly undecided (still pictures): too few to act on
		{line(30, 0, 30, 30), ""},     // as many progressive as combed
		{line(40, 45, 5, 0), ""},      // both orders alike: fine detail (testsrc2), not fields
		{line(21, 32, 37, 0), ""},     //
		{"no summary", ""},
	} {
		if got := parseIdet(tc.stderr); got != tc.want {
			t.Errorf("parseIdet(%q) = %q, want %q", tc.stderr, got, tc.want)
		}
	}
}

func TestToneMapFilter(t *testing.T) {
	for _, tc := range []struct {
		v    VideoStream
		want string
	}{
		{VideoStream{ColorTransfer: "arib-std-b67", ColorPrimaries: "bt2020", ColorSpace: "bt2020nc", ColorRange: "tv"},
			"zscale=w=1920:h=1080:pin=2020:min=2020_ncl:rin=limited:tin=arib-std-b67:t=linear:npl=203,format=gbrpf32le,zscale=p=709,tonemap=tonemap=mobius:param=0.8,zscale=t=709:m=709:r=limited,format=yuv420p"},
		{VideoStream{ColorTransfer: "smpte2084"}, // untagged otherwise: BT.2020 assumed
			"zscale=w=1920:h=1080:pin=2020:min=2020_ncl:rin=limited:tin=smpte2084:t=linear:npl=203,format=gbrpf32le,zscale=p=709,tonemap=tonemap=mobius:param=0.8,zscale=t=709:m=709:r=limited,format=yuv420p"},
		{VideoStream{ColorTransfer: "bt2020-10", ColorPrimaries: "bt2020", ColorSpace: "bt2020nc"},
			"zscale=w=1920:h=1080:pin=2020:min=2020_ncl:rin=limited:tin=2020_10:p=709:t=709:m=709:r=limited,format=yuv420p"},
		{VideoStream{ColorTransfer: "bt709", ColorPrimaries: "bt709", ColorSpace: "bt709"}, ""},
		{VideoStream{}, ""},
	} {
		if got := toneMapFilter(&tc.v, 1920, 1080); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.v, got, tc.want)
		}
	}
}

// DetectCombing finds interlaced frames where the stream says progressive
// (woven fields re-encoded without the flags), and leaves progressive
// pictures alone, test patterns included (which fool idet alone).
func TestDetectCombing(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"woven top first, flagged progressive", []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=50",
			"-vf", "tinterlace=mode=interleave_top", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast"}, "tff"},
		{"woven bottom first, flagged progressive", []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=50",
			"-vf", "tinterlace=mode=interleave_bottom", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast"}, "bff"},
		{"progressive test pattern", []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast"}, ""},
		{"progressive HD test pattern", []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast"}, ""},
		// 12 s: looked at from the keyframe before 1.2 s, in a stream of
		// MPEG-2 GOPs that a transport stream does not index.
		{"woven top first, MPEG-2 in MPEG-TS flagged progressive, after a seek", []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=50",
			"-vf", "tinterlace=mode=interleave_top", "-t", "12", "-c:v", "mpeg2video", "-q:v", "4", "-g", "12", "-f", "mpegts"}, "tff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "src.mp4"
			if slices.Contains(tc.args, "mpegts") {
				name = "src.ts"
			}
			src := generate(t, name, tc.args...)
			probe, err := Probe(context.Background(), src, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if probe.Video.Interlaced() {
				t.Fatalf("test source is flagged interlaced (%s): it should not be", probe.Video.FieldOrder)
			}
			got, err := DetectCombing(context.Background(), src, probe, time.Minute)
			if err != nil || got != tc.want {
				t.Errorf("DetectCombing = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// ClockFromTracks: a transport stream's clock starts with its chosen video
// or audio tracks, unless another stream (an audio track left out) starts
// before them.
func TestClockFromTracks(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	earlyAudio := []string{"-itsoffset", "1", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
		"-itsoffset", "1", "-f", "lavfi", "-i", "sine", "-f", "lavfi", "-i", "sine=frequency=300",
		"-map", "0", "-map", "1", "-map", "2", "-t", "3", "-c:v", "libx264", "-c:a", "aac"}
	for _, tc := range []struct {
		name string
		args []string
		keep int // audio tracks kept (0: all)
		want bool
	}{
		{"video and audio", []string{"-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "2", "-c:v", "libx264", "-c:a", "aac"}, 0, true},
		{"audio half a second after the video", []string{"-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-itsoffset", "0.5", "-f", "lavfi", "-i", "sine",
			"-t", "2", "-c:v", "libx264", "-c:a", "aac"}, 0, true},
		{"a second audio track starting a second before, kept", earlyAudio, 0, true},
		{"a second audio track starting a second before, left out", earlyAudio, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := generate(t, "src.ts", append(tc.args, "-f", "mpegts")...)
			probe, err := Probe(context.Background(), src, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			probe.KeepAudios(tc.keep)
			if probe.ClockFromTracks() != tc.want {
				t.Errorf("ClockFromTracks = %v, want %v", probe.ClockFromTracks(), tc.want)
			}
		})
	}
}
