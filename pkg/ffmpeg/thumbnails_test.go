package ffmpeg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/profiles"
)

func TestPosterTimeAndSize(t *testing.T) {
	for _, tc := range []struct{ dur, at float64 }{
		{0, 0}, {0.5, 0}, {0.99, 0}, {1, 1}, {5, 1}, {12, 1.2}, {60, 6}, {100, 10}, {3600, 10},
	} {
		if got := PosterTime(tc.dur); math.Abs(got-tc.at) > 1e-9 {
			t.Errorf("PosterTime(%g) = %g, want %g", tc.dur, got, tc.at)
		}
	}
	for _, tc := range []struct{ w, h, ww, wh int }{
		{320, 180, 320, 180}, // never up
		{1920, 1080, 1280, 720},
		{3840, 2160, 1280, 720},
		{1080, 1920, 405, 720}, // portrait fits the box by its height
		{1440, 1080, 960, 720},
		{2560, 720, 1280, 360},
		{7680, 64, 1280, 11},
		{0, 0, 0, 0},
	} {
		if w, h := PosterSize(tc.w, tc.h); w != tc.ww || h != tc.wh {
			t.Errorf("PosterSize(%d, %d) = %dx%d, want %dx%d", tc.w, tc.h, w, h, tc.ww, tc.wh)
		}
	}
}

func TestStoryboardInterval(t *testing.T) {
	for _, tc := range []struct {
		dur, kf float64
		want    int
	}{
		{1, 2, 2}, {12, 2, 2}, {120, 2, 2}, {120, 3, 2}, // up to 2 minutes: every 2 s
		{240, 2, 2},   // 120 thumbnails
		{400, 2, 2},   // exactly 200
		{401, 2, 4},   // 3 s would do; 4 keeps to keyframes
		{500, 3, 3},   // a multiple of 3 already
		{500, 1.5, 3}, // not a whole keyframe interval: whole seconds only
		{125, 6, 6},
		{3600, 2, 18},
		{6 * 3600, 2, 108}, // the longest source the default limits allow
	} {
		n := StoryboardInterval(tc.dur, tc.kf)
		if n != tc.want {
			t.Errorf("StoryboardInterval(%g, %g) = %d, want %d", tc.dur, tc.kf, n, tc.want)
		}
		if c := ThumbnailCount(tc.dur, n); c > MaxThumbnails && tc.dur > 120 {
			t.Errorf("%g s every %d s: %d thumbnails", tc.dur, n, c)
		}
	}
	for _, tc := range []struct {
		dur  float64
		n    int
		want int
	}{{12, 2, 6}, {12.2, 2, 6}, {12.3, 2, 7}, {11.9, 2, 6}, {0.04, 2, 1}, {0, 2, 1}, {240, 2, 120}, {5, 0, 0}} {
		if got := ThumbnailCount(tc.dur, tc.n); got != tc.want {
			t.Errorf("ThumbnailCount(%g, %d) = %d, want %d", tc.dur, tc.n, got, tc.want)
		}
	}
}

func TestStoryboardVTT(t *testing.T) {
	sb := &Storyboard{Interval: 2, Duration: 5.5, Count: 3, Columns: 3, Rows: 1, Width: 160, Height: 90}
	want := "WEBVTT\n\n" +
		"00:00:00.000 --> 00:00:02.000\nsprite_0.jpg#xywh=0,0,160,90\n\n" +
		"00:00:02.000 --> 00:00:04.000\nsprite_0.jpg#xywh=160,0,160,90\n\n" +
		"00:00:04.000 --> 00:00:05.500\nsprite_0.jpg#xywh=320,0,160,90\n"
	if got := string(sb.VTT()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Several sheets, past an hour.
	sb = &Storyboard{Interval: 18, Duration: 3599.9, Count: 200, Columns: 10, Rows: 10, Width: 160, Height: 120}
	cues := parseVTT(t, sb.VTT())
	if len(cues) != 200 {
		t.Fatalf("%d cues", len(cues))
	}
	for i, want := range map[int]vttCue{
		0:   {0, 18, "sprite_0.jpg", 0, 0, 160, 120},
		11:  {198, 216, "sprite_0.jpg", 160, 120, 160, 120},
		99:  {1782, 1800, "sprite_0.jpg", 1440, 1080, 160, 120},
		100: {1800, 1818, "sprite_1.jpg", 0, 0, 160, 120},
		199: {3582, 3599.9, "sprite_1.jpg", 1440, 1080, 160, 120},
	} {
		if cues[i] != want {
			t.Errorf("cue %d = %+v, want %+v", i, cues[i], want)
		}
	}
	if got := vttTime(36000000 + 61*60000 + 1234); got != "11:01:01.234" {
		t.Errorf("vttTime = %s", got)
	}
}

type vttCue struct {
	start, end float64
	file       string
	x, y, w, h int
}

var cueTextRe = regexp.MustCompile(`^(sprite_\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$`)

// parseVTT reads a storyboard track strictly: the header, then blocks of a
// timing line and one sprite#xywh= line.
func parseVTT(t *testing.T, b []byte) []vttCue {
	t.Helper()
	blocks := strings.Split(strings.TrimRight(string(b), "\n"), "\n\n")
	if blocks[0] != "WEBVTT" {
		t.Fatalf("track starts %q", blocks[0])
	}
	var cues []vttCue
	for _, blk := range blocks[1:] {
		lines := strings.Split(blk, "\n")
		if len(lines) != 2 {
			t.Fatalf("cue %q", blk)
		}
		from, to, ok := strings.Cut(lines[0], " --> ")
		m := cueTextRe.FindStringSubmatch(lines[1])
		if !ok || m == nil {
			t.Fatalf("cue %q", blk)
		}
		c := vttCue{start: vttSeconds(t, from), end: vttSeconds(t, to), file: m[1]}
		c.x, _ = strconv.Atoi(m[2])
		c.y, _ = strconv.Atoi(m[3])
		c.w, _ = strconv.Atoi(m[4])
		c.h, _ = strconv.Atoi(m[5])
		cues = append(cues, c)
	}
	return cues
}

var vttTimeRe = regexp.MustCompile(`^(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})$`)

func vttSeconds(t *testing.T, s string) float64 {
	t.Helper()
	m := vttTimeRe.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("timestamp %q", s)
	}
	var n [4]float64
	for i := range n {
		n[i], _ = strconv.ParseFloat(m[i+1], 64)
	}
	return n[0]*3600 + n[1]*60 + n[2] + n[3]/1000
}

// checkStoryboard checks the track against the sheets on disk: cues back to
// back from 0 to the duration, every interval seconds, each inside its sheet.
func checkStoryboard(t *testing.T, sb *Storyboard, count, interval, sheets int, duration float64) []vttCue {
	t.Helper()
	if sb.Count != count || sb.Interval != interval || len(sb.Sprites) != sheets {
		t.Fatalf("storyboard %+v, want %d thumbnails every %d s on %d sheets", sb, count, interval, sheets)
	}
	sizes := map[string][2]int{}
	for k, p := range sb.Sprites {
		if filepath.Base(p) != SpriteName(k) {
			t.Errorf("sheet %d is %s", k, p)
		}
		w, h := ffprobeSize(t, p, "mjpeg")
		sizes[SpriteName(k)] = [2]int{w, h}
	}
	cues := parseVTT(t, sb.VTT())
	if len(cues) != count {
		t.Fatalf("%d cues, want %d", len(cues), count)
	}
	for i, c := range cues {
		if want := float64(i * interval); math.Abs(c.start-want) > 1e-6 {
			t.Errorf("cue %d starts at %g, want %g", i, c.start, want)
		}
		if i > 0 && c.start != cues[i-1].end {
			t.Errorf("cue %d starts at %g, cue %d ends at %g", i, c.start, i-1, cues[i-1].end)
		}
		if c.end <= c.start {
			t.Errorf("cue %d: %g --> %g", i, c.start, c.end)
		}
		size, ok := sizes[c.file]
		if !ok || c.x < 0 || c.y < 0 || c.w != sb.Width || c.h != sb.Height || c.x+c.w > size[0] || c.y+c.h > size[1] {
			t.Errorf("cue %d: %s#xywh=%d,%d,%d,%d outside the sheets %v", i, c.file, c.x, c.y, c.w, c.h, sizes)
		}
	}
	if last := cues[len(cues)-1].end; math.Abs(last-duration) > 0.001 {
		t.Errorf("the last cue ends at %g, the video at %g", last, duration)
	}
	return cues
}

// ffprobeSize is a picture's size as ffprobe sees it, and checks its codec.
func ffprobeSize(t *testing.T, path, codec string) (int, int) {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	f := strings.Split(strings.TrimSpace(string(b)), ",")
	if len(f) != 3 || f[0] != codec {
		t.Fatalf("%s: %q, want %s", path, b, codec)
	}
	w, _ := strconv.Atoi(f[1])
	h, _ := strconv.Atoi(f[2])
	return w, h
}

func probeFile(t *testing.T, p string) Source {
	t.Helper()
	src, err := Probe(context.Background(), p, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// A 12 s clip: a 320x180 poster (no upscaling), and a storyboard of 6
// thumbnails every 2 s on one sheet.
func TestPosterAndStoryboard(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	ctx := context.Background()
	src := generate(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	probe := probeFile(t, src)
	dir := t.TempDir()
	poster := filepath.Join(dir, "poster.jpg")
	ok, err := Poster(ctx, PosterSpec{Input: src, Source: probe, Path: poster})
	if err != nil || !ok {
		t.Fatalf("Poster = %v, %v", ok, err)
	}
	if w, h := ffprobeSize(t, poster, "mjpeg"); w != 320 || h != 180 {
		t.Errorf("poster %dx%d, want 320x180", w, h)
	}
	interval := StoryboardInterval(probe.Duration, 2)
	sb, err := MakeStoryboard(ctx, StoryboardSpec{Input: src, Format: probe.Format, Width: 320, Height: 180,
		Duration: probe.Duration, Interval: interval, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checkStoryboard(t, sb, 6, 2, 1, probe.Duration)
	if sb.Width != 160 || sb.Height != 90 || sb.Columns != 6 || sb.Rows != 1 {
		t.Errorf("layout %+v, want 6x1 thumbnails of 160x90", sb)
	}
	if w, h := ffprobeSize(t, sb.Sprites[0], "mjpeg"); w != 960 || h != 90 {
		t.Errorf("sheet %dx%d, want 960x90", w, h)
	}
}

// Posters of sources of every shape: the display size fitted into
// 1280x720, upright, square pixels; the first frame when the video is too
// short or its stream ends before the instant.
func TestPosterShapes(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	for _, tc := range []struct {
		name string
		file string
		args []string
		w, h int
	}{
		{"1080p", "hd.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast"}, 1280, 720},
		{"anamorphic", "ana.mkv", []string{"-f", "lavfi", "-i", "testsrc2=size=360x240:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-aspect", "16:9"}, 427, 240},
		{"rotated", "rot.mp4", []string{"-i", generate(t, "unrotated.mp4", "-f", "lavfi", "-i", "color=black:size=320x180:rate=25", "-vf", "drawbox=x=0:y=0:w=160:h=90:color=white:t=fill", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast"), "-c", "copy", "-metadata:s:v", "rotate=90"}, 180, 320},
		{"shorter than a second", "short.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "0.4", "-c:v", "libx264", "-preset", "ultrafast"}, 320, 180},
		{"video ends before the audio", "tail.mkv", []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=40", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libvorbis"}, 320, 180},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := generate(t, tc.file, tc.args...)
			probe := probeFile(t, src)
			p := filepath.Join(t.TempDir(), "poster.jpg")
			ok, err := Poster(context.Background(), PosterSpec{Input: src, Source: probe, Path: p})
			if err != nil || !ok {
				t.Fatalf("Poster = %v, %v", ok, err)
			}
			if w, h := ffprobeSize(t, p, "mjpeg"); w != tc.w || h != tc.h {
				t.Errorf("poster %dx%d, want %dx%d", w, h, tc.w, tc.h)
			}
			img := decodeJPEG(t, p)
			if tc.name == "rotated" {
				// Upright as players show it: the source's white top-left
				// quarter is at the bottom left (rotate=90 turns it a
				// quarter anticlockwise).
				if bl, tl := meanLuma(img, image.Rect(10, 170, 80, 310)), meanLuma(img, image.Rect(10, 10, 80, 150)); bl < 200 || tl > 50 {
					t.Errorf("rotated poster: bottom left %.0f, top left %.0f: not upright", bl, tl)
				}
			}
			if tc.name == "video ends before the audio" {
				sb, err := MakeStoryboard(context.Background(), StoryboardSpec{Input: src, Format: probe.Format, Width: 320, Height: 180,
					Duration: probe.Duration, Interval: StoryboardInterval(probe.Duration, 2), Dir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				checkStoryboard(t, sb, 20, 2, 1, probe.Duration)
			}
		})
	}
}

// A 4-minute clip: thumbnails every 2 s, 120 of them, on two 10x10 sheets
// (the second padded).
func TestStoryboardLongClip(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	src := generate(t, "long.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=5", "-t", "240", "-c:v", "libx264", "-preset", "ultrafast")
	probe := probeFile(t, src)
	interval := StoryboardInterval(probe.Duration, 2)
	sb, err := MakeStoryboard(context.Background(), StoryboardSpec{Input: src, Format: probe.Format, Width: 160, Height: 90,
		Duration: probe.Duration, Interval: interval, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cues := checkStoryboard(t, sb, 120, 2, 2, probe.Duration)
	for k, p := range sb.Sprites {
		if w, h := ffprobeSize(t, p, "mjpeg"); w != 1600 || h != 900 {
			t.Errorf("sheet %d is %dx%d, want 1600x900", k, w, h)
		}
	}
	if c := cues[119]; c.file != "sprite_1.jpg" || c.x != 9*160 || c.y != 90 {
		t.Errorf("the last cue is %+v", c)
	}
	// A longer video keeps to about 200 thumbnails.
	if n := StoryboardInterval(1000, 2); ThumbnailCount(1000, n) > MaxThumbnails {
		t.Errorf("1000 s every %d s: too many", n)
	}
}

// Each thumbnail is the picture at its instant: the same whether every
// frame of the source is decoded, or only the keyframes of a rendition
// (forced every 2 s on the output clock, so at 2.002 s, 4.004 s… at 29.97
// frames per second).
func TestStoryboardShowsEachInstant(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	ctx := context.Background()
	// The luma steps up by 20 at every odd second: around 2k s it is 16+20k.
	src := generate(t, "steps.mp4", "-f", "lavfi", "-i", "color=black:size=320x180:rate=30000/1001",
		"-vf", "format=yuv420p,geq=lum='16+20*floor((T+1)/2)':cb=128:cr=128", "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0")
	probe := probeFile(t, src)
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	prof.Video.Preset = "ultrafast"
	dir := t.TempDir()
	rendition := filepath.Join(dir, "r.ts")
	if err := Encode(ctx, EncodeSpec{Input: src, Source: probe, Profiles: prof,
		Outputs: []Output{{Name: "r", Width: 320, Height: 180, VideoKbps: 800, MaxrateKbps: 900, BufsizeKbps: 1600, Path: rendition}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		input, format string
		keyframesOnly bool
	}{
		{"every frame of the source", src, probe.Format, false},
		{"keyframes of a rendition", rendition, "mpegts", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			sb, err := MakeStoryboard(ctx, StoryboardSpec{Input: tc.input, Format: tc.format, Width: 320, Height: 180,
				Duration: probe.Duration, Interval: 2, KeyframesOnly: tc.keyframesOnly, Dir: out})
			if err != nil {
				t.Fatal(err)
			}
			checkStoryboard(t, sb, 6, 2, 1, probe.Duration)
			img := decodeJPEG(t, sb.Sprites[0])
			for i, c := range parseVTT(t, sb.VTT()) {
				got := meanLuma(img, image.Rect(c.x+20, c.y+20, c.x+c.w-20, c.y+c.h-20))
				want := float64(20*i) * 255 / 219 // full range in the JPEG
				if math.Abs(got-want) > 6 {
					t.Errorf("thumbnail %d (at %g s) has luma %.1f, want %.1f", i, c.start, got, want)
				}
			}
		})
	}
}

// Audio-only sources have no pictures: no poster, no error.
func TestPosterAudioOnly(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	src := generate(t, "a.m4a", "-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "aac")
	p := filepath.Join(t.TempDir(), "poster.jpg")
	ok, err := Poster(context.Background(), PosterSpec{Input: src, Source: probeFile(t, src), Path: p})
	if ok || err != nil {
		t.Fatalf("Poster = %v, %v", ok, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a poster was written: %v", err)
	}
}

// The inputs are read as untrusted sources are: local files only, through
// the demuxer whitelist, under a timeout.
func TestThumbnailArgsAreHardened(t *testing.T) {
	v := &VideoStream{Index: 0, DisplayWidth: 320, DisplayHeight: 180}
	for name, args := range map[string][]string{
		"poster":     PosterSpec{Input: "/tmp/src", Source: Source{Format: "mov", Video: v, Duration: 30}, Path: "/tmp/p.jpg"}.Args(3),
		"storyboard": StoryboardSpec{Input: "/tmp/r.ts", Format: "mpegts", Width: 320, Height: 180, Duration: 30, Interval: 2, Dir: "/tmp"}.Args(),
	} {
		line := strings.Join(args, " ")
		for _, want := range []string{"-protocol_whitelist file -format_whitelist " + strings.Join(Demuxers, ","), " -i file:/tmp/", " -nostdin"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %q lacks %q", name, line, want)
			}
		}
		if i, j := strings.Index(line, "-format_whitelist"), strings.Index(line, " -i "); i < 0 || j < i {
			t.Errorf("%s: the whitelist does not come before -i: %s", name, line)
		}
	}
	err := func() error {
		_, err := MakeStoryboard(context.Background(), StoryboardSpec{Input: "/nonexistent", Format: "mpegts", Width: 320, Height: 180, Duration: 1, Interval: 2, Dir: t.TempDir()})
		return err
	}()
	if err == nil {
		t.Error("a storyboard from nothing")
	}
}

func decodeJPEG(t *testing.T, p string) image.Image {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return img
}

// meanLuma is the mean Y (0–255, as stored) over r.
func meanLuma(img image.Image, r image.Rectangle) float64 {
	sum, n := 0.0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			switch p := img.(type) {
			case *image.YCbCr:
				sum += float64(p.Y[p.YOffset(x, y)])
			case *image.Gray:
				sum += float64(p.GrayAt(x, y).Y)
			default:
				panic(fmt.Sprintf("%T", img))
			}
			n++
		}
	}
	return sum / float64(n)
}
