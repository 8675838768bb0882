package ffmpeg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/video"
)

// Extent is what a source's main stream really holds, counted packet by
// packet: a container's duration is a claim (a 150 KB Matroska file once
// claimed an hour and made 121 chunk jobs for 2 s of content).
type Extent struct {
	Packets     int
	First, Last float64 // seconds: the first packet's start, the last one's end
}

// Seconds is the time the packets span.
func (e Extent) Seconds() float64 { return math.Max(e.Last-e.First, 0) }

// ScanWorthwhile tells whether counting a source's packets is cheap enough
// or its duration claim doubtful enough to do it: files up to 64 MiB, and
// any file with under 64 KiB per claimed second (no real video is that
// thin for long; a padded claim is). Large files that are as big as they
// claim to be are not read twice before their first segment.
func ScanWorthwhile(size int64, claimed float64) bool {
	return size <= 64<<20 || claimed > 0 && float64(size)/claimed < 64<<10
}

// ScanPackets reads every packet header of the source's video stream (its
// audio stream when it has no video), without decoding.
func ScanPackets(ctx context.Context, path string, src Source, timeout time.Duration) (Extent, error) {
	stream := ""
	switch {
	case src.Video != nil:
		stream = strconv.Itoa(src.Video.Index)
	case src.Audio() != nil:
		stream = strconv.Itoa(src.Audio().Index)
	default:
		return Extent{}, fmt.Errorf("ffprobe: no stream to scan")
	}
	args := append([]string{"-v", "error", "-hide_banner"}, inputArgs(src)...)
	if src.Format != "" {
		args = append(args, "-f", src.Format)
	}
	args = append(args, "-select_streams", stream, "-show_entries", "packet=pts_time,dts_time,duration_time", "-of", "csv=p=0", "-i", "file:"+path)
	var out bytes.Buffer
	if err := run(ctx, orDefault(timeout), "ffprobe", args, &out); err != nil {
		return Extent{}, fmt.Errorf("scan packets: %w", err)
	}
	return parseExtent(out.Bytes()), nil
}

// parseExtent reads ffprobe's "pts,dts,duration" lines (any may be N/A;
// the order of the fields is ffprobe's, not the request's).
func parseExtent(b []byte) Extent {
	e := Extent{First: math.Inf(1), Last: math.Inf(-1)}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(f) < 3 {
			continue
		}
		t, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			if t, err = strconv.ParseFloat(f[1], 64); err != nil {
				continue
			}
		}
		if math.IsNaN(t) || math.IsInf(t, 0) {
			continue
		}
		d, err := strconv.ParseFloat(f[2], 64)
		if err != nil || d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
			d = 0
		}
		e.Packets++
		e.First = math.Min(e.First, t)
		e.Last = math.Max(e.Last, t+d)
	}
	if e.Packets == 0 {
		return Extent{}
	}
	return e
}

// MaxInventedPerFrame bounds how many frames a constant-rate output may
// add for each frame a source really has (a 1 fps slideshow becomes 5 fps,
// 4 per frame; a variable-rate phone clip far fewer).
const MaxInventedPerFrame = 8

// CheckInvented refuses a source whose output would be mostly invented
// frames: too few real frames for its span at the output rate. Frame-rate
// conversion fills gaps with copies, so 61 frames with a 66 s gap once
// became 3,961 encoded frames. Ten seconds' worth are always allowed.
func CheckInvented(e Extent, fps float64) error {
	if e.Packets == 0 || fps <= 0 {
		return nil
	}
	out := e.Seconds() * fps
	if out <= float64(e.Packets*(1+MaxInventedPerFrame))+10*fps {
		return nil
	}
	return &ProbeError{Code: video.CodeLimitExceeded, Reason: fmt.Sprintf(
		"The video has %d frames over %s: at %g frames per second hlsd would have to invent %.0f frames (at most %d per real frame are allowed)",
		e.Packets, fmtDur(e.Seconds()), math.Round(fps*1000)/1000, out-float64(e.Packets), MaxInventedPerFrame)}
}

// CPU costs the budgets allow, ten times what was measured on this
// project's 2-core test machine (x264 at the profiles' preset: about 0.025
// CPU-seconds per megapixel encoded; H.264 decoding about 0.005 per
// megapixel decoded), so a legitimate encode never meets them on a slow
// or busy machine, and a crafted one is stopped at ten times its due.
const (
	cpuPerEncodedPixel = 0.25e-6 // seconds
	cpuPerDecodedPixel = 0.05e-6
	cpuPerAudioSecond  = 0.2
	cpuBudgetBase      = time.Minute
)

// ChunkCPUBudget is the CPU time a chunk's encode of seconds of src into
// outputs at fps, with the profiles' preset, may use: its pixels decoded
// and encoded at ten times the measured cost (each output's encoder at
// that preset: EncoderCost), plus a minute.
func ChunkCPUBudget(src Source, outputs []Output, preset string, fps, seconds float64) time.Duration {
	cost := 0.0
	if v := src.Video; v != nil {
		cost += float64(v.Width*v.Height) * sourceRate(v) * seconds * cpuPerDecodedPixel
	}
	for _, o := range outputs {
		cost += float64(o.Width*o.Height) * fps * seconds * cpuPerEncodedPixel * EncoderCost(o.Codec, preset)
	}
	return cpuBudgetBase + time.Duration(cost*float64(time.Second))
}

// encoderCost is the CPU an encoder spends at each preset name of the
// profiles, as a multiple of x264 at veryfast (what cpuPerEncodedPixel was
// measured with): the larger of bench/preset-cost.sh at 720p and the
// measures on a real clip and in bench/rate-control.sh, rounded up
// (BENCHMARKS.md, "Encoder cost by preset"). SVT-AV1 is listed under the
// x264 names hlsd maps onto its speeds (svtAV1Presets).
var encoderCost = map[string]map[string]float64{
	profiles.CodecH264: {"ultrafast": 1, "superfast": 1, "veryfast": 1, "faster": 1.5, "fast": 2, "medium": 2, "slow": 3, "slower": 5, "veryslow": 8},
	profiles.CodecHEVC: {"ultrafast": 2, "superfast": 2.5, "veryfast": 3, "faster": 3, "fast": 3.5, "medium": 5.5, "slow": 12, "slower": 30, "veryslow": 47},
	profiles.CodecAV1:  {"ultrafast": 1.5, "superfast": 2, "veryfast": 4, "faster": 4, "fast": 5, "medium": 7.5, "slow": 10.5, "slower": 18, "veryslow": 45},
}

// EncoderCost is what an output of codec ("" is H.264) at preset costs
// against x264 at veryfast, at least 1: a faster preset keeps the budget
// and the time an H.264 veryfast encode has, a slower one or another codec
// gets more, so it is not stopped as a runaway.
func EncoderCost(codec, preset string) float64 {
	if codec == "" {
		codec = profiles.CodecH264
	}
	if c, ok := encoderCost[codec][preset]; ok {
		return max(c, 1)
	}
	return 1
}

// LadderCost is what outputs cost at preset against the same pixels in
// x264 at veryfast (EncoderCost weighted by each output's pixels): the
// factor an encode's time limit grows by.
func LadderCost(outputs []Output, preset string) float64 {
	var pixels, weighted float64
	for _, o := range outputs {
		p := float64(o.Width * o.Height)
		pixels += p
		weighted += p * EncoderCost(o.Codec, preset)
	}
	if pixels == 0 {
		return 1
	}
	return weighted / pixels
}

// AudioCPUBudget is the CPU time the audio rendition's encode of seconds
// of sound may use.
func AudioCPUBudget(seconds float64) time.Duration {
	return cpuBudgetBase + time.Duration(seconds*cpuPerAudioSecond*float64(time.Second))
}
