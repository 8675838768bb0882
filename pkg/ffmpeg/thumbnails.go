package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The poster: one frame, scaled to fit this box, never up.
const (
	PosterWidth  = 1280
	PosterHeight = 720
)

// The storyboard: thumbnails this wide (height by the picture's aspect,
// even), about MaxThumbnails of them at most, tiled into sheets (one per
// chunk of the video) SpriteColumns wide.
const (
	ThumbnailWidth = 160
	MaxThumbnails  = 200
	SpriteColumns  = 10
)

// PosterTime is where the poster frame is taken, in seconds: a tenth of the
// way in, at least 1 s and at most 10 s in; the first frame of a video
// shorter than 1 s (or of unknown length).
func PosterTime(duration float64) float64 {
	if duration < 1 {
		return 0
	}
	return min(max(duration/10, 1), 10)
}

// PosterSize fits a picture of w x h (display size) into PosterWidth x
// PosterHeight, keeping its aspect and never scaling up.
func PosterSize(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	s := min(1, float64(PosterWidth)/float64(w), float64(PosterHeight)/float64(h))
	return max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
}

// PosterSpec is one poster run.
type PosterSpec struct {
	Input   string // local file, read as untrusted like every source
	Source  Source // its probe
	Path    string // the JPEG to write
	Timeout time.Duration
}

// Poster writes spec.Path: the frame at PosterTime, scaled by PosterSize,
// as a JPEG (quality 3 on ffmpeg's 2–31 scale). If no frame comes from
// there (a video stream shorter than the file), it takes the first frame.
// It reports false, and no error, for a source without video.
func Poster(ctx context.Context, spec PosterSpec) (bool, error) {
	v := spec.Source.Video
	if v == nil {
		return false, nil
	}
	at := PosterTime(spec.Source.Duration)
	err := posterAt(ctx, spec, at)
	if at > 0 && (err == nil && !nonEmpty(spec.Path) || err != nil && !errors.Is(err, ErrTimeout) && ctx.Err() == nil) {
		err = posterAt(ctx, spec, 0)
	}
	if err != nil {
		return false, err
	}
	if !nonEmpty(spec.Path) {
		return false, errors.New("ffmpeg: the poster run wrote no picture")
	}
	return true, nil
}

// Args builds the ffmpeg command line of a poster taken at the given second.
func (s PosterSpec) Args(at float64) []string {
	v := s.Source.Video
	w, h := PosterSize(v.DisplayWidth, v.DisplayHeight)
	// Deinterlaced and tone-mapped like the renditions (one frame: no
	// field rate, no fps).
	chain, matrix := pictureFilters(v, false, "", "", w, h)
	args := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"}
	if at > 0 {
		// Before -i: seek the input (to the keyframe before, then decode up
		// to the instant), instead of decoding everything before it.
		args = append(args, "-ss", strconv.FormatFloat(at, 'f', 3, 64))
	}
	args = append(args, inputArgs(s.Source)...)
	if s.Source.Format != "" {
		args = append(args, "-f", s.Source.Format)
	}
	args = append(args, "-i", "file:"+s.Input,
		"-map", fmt.Sprintf("0:%d", v.Index), "-an", "-sn", "-dn", "-frames:v", "1",
		// Rotation is applied before the filters (ffmpeg's autorotate), so
		// the display size is the size to scale from; setsar=1 makes
		// anamorphic pictures square-pixelled. JPEG is full-range BT.601.
		"-vf", strings.Join(append(chain, fmt.Sprintf("scale=%d:%d:flags=bicubic:in_color_matrix=%s:out_color_matrix=bt601:out_range=pc,format=yuvj420p,setsar=1", w, h, matrix)), ","),
		"-q:v", "3", "-f", "image2", "-update", "1", "file:"+s.Path)
	return args
}

func posterAt(ctx context.Context, spec PosterSpec, at float64) error {
	_ = os.Remove(spec.Path)
	return run(ctx, orDefault(spec.Timeout), "ffmpeg", spec.Args(at), nil)
}

func nonEmpty(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() > 0
}

func orDefault(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return 10 * time.Minute
	}
	return timeout
}

// StoryboardInterval is the whole number of seconds between storyboard
// thumbnails: 2 for videos up to 2 minutes, else as few as keep the count
// at MaxThumbnails or under, rounded up to a multiple of a whole
// keyframeInterval (a thumbnail then falls on a keyframe of every rendition).
func StoryboardInterval(duration, keyframeInterval float64) int {
	n := 2
	if duration > 120 {
		n = max(n, int(math.Ceil(duration/MaxThumbnails-1e-9)))
		if k := keyframeInterval; k >= 1 && k == math.Trunc(k) {
			n = int(math.Ceil(float64(n)/k) * k)
		}
	}
	return n
}

// ThumbnailCount is how many thumbnails, one every interval seconds from
// 0, cover duration. A last stretch shorter than a quarter of a second gets
// none of its own (the one before it covers it).
func ThumbnailCount(duration float64, interval int) int {
	if interval <= 0 {
		return 0
	}
	return max(1, int(math.Ceil((duration-0.25)/float64(interval))))
}

// ThumbnailSize is the size of a thumbnail of a w x h picture.
func ThumbnailSize(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	th := int(math.Round(float64(ThumbnailWidth)*float64(h)/float64(w)/2)) * 2
	return ThumbnailWidth, max(2, th)
}

// SpriteName is sheet k's file name.
func SpriteName(k int) string { return "sprite_" + strconv.Itoa(k) + ".jpg" }

// TileSheet lays thumbnails (JPEG files of w x h, in order) out in rows of
// SpriteColumns and returns the sheet as a JPEG.
func TileSheet(paths []string, w, h int) ([]byte, int, error) {
	if len(paths) == 0 {
		return nil, 0, errors.New("ffmpeg: no thumbnails to tile")
	}
	cols := min(SpriteColumns, len(paths))
	rows := (len(paths) + cols - 1) / cols
	sheet := image.NewRGBA(image.Rect(0, 0, cols*w, rows*h))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, 0, fmt.Errorf("ffmpeg: thumbnail: %w", err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, 0, fmt.Errorf("ffmpeg: thumbnail %s: %w", filepath.Base(p), err)
		}
		if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			return nil, 0, fmt.Errorf("ffmpeg: thumbnail %s is %dx%d, want %dx%d", filepath.Base(p), img.Bounds().Dx(), img.Bounds().Dy(), w, h)
		}
		at := image.Pt(i%cols*w, i/cols*h)
		draw.Draw(sheet, image.Rectangle{Min: at, Max: at.Add(image.Pt(w, h))}, img, img.Bounds().Min, draw.Src)
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, sheet, &jpeg.Options{Quality: 80}); err != nil {
		return nil, 0, fmt.Errorf("ffmpeg: storyboard sheet: %w", err)
	}
	return out.Bytes(), cols, nil
}
