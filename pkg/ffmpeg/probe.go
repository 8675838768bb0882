package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

// Limits bound what a source may be. Zero fields mean no limit.
type Limits struct {
	MaxDuration  time.Duration
	MaxWidth     int
	MaxHeight    int
	MaxPixels    int // width × height: bounds decoder memory whatever the shape
	MaxFrameRate float64
	MaxStreams   int
	Timeout      time.Duration // for ffprobe
}

// DefaultLimits are generous for real videos and stop absurd ones.
func DefaultLimits() Limits {
	return Limits{
		MaxDuration:  6 * time.Hour,
		MaxWidth:     7680,
		MaxHeight:    7680,
		MaxPixels:    7680 * 4320, // 8K UHD, either way round
		MaxFrameRate: 240,
		MaxStreams:   32,
		Timeout:      time.Minute,
	}
}

// MaxGIFPixels caps a GIF's canvas below the general limit: ffmpeg
// decodes every frame to the whole canvas in 32-bit colour, so a 1 KB GIF
// with an 8K canvas of 1x1 frames took 812 MiB and 18 CPU-seconds; no real
// animation is larger than 4K.
const MaxGIFPixels = 3840 * 2160

// Source is what hlsd needs to know about an upload.
type Source struct {
	Format   string  // demuxer short name, e.g. "mov"
	Duration float64 // seconds; 0 if unknown
	// MaxPixels is the limit the source was probed with: every ffmpeg run
	// on it makes its decoder refuse larger frames (see decodeLimits).
	MaxPixels int `json:"-"`
	Video     *VideoStream
	// Audios are the source's audio tracks in file order, each a rendition
	// of the video's audio group (up to the profile's audio.max_tracks).
	Audios []AudioStream
	// Subtitles are the source's subtitle tracks in file order, text and
	// image alike (SubtitleStream.Text tells them apart).
	Subtitles []SubtitleStream
	// Start is the file's first timestamp, seconds (format start_time; NaN
	// if unknown); the tracks have theirs.
	Start float64
}

// ClockFromTracks says the file's clock starts at the first timestamp of
// its chosen video or audio tracks (the kept ones: KeepAudios): no other
// stream (data, subtitles, an audio track left out) starts before them. A
// copy of just those tracks (Remux) then has the same clock as the file,
// and the two can be read side by side: the first chunk and the audio from
// the file while the copy is made.
func (s Source) ClockFromTracks() bool {
	first := math.Inf(1)
	if s.Video != nil {
		first = s.Video.Start
	}
	for _, a := range s.Audios {
		first = min(first, a.Start)
	}
	// NaN (unknown) compares false.
	return math.Abs(first-s.Start) < 0.0005
}

// Audio is the first audio track (the one an audio-only video plays, and
// the one measured for a source's length); nil without one.
func (s Source) Audio() *AudioStream {
	if len(s.Audios) == 0 {
		return nil
	}
	return &s.Audios[0]
}

// Clone is a copy that shares nothing with s.
func (s Source) Clone() Source {
	if s.Video != nil {
		v := *s.Video
		s.Video = &v
	}
	s.Audios = slices.Clone(s.Audios)
	s.Subtitles = slices.Clone(s.Subtitles)
	return s
}

// KeepAudios keeps the first n audio tracks (n > 0).
func (s *Source) KeepAudios(n int) {
	if n > 0 && len(s.Audios) > n {
		s.Audios = s.Audios[:n]
	}
}

// VideoStream is the first real video stream (cover art is not video).
type VideoStream struct {
	Index         int
	Codec         string
	Width, Height int // coded
	DisplayWidth  int // after sample aspect ratio and rotation
	DisplayHeight int
	FrameRate     float64 // average frames per second
	RateExpr      string  // the same as ffmpeg writes it ("30000/1001"), for exact filters
	PixFmt        string
	ColorSpace    string // YCbCr matrix as ffprobe names it ("bt709"); "" or "unknown" if untagged
	// Colour tags as ffprobe names them ("" or "unknown" if untagged).
	ColorTransfer  string  // "bt709", "smpte2084" (PQ), "arib-std-b67" (HLG)...
	ColorPrimaries string  // "bt709", "bt2020"...
	ColorRange     string  // "tv" (limited) or "pc" (full)
	Start          float64 // first timestamp, seconds; NaN if unknown
	// FieldOrder is the stream's scan as ffprobe says: "progressive", an
	// interlaced order ("tt", "bb", "tb", "bt"), or "" / "unknown".
	FieldOrder string
	// Combed is set by the planner, not the probe: "tff" or "bff" when
	// DetectCombing found a source not flagged interlaced to be so.
	Combed   string
	Rotation int
}

// AudioStream is an audio track.
type AudioStream struct {
	Index      int
	Codec      string
	Channels   int
	SampleRate int
	Start      float64 // first timestamp, seconds; NaN if unknown
	// What the file says of the track: its language tag as written (ISO
	// 639-2 in most containers: "eng", "fre"; "und" for none), its title,
	// and its disposition flags.
	Language string
	Title    string
	Default  bool // the track a player should pick (Matroska's default flag)
	// Described is an audio description for the visually impaired.
	Described bool
	Comment   bool // commentary
}

// ProbeError is an upload that is not a usable media file. Reason is one
// sentence for the uploader; Code is one of the video.Code* values.
type ProbeError struct {
	Code   string
	Reason string
	Err    error
}

func (e *ProbeError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *ProbeError) Unwrap() error { return e.Err }

type probeJSON struct {
	Streams []struct {
		Index        int    `json:"index"`
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		SAR          string `json:"sample_aspect_ratio"`
		PixFmt       string `json:"pix_fmt"`
		ColorSpace   string `json:"color_space"`
		ColorTrc     string `json:"color_transfer"`
		ColorPrim    string `json:"color_primaries"`
		ColorRange   string `json:"color_range"`
		FieldOrder   string `json:"field_order"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
		Channels     int    `json:"channels"`
		SampleRate   string `json:"sample_rate"`
		StartTime    string `json:"start_time"`
		Disposition  struct {
			AttachedPic     int `json:"attached_pic"`
			Default         int `json:"default"`
			Comment         int `json:"comment"`
			VisualImpaired  int `json:"visual_impaired"`
			HearingImpaired int `json:"hearing_impaired"`
			Forced          int `json:"forced"`
		} `json:"disposition"`
		Tags struct {
			Rotate   string `json:"rotate"`
			Language string `json:"language"`
			Title    string `json:"title"`
		} `json:"tags"`
		SideData []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		StartTime  string `json:"start_time"`
	} `json:"format"`
}

// Probe inspects a local file with ffprobe and checks it against lim.
func Probe(ctx context.Context, path string, lim Limits) (Source, error) {
	args := append([]string{"-v", "error", "-hide_banner"}, inputArgs(Source{MaxPixels: lim.MaxPixels})...)
	args = append(args, "-print_format", "json", "-show_format", "-show_streams", "-i", "file:"+path)
	var out bytes.Buffer
	timeout := lim.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	if err := run(ctx, timeout, "ffprobe", args, &out); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			// A frame over the limit is refused by the decoder before it
			// is allocated (a bomb's header is read, its frame is not).
			if le := pixelLimitError(ee.Stderr, err); le != nil {
				return Source{}, le
			}
		}
		if errors.As(err, &ee) && !ee.Killed() {
			return Source{}, &ProbeError{Code: video.CodeUnsupported, Reason: "The file is not a video or audio format hlsd can read (or it is damaged)", Err: err}
		}
		return Source{}, fmt.Errorf("ffprobe: %w", err)
	}
	src, err := parseProbe(out.Bytes(), lim)
	src.MaxPixels = lim.MaxPixels
	return src, err
}

func parseProbe(b []byte, lim Limits) (Source, error) {
	var pj probeJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return Source{}, fmt.Errorf("ffprobe output: %w", err)
	}
	src := Source{Format: strings.Split(pj.Format.FormatName, ",")[0], Start: parseTime(pj.Format.StartTime)}
	src.Duration, _ = strconv.ParseFloat(pj.Format.Duration, 64)
	if lim.MaxStreams > 0 && len(pj.Streams) > lim.MaxStreams {
		return src, &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf("The file has %d streams; at most %d are allowed", len(pj.Streams), lim.MaxStreams)}
	}
	for _, s := range pj.Streams {
		switch {
		case s.CodecType == "video" && src.Video == nil && s.Disposition.AttachedPic == 0 && s.Width > 0 && s.Height > 0:
			v := &VideoStream{Index: s.Index, Codec: s.CodecName, Width: s.Width, Height: s.Height, PixFmt: s.PixFmt, ColorSpace: s.ColorSpace,
				ColorTransfer: s.ColorTrc, ColorPrimaries: s.ColorPrim, ColorRange: s.ColorRange, FieldOrder: s.FieldOrder, Start: parseTime(s.StartTime)}
			v.FrameRate, v.RateExpr = parseRate(s.AvgFrameRate), s.AvgFrameRate
			if v.FrameRate <= 0 || v.FrameRate > 1000 {
				v.FrameRate, v.RateExpr = parseRate(s.RFrameRate), s.RFrameRate
			}
			v.Rotation = rotation(s.Tags.Rotate, s.SideData)
			dw := float64(s.Width)
			if sar := parseRate(strings.Replace(s.SAR, ":", "/", 1)); sar > 0 {
				dw *= sar
			}
			v.DisplayWidth, v.DisplayHeight = int(math.Round(dw)), s.Height
			if v.Rotation == 90 || v.Rotation == 270 {
				v.DisplayWidth, v.DisplayHeight = v.DisplayHeight, v.DisplayWidth
			}
			src.Video = v
		case s.CodecType == "audio" && s.Channels > 0:
			sr, _ := strconv.Atoi(s.SampleRate)
			src.Audios = append(src.Audios, AudioStream{Index: s.Index, Codec: s.CodecName, Channels: s.Channels, SampleRate: sr,
				Start: parseTime(s.StartTime), Language: s.Tags.Language, Title: s.Tags.Title, Default: s.Disposition.Default != 0,
				Described: s.Disposition.VisualImpaired != 0, Comment: s.Disposition.Comment != 0})
		case s.CodecType == "subtitle":
			src.Subtitles = append(src.Subtitles, SubtitleStream{Index: s.Index, Codec: s.CodecName, Start: parseTime(s.StartTime),
				Language: s.Tags.Language, Title: s.Tags.Title, Default: s.Disposition.Default != 0,
				Forced: s.Disposition.Forced != 0, HearingImpaired: s.Disposition.HearingImpaired != 0})
		}
	}
	if src.Video == nil && src.Audio() == nil {
		return src, &ProbeError{Code: video.CodeNoMedia, Reason: "The file has no video or audio track"}
	}
	if lim.MaxDuration > 0 && src.Duration > lim.MaxDuration.Seconds() {
		return src, &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf("The video is %s long; at most %s is allowed", fmtDur(src.Duration), fmtDur(lim.MaxDuration.Seconds()))}
	}
	if v := src.Video; v != nil {
		if (lim.MaxWidth > 0 && v.Width > lim.MaxWidth) || (lim.MaxHeight > 0 && v.Height > lim.MaxHeight) {
			return src, &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf("The video is %dx%d; at most %dx%d is allowed", v.Width, v.Height, lim.MaxWidth, lim.MaxHeight)}
		}
		if v.Codec == "gif" && v.Width*v.Height > MaxGIFPixels && (lim.MaxPixels <= 0 || lim.MaxPixels > MaxGIFPixels) {
			return src, &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf("The animation's canvas is %dx%d; GIFs of at most %d pixels (4K) are allowed", v.Width, v.Height, MaxGIFPixels)}
		}
		if lim.MaxPixels > 0 && v.Width*v.Height > lim.MaxPixels {
			return src, &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf("The video is %dx%d, %d pixels a frame; at most %d are allowed", v.Width, v.Height, v.Width*v.Height, lim.MaxPixels)}
		}
		if lim.MaxFrameRate > 0 && v.FrameRate > lim.MaxFrameRate {
			return src, &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf("The video has %.0f frames per second; at most %.0f are allowed", v.FrameRate, lim.MaxFrameRate)}
		}
	}
	return src, nil
}

// HasCaptions reports whether the source's video carries CEA-608/708
// closed captions (ATSC A/53 cc_data) in its first frames, as broadcast
// recordings do in every frame. ffprobe 5.1's closed_captions field says
// 0 whatever the stream holds, so the frames are decoded and their side
// data read.
func HasCaptions(ctx context.Context, input string, src Source, timeout time.Duration) (bool, error) {
	if src.Video == nil {
		return false, nil
	}
	out, err := probeFrames(ctx, input, src, 10, "frame=media_type:frame_side_data=side_data_type", timeout)
	if err != nil {
		return false, err
	}
	return bytes.Contains(out, []byte(`"ATSC A53 Part 4 Closed Captions"`)), nil
}

// probeFrames has ffprobe read the first frames of src's video and print
// the entries asked for, as JSON.
func probeFrames(ctx context.Context, input string, src Source, frames int, entries string, timeout time.Duration) ([]byte, error) {
	args := append([]string{"-v", "error", "-hide_banner"}, inputArgs(src)...)
	if src.Format != "" {
		args = append(args, "-f", src.Format)
	}
	args = append(args, "-select_streams", strconv.Itoa(src.Video.Index), "-read_intervals", "%+#"+strconv.Itoa(frames),
		"-show_entries", entries, "-of", "json", "-i", "file:"+input)
	var out bytes.Buffer
	if err := run(ctx, orDefault(timeout), "ffprobe", args, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// parseTime reads a time ffprobe printed; NaN if there is none.
func parseTime(s string) float64 {
	t, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return t
}

func rotation(tag string, side []struct {
	Rotation float64 `json:"rotation"`
}) int {
	r := 0.0
	if t, err := strconv.ParseFloat(tag, 64); err == nil {
		r = t
	}
	for _, sd := range side {
		if sd.Rotation != 0 {
			r = sd.Rotation
		}
	}
	deg := int(math.Round(r)) % 360
	if deg < 0 {
		deg += 360
	}
	return deg
}

// parseRate reads "30000/1001" or "25".
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	if !ok {
		return n
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d == 0 {
		return 0
	}
	return n / d
}

func fmtDur(sec float64) string {
	return (time.Duration(sec) * time.Second).String()
}
