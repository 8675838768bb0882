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

type vttCue struct {
	start, end float64
	file       string
	x, y, w, h int
}

var cueTextRe = regexp.MustCompile(`^(sprite_\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$`)

var vttTimeRe = regexp.MustCompile(`^(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})$`)

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

// A 12 s clip: a 320x180 poster (no upscaling).
func TestPoster(t *testing.T) {
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
		"poster": PosterSpec{Input: "/tmp/src", Source: Source{Format: "mov", Video: v, Duration: 30}, Path: "/tmp/p.jpg"}.Args(3),
		"chunk": EncodeSpec{Input: "/tmp/src", Source: Source{Format: "mov", Video: v, Duration: 30},
			Outputs: []Output{{Name: "a", Width: 320, Height: 180, Path: "/tmp/a.ts"}}, Profiles: profiles.Profiles{KeyframeInterval: 2},
			Chunk: &ChunkSpec{Start: 6, Frames: 150, Thumbnails: &ThumbnailSpec{Interval: 2, Count: 3, Width: 160, Height: 90, Dir: "/tmp"}}}.Args(),
		"audio": AudioSpec{Input: "/tmp/src", Source: Source{Format: "mov", Audios: []AudioStream{{Index: 1}}, Duration: 30}, Dir: "/tmp"}.Args(),
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
