package ffmpeg

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/profiles"
)

// TimestampOffset is added to every output timestamp, on the video chunks
// and the audio alike. Without it the first chunk's B-frames would give it
// negative decode timestamps, which the muxer shifts (by two frames) while
// later chunks are not shifted: the chunks would not join. With it no
// timestamp is negative, so a frame and a sample from the same instant of
// the source get the same timestamp, whichever run wrote them.
const TimestampOffset = 1.0

// ChunkTicks is how far apart, in 90 kHz ticks, two chunks starting at
// start and end (seconds) put their first frames: each chunk's timestamps
// start at its -output_ts_offset, written with six decimals (whole
// microseconds) and rounded to the TS clock, as FFmpeg does. The segmenter
// ends a chunk's last segment there, exactly where the next chunk begins,
// which "the last frame plus the most common frame step" misses by a tick
// at rates that are no whole number of ticks (59.94 fps: 1501.5).
func ChunkTicks(start, end float64) int64 {
	ticks := func(s float64) int64 {
		us, _ := strconv.ParseFloat(strconv.FormatFloat(s+TimestampOffset, 'f', 6, 64), 64)
		return int64(math.Round(math.Round(us*1e6) * 9 / 100))
	}
	return ticks(end) - ticks(start)
}

// ChunkSpec limits an encode to one chunk of the video: Frames frames of
// the output frame grid starting at Start (the time of a frame of that
// grid), with timestamps continuing the whole video's.
type ChunkSpec struct {
	Start  float64 // seconds
	Frames int     // 0: to the end
	// Thumbnails, if set, also writes the chunk's storyboard frames.
	Thumbnails *ThumbnailSpec
}

// ThumbnailSpec asks a chunk encode for one JPEG at every multiple of
// Interval seconds of the video that falls in the chunk: the first frame
// at or after it. Count is how many fall in the chunk (0: to the end).
type ThumbnailSpec struct {
	Interval      int
	Count         int
	Width, Height int
	Dir           string // written as t_0001.jpg, t_0002.jpg, ...
}

// ThumbnailPattern names the thumbnails a chunk encode writes in its Dir.
const ThumbnailPattern = "t_%04d.jpg"

// ParseRate reads a frame rate in ffmpeg's notation ("30000/1001", "25")
// as a fraction.
func ParseRate(r string) (num, den int64, err error) {
	n, d, ok := strings.Cut(r, "/")
	if !ok {
		d = "1"
	}
	num, err1 := strconv.ParseInt(n, 10, 64)
	den, err2 := strconv.ParseInt(d, 10, 64)
	if err1 != nil || err2 != nil || num <= 0 || den <= 0 {
		return 0, 0, fmt.Errorf("ffmpeg: frame rate %q is not a positive fraction", r)
	}
	return num, den, nil
}

// chunkArgs builds the command line of one video chunk: every rendition,
// video only (the audio is its own rendition, encoded once).
func (s EncodeSpec) chunkArgs() []string {
	p, c, v := s.Profiles, s.Chunk, s.Source.Video
	args := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"}
	if c.Start > 0 {
		// Before -i: seek to the keyframe before and decode from there,
		// dropping what comes before Start (ffmpeg's accurate seek), with
		// timestamps starting at 0 from Start.
		args = append(args, "-ss", strconv.FormatFloat(c.Start, 'f', 6, 64))
	}
	args = append(args, inputArgs(s.Source)...)
	if s.Source.Format != "" {
		args = append(args, "-f", s.Source.Format)
	}
	args = append(args, "-i", "file:"+s.Input)

	rate, fps := OutputFrameRate(v, p.Video.MaxFrameRate)
	branches := len(s.Outputs)
	if c.Thumbnails != nil {
		branches++
	}
	// fps with start_time=0: the grid starts at the chunk's first instant,
	// which is a frame of the whole video's grid, so the chunks' frames
	// fall exactly where one encode of the whole video would put them.
	var g strings.Builder
	matrix := s.sourceGraph(&g, rate, ":start_time=0", branches)
	s.scaleBranches(&g, matrix)
	if t := c.Thumbnails; t != nil {
		// The first frame at or after each multiple of the interval, on
		// the video's clock (t is the chunk's).
		at := strconv.FormatFloat(c.Start, 'f', 6, 64)
		frame := strconv.FormatFloat(1/fps, 'f', 9, 64)
		sel := fmt.Sprintf("gt(floor((t+%s)/%d),floor((t+%s-%s)/%d))", at, t.Interval, at, frame, t.Interval)
		fmt.Fprintf(&g, ";[s%d]select='%s',scale=%d:%d:flags=bicubic:in_color_matrix=%s:out_color_matrix=bt601:out_range=pc,format=yuvj420p,setsar=1[th]",
			len(s.Outputs), sel, t.Width, t.Height, matrix)
	}
	args = append(args, "-filter_complex", g.String())

	kf := p.KeyframeInterval
	gop := int(2*fps*kf) + 1
	keep := KeepsCaptions(v, p.Video.MaxFrameRate)
	offset := strconv.FormatFloat(c.Start+TimestampOffset, 'f', 6, 64)
	for i, o := range s.Outputs {
		// Keyframes on the chunk's clock: the chunk starts on a segment
		// boundary, which is a multiple of the keyframe interval.
		args = append(args, "-map", fmt.Sprintf("[v%d]", i))
		args = append(args, videoArgs(p, o, gop, int(math.Round(fps*kf)))...)
		if !keep && (o.Codec == "" || o.Codec == profiles.CodecH264) {
			args = append(args, "-a53cc", "0")
		}
		if c.Frames > 0 {
			args = append(args, "-frames:v", strconv.Itoa(c.Frames))
		}
		args = append(args, outputTags()...)
		args = append(args, "-output_ts_offset", offset, "-f", "mpegts", "file:"+o.Path)
	}
	if t := c.Thumbnails; t != nil {
		args = append(args, "-map", "[th]", "-fps_mode", "passthrough", "-c:v", "mjpeg", "-q:v", "4")
		if t.Count > 0 {
			args = append(args, "-frames:v", strconv.Itoa(t.Count))
		}
		args = append(args, "-f", "image2", "file:"+filepath.Join(t.Dir, ThumbnailPattern))
	}
	if len(s.Source.Audios) > 0 && c.Start == 0 {
		limit := 0.0 // to the end, as the video
		if c.Frames > 0 {
			limit = float64(c.Frames)/fps + 1
		}
		args = append(args, clockKeeper(s.Source, limit, audioIndexes(s.Source)...)...)
	}
	return args
}

func audioIndexes(src Source) []int {
	idx := make([]int, len(src.Audios))
	for i, a := range src.Audios {
		idx[i] = a.Index
	}
	return idx
}

// clockKeeper is an output that also reads the other chosen tracks (copied
// to nothing) where ffmpeg needs them to keep the file's clock: reading one
// track of an MPEG-TS alone (the others discarded), ffmpeg counts time
// from that track's first timestamp instead of the file's, and a track that
// starts later than the other would come out that much early. Seekable
// (indexed) formats keep the clock, and a chunk after the first reads the
// remuxed copy with -ss (see Remux). limit, if positive, is how many
// seconds to read of them.
func clockKeeper(src Source, limit float64, indexes ...int) []string {
	if Seekable(src.Format) || len(indexes) == 0 {
		return nil
	}
	var args []string
	for _, i := range indexes {
		args = append(args, "-map", fmt.Sprintf("0:%d", i))
	}
	args = append(args, "-c", "copy")
	if limit > 0 {
		args = append(args, "-t", strconv.FormatFloat(limit, 'f', 3, 64))
	}
	return append(args, "-f", "null", "-")
}

// AudioSpec is the audio renditions' run: each of the source's audio
// tracks (Source.Audios), whole, as AAC-LC in MPEG-TS pieces that end where
// the video chunks do. One run reads the file once for all of them.
type AudioSpec struct {
	Input    string
	Source   Source
	Profiles profiles.Profiles
	// Boundaries are the start times of the chunks after the first.
	Boundaries []float64
	// Dir holds track i's pieces, AudioPiecePattern(i), and their list,
	// AudioPieceList(i).
	Dir     string
	Timeout time.Duration
	RunLimits
}

// AudioPieceList names the CSV file (name,start,end per line) in which
// ffmpeg lists each piece of audio track i once it is complete.
func AudioPieceList(track int) string { return fmt.Sprintf("pieces-%d.csv", track) }

// AudioPiecePattern names audio track i's pieces.
func AudioPiecePattern(track int) string { return fmt.Sprintf("a%d_%%05d.ts", track) }

// Args builds the audio run's command line.
func (s AudioSpec) Args() []string {
	p := s.Profiles
	args := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"}
	args = append(args, inputArgs(s.Source)...)
	if s.Source.Format != "" {
		args = append(args, "-f", s.Source.Format)
	}
	args = append(args, "-i", "file:"+s.Input)
	var times string
	if len(s.Boundaries) > 0 {
		t := make([]string, len(s.Boundaries))
		for i, b := range s.Boundaries {
			// The segment muxer sees the timestamps with the offset added.
			t[i] = strconv.FormatFloat(b+TimestampOffset, 'f', 6, 64)
		}
		times = strings.Join(t, ",")
	}
	for i, a := range s.Source.Audios {
		args = append(args, "-map", fmt.Sprintf("0:%d", a.Index), "-vn", "-sn", "-dn")
		args = append(args, aacArgs(p)...)
		args = append(args, "-output_ts_offset", strconv.FormatFloat(TimestampOffset, 'f', 6, 64))
		args = append(args, outputTags()...)
		args = append(args,
			"-f", "segment", "-segment_format", "mpegts", "-reset_timestamps", "0",
			"-segment_list", "file:"+filepath.Join(s.Dir, AudioPieceList(i)), "-segment_list_type", "csv",
		)
		if times != "" {
			args = append(args, "-segment_times", times)
		} else {
			args = append(args, "-segment_time", "1000000000") // one piece
		}
		args = append(args, "file:"+filepath.Join(s.Dir, AudioPiecePattern(i)))
	}
	if v := s.Source.Video; v != nil {
		args = append(args, clockKeeper(s.Source, 0, v.Index)...)
	}
	return args
}

// EncodeAudio runs the audio renditions' encode.
func EncodeAudio(ctx context.Context, spec AudioSpec) error {
	return runWithProgress(ctx, spec.Timeout, spec.Args(), spec.Source.Duration, nil, spec.RunLimits)
}

// Seekable reports whether ffmpeg seeks reliably in sources of a format (as
// Probe names it): formats with an index. In others (MPEG-TS above all,
// whose timestamps may start anywhere and wrap) a seek may land nowhere, so
// such sources are remuxed once (Remux) before they are cut into chunks.
func Seekable(format string) bool {
	return format == "mov" || format == "matroska"
}

// Remux copies the source's video and audio tracks (the ones Probe chose),
// without re-encoding, into a Matroska file at out: indexed, so chunks can
// seek in it, with timestamps made continuous from 0. (Matroska keeps no
// rotation, but sources that carry one are MP4/MOV, which need no remux.)
func Remux(ctx context.Context, input string, src Source, out string, timeout time.Duration) error {
	args := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"}
	args = append(args, inputArgs(src)...)
	if src.Format != "" {
		args = append(args, "-f", src.Format)
	}
	args = append(args, "-i", "file:"+input)
	if v := src.Video; v != nil {
		args = append(args, "-map", fmt.Sprintf("0:%d", v.Index))
	}
	for _, a := range src.Audios {
		args = append(args, "-map", fmt.Sprintf("0:%d", a.Index))
	}
	args = append(args, "-c", "copy", "-f", "matroska", "file:"+out)
	return run(ctx, orDefault(timeout), "ffmpeg", args, nil)
}
