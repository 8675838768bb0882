package ffmpeg

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/profiles"
)

// Output is one rendition file an encode produces.
type Output struct {
	Name  string
	Codec string // profiles.CodecH264 ("" too), CodecHEVC, CodecAV1
	// HDR keeps an HDR source's transfer ("pq" or "hlg", VideoStream.HDR):
	// a 10-bit BT.2020 rendition, not tone-mapped (HEVC and AV1 only).
	HDR string
	// HDR10 is the source's static metadata an HDR rendition carries on
	// (SEI, metadata OBUs); nil if the source has none.
	HDR10         *HDR10
	Width, Height int // 0 for audio-only
	VideoKbps     int
	MaxrateKbps   int
	BufsizeKbps   int
	Path          string // local MPEG-TS file to write
}

// EncodeSpec is one ffmpeg run: one decode of the source, every rendition out.
type EncodeSpec struct {
	Input    string // local file
	Source   Source
	Outputs  []Output
	Profiles profiles.Profiles
	Timeout  time.Duration
	// Progress, if set, is called with the fraction of the source encoded so far.
	Progress func(fraction float64)
	// Chunk, if set, encodes one chunk of the video's renditions, video
	// only; nil encodes the whole source with its audio in every rendition.
	Chunk *ChunkSpec
	RunLimits
}

// standardRates are the frame rates outputs may have, in ffmpeg's notation.
// Variable or odd source rates (a phone's 15.865 average) snap to the
// nearest: such rates cannot be written exactly in 90 kHz timestamps, so
// players (and FRAME-RATE checks) would see a rate other than the declared one.
var standardRates = []string{"5", "6", "8", "10", "12", "25/2", "15", "24000/1001", "24", "25",
	"30000/1001", "30", "48", "50", "60000/1001", "60"}

// OutputFrameRate is the frame rate every rendition gets: the standard rate
// nearest the source's average, capped at max. It returns ffmpeg's notation
// (exact for 29.97) and the value.
//
// An interlaced source's rate is its field rate where that is within max
// (1080i50 becomes 50p; see deinterlaceFilter).
func OutputFrameRate(v *VideoStream, max float64) (string, float64) {
	src := sourceRate(v)
	if fieldRate(v, max) {
		src *= 2
	}
	best, bestRate := "", 0.0
	for _, r := range standardRates {
		f := parseRate(r)
		if f > max {
			continue
		}
		// Nearest by ratio, so 15.865 snaps to 15 and 27 to 25.
		if best == "" || math.Abs(math.Log(f/src)) < math.Abs(math.Log(bestRate/src)) {
			best, bestRate = r, f
		}
	}
	if best == "" { // a cap below every standard rate
		return strconv.FormatFloat(max, 'f', -1, 64), max
	}
	return best, bestRate
}

// KeepsCaptions reports whether the renditions of v can carry its closed
// captions on (x264 writes each frame's CEA-608/708 cc_data: libx264's
// a53cc): only at the source's own frame rate. FFmpeg 5.1 has no filter
// to repack cc_data, so a frame per field (deinterlacing) repeats every
// byte pair ("HELLO" reads "HEHELLLLOO") and a lower rate drops some
// ("HEO"); the chunk encodes then leave them out.
func KeepsCaptions(v *VideoStream, max float64) bool {
	_, out := OutputFrameRate(v, max)
	return !fieldRate(v, max) && math.Abs(out/sourceRate(v)-1) < 0.001
}

// yuvMatrices maps the YCbCr matrices ffprobe reports that hlsd reads to the
// scale filter's name for them.
var yuvMatrices = map[string]string{
	"bt709": "bt709", "bt470bg": "bt601", "smpte170m": "bt601", "smpte240m": "smpte240m", "fcc": "fcc", "bt2020nc": "bt2020",
}

// SourceMatrix is the YCbCr matrix of the source's pictures, in the scale
// filter's names: its own when it names one, otherwise what players assume
// for an untagged picture of its size (BT.709 from 1280x720 up, BT.601
// below). The scalers convert from it to BT.709, what every rendition is.
func SourceMatrix(v *VideoStream) string {
	if sc, ok := yuvMatrices[v.ColorSpace]; ok {
		return sc
	}
	if v.Width >= 1280 || v.Height >= 720 {
		return "bt709"
	}
	return "bt601"
}

// outputTags go before every published output: none of the source's
// metadata (title, comment, location, device and owner tags, stream titles
// and handler names, chapters) is copied, and the transport stream names
// hlsd as its service (ffmpeg would name the source's title there). A
// phone's recording carries where and on what it was made; viewers get the
// picture and the sound only.
func outputTags() []string {
	return []string{"-map_metadata", "-1", "-map_chapters", "-1",
		"-metadata", "service_provider=hlsd", "-metadata", "service_name=hlsd"}
}

// Args builds the ffmpeg command line.
func (s EncodeSpec) Args() []string {
	if s.Chunk != nil && s.Source.Video != nil {
		return s.chunkArgs()
	}
	p := s.Profiles
	args := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"}
	args = append(args, inputArgs(s.Source)...)
	if s.Source.Format != "" {
		args = append(args, "-f", s.Source.Format) // the demuxer that probed it, nothing else
	}
	args = append(args, "-i", "file:"+s.Input)

	audio := []string{}
	if a := s.Source.Audio(); a != nil {
		audio = append([]string{"-map", fmt.Sprintf("0:%d", a.Index)}, aacArgs(p)...)
	}
	v := s.Source.Video
	if v == nil {
		for _, o := range s.Outputs {
			args = append(args, audio...)
			args = append(args, outputTags()...)
			args = append(args, "-f", "mpegts", "file:"+o.Path)
		}
		return args
	}

	rate, fps := OutputFrameRate(v, p.Video.MaxFrameRate)
	// One decode, progressive SDR frames at a constant rate (variable-rate
	// sources become constant), then one scaled branch per rendition.
	var g strings.Builder
	matrix := s.sourceGraph(&g, rate, "", len(s.Outputs))
	s.scaleBranches(&g, matrix)
	args = append(args, "-filter_complex", g.String())

	// Keyframes: forced on every keyframe interval's worth of frames
	// (forceKeyframes), and nowhere else (no scene cuts, GOP longer than the
	// interval), so every rendition has keyframes on the same frames and
	// segment boundaries align.
	kf := p.KeyframeInterval
	gop := int(2*fps*kf) + 1
	for i, o := range s.Outputs {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i))
		args = append(args, videoArgs(p, o, gop, int(math.Round(fps*kf)))...)
		args = append(args, audio...)
		args = append(args, outputTags()...)
		args = append(args, "-f", "mpegts", "file:"+o.Path)
	}
	return args
}

// videoArgs are one rendition's encoder options, for its codec.
// gop is the longest GOP x264 and x265 may make (keyframes are forced at
// every interval), interval the frames of one keyframe interval.
func videoArgs(p profiles.Profiles, o Output, gop, interval int) []string {
	switch o.Codec {
	case profiles.CodecHEVC:
		return x265Args(p, o, gop, interval)
	case profiles.CodecAV1:
		return svtAV1Args(p, o, interval)
	}
	return x264Args(p, o, gop, interval)
}

// forceKeyframes puts a keyframe on every interval-th frame of the output
// (from the chunk's first): by frame count, not time, because SVT-AV1
// takes no forced key frames and can only count frames (its GOP), and the
// codecs' keyframes, so their segment boundaries, must fall on the same
// frames. At a whole frame rate that is every keyframe_interval exactly; at
// 59.94 fps "the first frame at or after each 2 s" would part from every
// 120th frame 18 s into a chunk.
func forceKeyframes(interval int) []string {
	return []string{"-force_key_frames", fmt.Sprintf("expr:eq(mod(n,%d),0)", interval)}
}

// x265Args are an HEVC rendition's: Main profile, 8-bit, closed GOPs of the
// keyframe interval (every keyframe an IDR, none from scene cuts), the
// parameter sets repeated at each (the segmenter moves them into the
// hvc1 sample entry), the rung's rates as x264Args spends them. Capped CRF
// is x264's CRF plus 4, about the same picture on x265's scale.
func x265Args(p profiles.Profiles, o Output, gop, interval int) []string {
	params := fmt.Sprintf("keyint=%d:min-keyint=%d:scenecut=0:open-gop=0:repeat-headers=1:log-level=error", gop, gop)
	profile, pixFmt := "main", "yuv420p"
	if o.HDR != "" {
		// Main 10, the transfer kept; hdr10-opt: x265's HDR10 tuning.
		profile, pixFmt = "main10", "yuv420p10le"
		params += ":hdr10-opt=1:colorprim=bt2020:colormatrix=bt2020nc:range=limited:transfer=" + hdrTransfer[o.HDR]
		if o.HDR10.HasDisplay() {
			params += ":hdr10=1:master-display=" + o.HDR10.x265Display()
		}
		if o.HDR10.HasLight() {
			params += fmt.Sprintf(":max-cll=%d,%d", o.HDR10.MaxCLL, o.HDR10.MaxFALL)
		}
	}
	args := []string{"-c:v", "libx265", "-preset", p.Video.Preset, "-profile:v", profile, "-pix_fmt", pixFmt, "-tag:v", "hvc1", "-forced-idr", "1"}
	if p.Video.CappedCRF() {
		args = append(args, "-crf", strconv.FormatFloat(p.Video.Quality()+4, 'f', -1, 64),
			"-maxrate", fmt.Sprintf("%dk", o.VideoKbps*95/100), "-bufsize", fmt.Sprintf("%dk", o.VideoKbps))
	} else {
		args = append(args, "-b:v", fmt.Sprintf("%dk", o.VideoKbps), "-maxrate", fmt.Sprintf("%dk", o.MaxrateKbps),
			"-bufsize", fmt.Sprintf("%dk", o.BufsizeKbps))
	}
	args = append(args, "-x265-params", params)
	args = append(args, forceKeyframes(interval)...)
	return append(args, outputColourArgs(o)...)
}

// hdrTransfer is the transfer characteristic of an HDR rendition, in
// FFmpeg's and x265's names.
var hdrTransfer = map[string]string{"pq": "smpte2084", "hlg": "arib-std-b67"}

// outputColourArgs tag a rendition: BT.709 (colourArgs), or for an HDR one
// BT.2020 with its transfer.
func outputColourArgs(o Output) []string {
	if o.HDR == "" {
		return colourArgs()
	}
	return []string{"-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", hdrTransfer[o.HDR], "-color_range", "tv"}
}

// svtAV1Presets maps x264's preset names onto SVT-AV1's speed presets (0
// slowest, 13 fastest) of about the same place in their range.
var svtAV1Presets = map[string]string{
	"ultrafast": "12", "superfast": "11", "veryfast": "10", "faster": "9", "fast": "8",
	"medium": "7", "slow": "6", "slower": "5", "veryslow": "4",
}

// svtAV1Args are an AV1 rendition's: SVT-AV1, 8-bit 4:2:0 (Main profile),
// closed GOPs of key frames at the keyframe interval (irefresh-type=2, no
// scene-change key frames; FFmpeg 5.1's libsvtav1 ignores forced key
// frames, so the GOP is the interval's frames), the rung's rates (VBR under its maxrate), or
// for capped CRF a CRF of x264's times 1.6 (about the same picture on
// SVT-AV1's 0-63 scale) under 95 % of the rung's rate (mbr).
func svtAV1Args(p profiles.Profiles, o Output, interval int) []string {
	params := "scd=0:irefresh-type=2"
	pixFmt := "yuv420p"
	if o.HDR != "" {
		pixFmt = "yuv420p10le" // still AV1 Main: 10-bit 4:2:0
		if o.HDR10.HasDisplay() {
			params += ":enable-hdr=1:mastering-display=" + o.HDR10.svtDisplay()
		}
		if o.HDR10.HasLight() {
			params += fmt.Sprintf(":content-light=%d,%d", o.HDR10.MaxCLL, o.HDR10.MaxFALL)
		}
	}
	args := []string{"-c:v", "libsvtav1", "-preset", svtAV1Presets[p.Video.Preset], "-pix_fmt", pixFmt, "-g", strconv.Itoa(interval)}
	if p.Video.CappedCRF() {
		args = append(args, "-crf", strconv.Itoa(int(p.Video.Quality()*1.6+0.5)))
		params += fmt.Sprintf(":mbr=%d", o.VideoKbps*95/100)
	} else {
		args = append(args, "-b:v", fmt.Sprintf("%dk", o.VideoKbps), "-maxrate", fmt.Sprintf("%dk", o.MaxrateKbps),
			"-bufsize", fmt.Sprintf("%dk", o.BufsizeKbps))
	}
	args = append(args, "-svtav1-params", params)
	return append(args, outputColourArgs(o)...)
}

// x264Args are one rendition's encoder options. Keyframes: forced on every
// keyframe interval's worth of frames (forceKeyframes), and nowhere else
// (no scene cuts, GOP longer than the interval), so every rendition has
// keyframes on the same frames and segment boundaries align.
func x264Args(p profiles.Profiles, o Output, gop, interval int) []string {
	// Fixed: the rung's average rate, under its maxrate and bufsize.
	rate := []string{"-b:v", fmt.Sprintf("%dk", o.VideoKbps), "-maxrate", fmt.Sprintf("%dk", o.MaxrateKbps),
		"-bufsize", fmt.Sprintf("%dk", o.BufsizeKbps)}
	if p.Video.CappedCRF() {
		// Constant quality under a VBV ceiling of 95 % of the rung's
		// rate with a one-second buffer: each encode (a chunk) may also
		// spend the buffer's starting fill, and with it a hard picture
		// still costs no more than fixed spends (BENCHMARKS.md,
		// "Per-title encoding"): 6195 kbit/s against fixed's 6092 on 10 s
		// of grain at 1080p with the rate as the ceiling, 5842 at 90 %.
		rate = []string{"-crf", strconv.FormatFloat(p.Video.Quality(), 'f', -1, 64),
			"-maxrate", fmt.Sprintf("%dk", o.VideoKbps*95/100), "-bufsize", fmt.Sprintf("%dk", o.VideoKbps)}
	}
	args := []string{"-c:v", "libx264", "-preset", p.Video.Preset, "-profile:v", p.Video.Profile}
	args = append(args, rate...)
	args = append(args,
		"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop),
		"-sc_threshold", "0", "-forced-idr", "1",
		"-x264-params", "open_gop=0",
	)
	args = append(args, forceKeyframes(interval)...)
	// Said in the VUI, so players need not guess.
	return append(args, colourArgs()...)
}

// aacArgs encode an audio track as every audio rendition is: AAC-LC at the
// profile's rate, channels (5.1 is downmixed) and sample rate, with gaps
// filled and overlaps trimmed so the audio stays in sync with the video,
// starting at the instant the video does.
func aacArgs(p profiles.Profiles) []string {
	return []string{
		"-c:a", "aac", "-profile:a", "aac_low",
		"-b:a", fmt.Sprintf("%dk", p.Audio.Kbps),
		"-ac", strconv.Itoa(p.Audio.Channels),
		"-ar", strconv.Itoa(p.Audio.SampleRate),
		"-af", "aresample=async=1:first_pts=0",
	}
}

// sourceGraph writes the start of a filter graph: the source's video
// through pictureFilters (with fps options fpsOpts), split in n. It returns
// the YCbCr matrix of the split frames, for the scalers.
//
// HDR outputs (Output.HDR) branch off before the tone mapping: the source's
// own colours, for their scalers to keep.
func (s EncodeSpec) sourceGraph(g *strings.Builder, rate, fpsOpts string, n int) string {
	v := s.Source.Video
	w, h := 0, 0
	var sdr, hdr []int // the branches: output indexes (the ones past the outputs are SDR)
	for i := range n {
		if i < len(s.Outputs) && s.Outputs[i].HDR != "" {
			hdr = append(hdr, i)
			continue
		}
		sdr = append(sdr, i)
		if i < len(s.Outputs) && s.Outputs[i].Width*s.Outputs[i].Height > w*h { // colours are converted at the largest size
			w, h = s.Outputs[i].Width, s.Outputs[i].Height
		}
	}
	chain, matrix := pictureFilters(v, fieldRate(v, s.Profiles.Video.MaxFrameRate), rate, fpsOpts, w, h)
	labels := func(idx []int) {
		for _, i := range idx {
			fmt.Fprintf(g, "[s%d]", i)
		}
	}
	tone := toneMapFilter(v, w, h)
	if len(hdr) == 0 || tone == "" {
		fmt.Fprintf(g, "[0:%d]%s,split=%d", v.Index, strings.Join(chain, ","), n)
		labels(append(sdr, hdr...))
		return matrix
	}
	common := "null"
	if len(chain) > 1 {
		common = strings.Join(chain[:len(chain)-1], ",") // all but the tone mapping, which is last
	}
	fmt.Fprintf(g, "[0:%d]%s,split=2[sdr][hdr];[sdr]%s,split=%d", v.Index, common, tone, len(sdr))
	labels(sdr)
	fmt.Fprintf(g, ";[hdr]split=%d", len(hdr))
	labels(hdr)
	return matrix
}

// scaleBranches writes one scaler per output, [s{i}] to [v{i}]: to its
// size, to the BT.709 matrix, to limited range (full-range, yuvj, sources
// are converted, not relabelled), 8-bit 4:2:0 with square pixels.
func (s EncodeSpec) scaleBranches(g *strings.Builder, matrix string) {
	for i, o := range s.Outputs {
		if o.HDR != "" && s.Source.Video.HDR() != "" {
			// HDR: the source's BT.2020 matrix kept, 10-bit.
			fmt.Fprintf(g, ";[s%d]scale=%d:%d:flags=bicubic:in_color_matrix=bt2020:out_color_matrix=bt2020:out_range=tv,format=yuv420p10le,setsar=1[v%d]",
				i, o.Width, o.Height, i)
			continue
		}
		fmt.Fprintf(g, ";[s%d]scale=%d:%d:flags=bicubic:in_color_matrix=%s:out_color_matrix=bt709:out_range=tv,format=yuv420p,setsar=1[v%d]",
			i, o.Width, o.Height, matrix, i)
	}
}

// Encode runs ffmpeg for spec.
func Encode(ctx context.Context, spec EncodeSpec) error {
	duration := spec.Source.Duration
	if spec.Chunk != nil && spec.Chunk.Frames > 0 {
		_, fps := OutputFrameRate(spec.Source.Video, spec.Profiles.Video.MaxFrameRate)
		duration = float64(spec.Chunk.Frames) / fps
	} else if spec.Chunk != nil {
		duration = max(duration-spec.Chunk.Start, 0.001)
	}
	return runWithProgress(ctx, spec.Timeout, spec.Args(), duration, spec.Progress, spec.RunLimits)
}

// runWithProgress runs ffmpeg with args (which ask for -progress pipe:1),
// telling progress the fraction of duration done. A frame over the pixel
// limit ends it with the uploader's reason (a ProbeError), even where
// ffmpeg went on past the frames its decoder refused.
func runWithProgress(ctx context.Context, timeout time.Duration, args []string, duration float64, progress func(float64), lim RunLimits) error {
	if timeout <= 0 {
		timeout = time.Hour
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		readProgress(pr, duration, progress)
	}()
	stderr := &tailBuffer{max: 16 << 10}
	err := runLimited(ctx, timeout, "ffmpeg", args, runOpts{stdout: pw, stderr: stderr, cpuBudget: lim.CPUBudget, usage: lim.Usage, nice: lim.Nice, held: lim.Held})
	pw.Close()
	<-done
	if le := pixelLimitError(stderr.String(), err); le != nil {
		return le
	}
	return err
}

// RunLimits bound an encode beyond its wall-clock timeout.
type RunLimits struct {
	// CPUBudget, if positive, is the CPU time the run may use before it
	// is killed (ErrCPUBudget).
	CPUBudget time.Duration
	// Usage, if set, is told the run's CPU time and peak memory.
	Usage func(Usage)
	// Nice, if positive, runs ffmpeg at this lower CPU priority (nice(1),
	// 1–19): a later chunk yields the cores to a new video's first chunk
	// encoding beside it, and takes them back when it is done.
	Nice int
	// Held, if set, is asked about five times a second whether the run
	// should wait: ffmpeg is stopped while it answers true, and goes on
	// where it was after. The audio run waits so, once its first piece is
	// out, while the video's first chunk encodes.
	Held func() bool
}

// readProgress follows ffmpeg's -progress output ("out_time_us=12345").
func readProgress(r io.Reader, duration float64, fn func(float64)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), "=")
		if !ok || k != "out_time_us" || fn == nil || duration <= 0 {
			continue
		}
		us, err := strconv.ParseInt(val, 10, 64)
		if err != nil || us < 0 {
			continue
		}
		fn(min(float64(us)/1e6/duration, 1))
	}
	_, _ = io.Copy(io.Discard, r)
}
