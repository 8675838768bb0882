// Package profiles reads profiles.json, the single place where the bitrate
// ladder, segment duration and encoder settings are tuned, and picks the
// renditions a given source gets.
package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Profiles is the whole of profiles.json.
type Profiles struct {
	// SegmentDuration is the HLS target duration in seconds.
	SegmentDuration float64 `json:"segment_duration"`
	// KeyframeInterval in seconds; it must divide SegmentDuration so that
	// every segment boundary falls on a forced keyframe in every rendition.
	KeyframeInterval float64     `json:"keyframe_interval"`
	Video            Video       `json:"video"`
	Audio            Audio       `json:"audio"`
	Renditions       []Rendition `json:"renditions"`
	// Encryption of the segments: EncryptionNone (also when absent) or
	// EncryptionAES128 (whole segments, AES-128-CBC, one key per video).
	Encryption string `json:"encryption,omitempty"`
	// Container of the segments: ContainerTS (also when absent) or
	// ContainerCMAF (fragmented MP4: an init.mp4 per rendition and
	// seg_NNNNN.m4s segments, named by EXT-X-MAP).
	Container string `json:"container,omitempty"`
}

// Values of Profiles.Container.
const (
	ContainerTS   = "ts"
	ContainerCMAF = "cmaf"
)

// CMAF reports whether videos made with these profiles get CMAF segments.
func (p Profiles) CMAF() bool { return p.Container == ContainerCMAF }

// Values of Profiles.Encryption.
const (
	EncryptionNone   = "none"
	EncryptionAES128 = "aes-128"
)

// Encrypted reports whether videos made with these profiles get AES-128
// encrypted segments.
func (p Profiles) Encrypted() bool { return p.Encryption == EncryptionAES128 }

// Video holds settings shared by every video rendition (H.264 via libx264).
type Video struct {
	Preset       string  `json:"preset"`  // x264 preset
	Profile      string  `json:"profile"` // H.264 profile: high, main or baseline
	MaxFrameRate float64 `json:"max_frame_rate"`
	// RateControl is how bits are spent: RateFixed (also when absent),
	// each rung's video_kbps on average whatever the picture, or
	// RateCappedCRF, constant quality (CRF) with the rung's rate as a
	// ceiling: a still slide costs a fraction, a hard scene no more.
	RateControl string `json:"rate_control,omitempty"`
	// CRF is capped-crf's quality (x264's scale: lower is better; 0:
	// DefaultCRF).
	CRF float64 `json:"crf,omitempty"`
}

// Values of Video.RateControl.
const (
	RateFixed     = "fixed"
	RateCappedCRF = "capped-crf"
)

// DefaultCRF is capped-crf's quality when the profiles name none. x264's
// own default, 23, lost up to 0.0033 of SSIM against fixed rates on a still
// slide; 20 loses at most 0.001 there and still spends less than half
// (BENCHMARKS.md, "Per-title encoding").
const DefaultCRF = 20

// CappedCRF reports whether renditions are encoded at constant quality
// under their rung's rate.
func (v Video) CappedCRF() bool { return v.RateControl == RateCappedCRF }

// Quality is the CRF capped-crf encodes with.
func (v Video) Quality() float64 {
	if v.CRF > 0 {
		return v.CRF
	}
	return DefaultCRF
}

// Audio holds the AAC-LC settings, for every audio track.
type Audio struct {
	Kbps       int `json:"kbps"`
	Channels   int `json:"channels"`
	SampleRate int `json:"sample_rate"`
	// MaxTracks is how many of a source's audio tracks become renditions
	// (the first ones, in file order; 0: DefaultMaxAudioTracks).
	MaxTracks int `json:"max_tracks,omitempty"`
}

// DefaultMaxAudioTracks: enough for a film's languages, commentary and
// audio description; the cap bounds a hostile file's work (a file has
// at most 32 streams: ffmpeg.DefaultLimits).
const DefaultMaxAudioTracks = 8

// Tracks is how many audio tracks a video may keep.
func (a Audio) Tracks() int {
	if a.MaxTracks > 0 {
		return a.MaxTracks
	}
	return DefaultMaxAudioTracks
}

// Rendition is one rung of the ladder. Height names a 16:9 box
// (Height x Height*16/9, turned for portrait sources) the picture is fitted into.
type Rendition struct {
	Name        string `json:"name"`
	Height      int    `json:"height"`
	VideoKbps   int    `json:"video_kbps"`
	MaxrateKbps int    `json:"maxrate_kbps"`
	BufsizeKbps int    `json:"bufsize_kbps"`
	Enabled     bool   `json:"enabled"`
	// Codecs are the encoders that make this rung, each its own rendition
	// (variant): CodecH264 (also when absent) keeps the rung's name,
	// CodecHEVC and CodecAV1 add "-hevc" and "-av1" to it, at their share
	// of the rung's rates (CodecRateShare). HEVC and AV1 need container
	// "cmaf".
	Codecs []string `json:"codecs,omitempty"`
}

// Values of Rendition.Codecs.
const (
	CodecH264 = "h264" // x264
	CodecHEVC = "hevc" // x265, hvc1
	CodecAV1  = "av1"  // SVT-AV1
)

// codecs in the order their renditions are planned: H.264 first, so a
// player that ignores CODECS starts with what every device plays.
var codecs = []string{CodecH264, CodecHEVC, CodecAV1}

// CodecRateShare is the share of a rung's rates (average, maxrate, buffer)
// an encoder gets. 0.65 and 0.55 are what HEVC and AV1 are usually said to
// need for H.264's picture; measured by SSIM, FFmpeg 5.1's x265 and
// SVT-AV1 at hlsd's presets need about as many bytes as x264 or more, so
// these renditions fall short of their H.264 rung's SSIM (BENCHMARKS.md,
// "Codec efficiency at equal quality", bench/codec-rd.sh).
var CodecRateShare = map[string]float64{CodecH264: 1, CodecHEVC: 0.65, CodecAV1: 0.55}

// CodecsOrDefault is the rung's codecs: H.264 alone when it names none.
func (r Rendition) CodecsOrDefault() []string {
	if len(r.Codecs) == 0 {
		return []string{CodecH264}
	}
	return r.Codecs
}

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	presets  = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}
	h264Prof = []string{"baseline", "main", "high"}
)

// Load reads and validates a profiles file.
func Load(path string) (Profiles, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Profiles{}, fmt.Errorf("profiles: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return Profiles{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates profiles JSON; unknown fields are errors so a
// typo never silently falls back to a default.
func Parse(b []byte) (Profiles, error) {
	var p Profiles
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profiles{}, fmt.Errorf("invalid JSON: %w", err)
	}
	return p, p.Validate()
}

// Validate names the first field that is wrong.
func (p Profiles) Validate() error {
	switch {
	case p.SegmentDuration < 1 || p.SegmentDuration > 30:
		return fmt.Errorf("segment_duration (%g) must be between 1 and 30 seconds", p.SegmentDuration)
	case p.KeyframeInterval <= 0 || p.KeyframeInterval > p.SegmentDuration:
		return fmt.Errorf("keyframe_interval (%g) must be > 0 and <= segment_duration (%g)", p.KeyframeInterval, p.SegmentDuration)
	case !isWhole(p.SegmentDuration / p.KeyframeInterval):
		return fmt.Errorf("keyframe_interval (%g) must divide segment_duration (%g) so boundaries fall on keyframes", p.KeyframeInterval, p.SegmentDuration)
	case !slices.Contains(presets, p.Video.Preset):
		return fmt.Errorf("video.preset %q must be one of %v", p.Video.Preset, presets)
	case !slices.Contains(h264Prof, p.Video.Profile):
		return fmt.Errorf("video.profile %q must be one of %v", p.Video.Profile, h264Prof)
	case p.Video.MaxFrameRate < 1 || p.Video.MaxFrameRate > 120:
		return fmt.Errorf("video.max_frame_rate (%g) must be between 1 and 120", p.Video.MaxFrameRate)
	case p.Video.RateControl != "" && p.Video.RateControl != RateFixed && p.Video.RateControl != RateCappedCRF:
		return fmt.Errorf("video.rate_control %q must be %q or %q", p.Video.RateControl, RateFixed, RateCappedCRF)
	case p.Video.CRF != 0 && (p.Video.CRF < 1 || p.Video.CRF > 51):
		return fmt.Errorf("video.crf (%g) must be between 1 and 51 (or left out for %d)", p.Video.CRF, DefaultCRF)
	case p.Video.CRF != 0 && !p.Video.CappedCRF():
		return fmt.Errorf("video.crf is for video.rate_control %q", RateCappedCRF)
	case p.Audio.Kbps < 32 || p.Audio.Kbps > 512:
		return fmt.Errorf("audio.kbps (%d) must be between 32 and 512", p.Audio.Kbps)
	case p.Audio.Channels != 1 && p.Audio.Channels != 2:
		return fmt.Errorf("audio.channels (%d) must be 1 or 2", p.Audio.Channels)
	case p.Audio.SampleRate != 44100 && p.Audio.SampleRate != 48000:
		return fmt.Errorf("audio.sample_rate (%d) must be 44100 or 48000", p.Audio.SampleRate)
	case p.Audio.MaxTracks < 0 || p.Audio.MaxTracks > 16:
		return fmt.Errorf("audio.max_tracks (%d) must be between 1 and 16 (or left out for %d)", p.Audio.MaxTracks, DefaultMaxAudioTracks)
	case p.Encryption != "" && p.Encryption != EncryptionNone && p.Encryption != EncryptionAES128:
		return fmt.Errorf("encryption %q must be %q or %q", p.Encryption, EncryptionNone, EncryptionAES128)
	case p.Container != "" && p.Container != ContainerTS && p.Container != ContainerCMAF:
		return fmt.Errorf("container %q must be %q or %q", p.Container, ContainerTS, ContainerCMAF)
	case p.CMAF() && p.Encrypted():
		// CMAF's encryption is SAMPLE-AES (cbcs), which needs sample-level
		// work hlsd does not do yet; whole-segment AES-128 is a TS thing.
		return fmt.Errorf("encryption %q is for container %q: CMAF segments would need SAMPLE-AES (cbcs), which hlsd does not write yet", EncryptionAES128, ContainerTS)
	case len(p.Renditions) == 0:
		return fmt.Errorf("renditions must list at least one rung")
	}
	seen := map[string]bool{}
	enabled := 0
	for i, r := range p.Renditions {
		f := fmt.Sprintf("renditions[%d]", i)
		switch {
		case !nameRe.MatchString(r.Name):
			return fmt.Errorf("%s.name %q must match %s", f, r.Name, nameRe)
		case seen[r.Name]:
			return fmt.Errorf("%s.name %q is used twice", f, r.Name)
		case r.Name == "audio" || strings.HasPrefix(r.Name, "audio-"):
			return fmt.Errorf("%s.name %q is taken: audio and audio-* name the audio renditions", f, r.Name)
		case strings.HasPrefix(r.Name, "subtitles-"):
			return fmt.Errorf("%s.name %q is taken: subtitles-* name the subtitle renditions", f, r.Name)
		case r.Height < 64 || r.Height > 4320 || r.Height%2 != 0:
			return fmt.Errorf("%s.height (%d) must be an even number between 64 and 4320", f, r.Height)
		case r.VideoKbps < 50 || r.VideoKbps > 100000:
			return fmt.Errorf("%s.video_kbps (%d) must be between 50 and 100000", f, r.VideoKbps)
		case r.MaxrateKbps < r.VideoKbps:
			return fmt.Errorf("%s.maxrate_kbps (%d) must be >= video_kbps (%d)", f, r.MaxrateKbps, r.VideoKbps)
		case r.BufsizeKbps < r.MaxrateKbps/4:
			return fmt.Errorf("%s.bufsize_kbps (%d) must be at least a quarter of maxrate_kbps (%d)", f, r.BufsizeKbps, r.MaxrateKbps)
		case strings.HasSuffix(r.Name, "-"+CodecHEVC) || strings.HasSuffix(r.Name, "-"+CodecAV1):
			return fmt.Errorf("%s.name %q is taken: names ending in -hevc and -av1 are the HEVC and AV1 renditions of a rung", f, r.Name)
		}
		for j, c := range r.Codecs {
			switch {
			case !slices.Contains(codecs, c):
				return fmt.Errorf("%s.codecs[%d] %q must be one of %v", f, j, c, codecs)
			case slices.Index(r.Codecs, c) != j:
				return fmt.Errorf("%s.codecs names %q twice", f, c)
			case c != CodecH264 && len(r.Name)+1+len(c) > 32:
				return fmt.Errorf("%s.name %q is too long for its %s rendition %q (32 characters at most)", f, r.Name, c, r.Name+"-"+c)
			case c != CodecH264 && !p.CMAF():
				return fmt.Errorf("%s.codecs[%d] %q needs \"container\": %q (HEVC and AV1 are carried in fragmented MP4 only)", f, j, c, ContainerCMAF)
			}
		}
		if r.Codecs != nil && len(r.Codecs) == 0 {
			return fmt.Errorf("%s.codecs is empty: name at least one codec, or leave it out for %q", f, CodecH264)
		}
		seen[r.Name] = true
		if r.Enabled {
			enabled++
		}
	}
	if enabled == 0 {
		return fmt.Errorf("renditions: at least one rung must be enabled")
	}
	return nil
}

func isWhole(f float64) bool {
	const eps = 1e-9
	return f-float64(int64(f+eps)) < eps
}

// Planned is a rung chosen for a source, with its output size, made by one
// encoder.
type Planned struct {
	Rendition
	Width, Height int    // output pixels (square), both even
	Codec         string // CodecH264, CodecHEVC or CodecAV1
}

// Select picks the enabled rungs for a source of displayW x displayH (after
// rotation and sample aspect ratio). A rung is used only when the source is
// at least as large as the rung's box in one dimension, so nothing is ever
// upscaled; the picture keeps its aspect ratio inside the box.
//
// A source that falls between two rungs (larger than the biggest rung it
// fills, smaller than the next) also gets a top rendition at its own size,
// named by it ("852x478"), with bit rates interpolated by pixel count
// between the two rungs: a 479-line source is not cut to 432 lines. Where
// that size is within 10% of the rung below (in pixels) it replaces that
// rung instead, unless that would leave a single rendition.
//
// A source smaller than every box gets a single rendition at its own size,
// with the smallest rung's name and bitrates.
func (p Profiles) Select(displayW, displayH int) []Planned {
	return withCodecs(p.selectRungs(displayW, displayH))
}

// withCodecs makes a rendition of each rung for each of its codecs, H.264
// ones first (under the rung's name), then HEVC, then AV1 (named with the
// codec), each at its share of the rung's rates.
func withCodecs(rungs []Planned) []Planned {
	var out []Planned
	for _, c := range codecs {
		for _, r := range rungs {
			if !slices.Contains(r.CodecsOrDefault(), c) {
				continue
			}
			p := r
			p.Codec = c
			if c != CodecH264 {
				p.Name += "-" + c
				share := CodecRateShare[c]
				p.VideoKbps = max(int(float64(r.VideoKbps)*share), 50)
				p.MaxrateKbps = max(int(float64(r.MaxrateKbps)*share), p.VideoKbps)
				p.BufsizeKbps = max(int(float64(r.BufsizeKbps)*share), p.MaxrateKbps/4)
			}
			out = append(out, p)
		}
	}
	return out
}

// selectRungs is Select for H.264: the rungs and their sizes.
func (p Profiles) selectRungs(displayW, displayH int) []Planned {
	var rungs []Rendition
	for _, r := range p.Renditions {
		if r.Enabled {
			rungs = append(rungs, r)
		}
	}
	if len(rungs) == 0 || displayW <= 0 || displayH <= 0 {
		return nil
	}
	slices.SortStableFunc(rungs, func(a, b Rendition) int { return a.Height - b.Height })
	box := func(r Rendition) (int, int) {
		if displayH > displayW { // portrait: turn the box
			return r.Height, even(r.Height * 16 / 9)
		}
		return even(r.Height * 16 / 9), r.Height
	}
	var out []Planned
	next := -1 // the first rung the source is too small for
	for i, r := range rungs {
		boxW, boxH := box(r)
		if displayW < boxW && displayH < boxH {
			if next < 0 {
				next = i
			}
			continue // would be an upscale
		}
		w, h := fit(displayW, displayH, boxW, boxH)
		out = append(out, Planned{Rendition: r, Width: w, Height: h})
	}
	ownW, ownH := max(displayW&^1, 2), max(displayH&^1, 2)
	if len(out) == 0 {
		return []Planned{{Rendition: rungs[0], Width: ownW, Height: ownH}}
	}
	slices.SortStableFunc(out, func(a, b Planned) int { return a.Width*a.Height - b.Width*b.Height })
	top := out[len(out)-1]
	if next < 0 || ownW*ownH <= top.Width*top.Height {
		return out
	}
	// Between top and rungs[next]: a rendition at the source's own size.
	nextW, nextH := box(rungs[next])
	upW, upH := fitUp(displayW, displayH, nextW, nextH)
	own := Planned{Rendition: interpolate(top.Rendition, rungs[next], top.Width*top.Height, upW*upH, ownW*ownH), Width: ownW, Height: ownH}
	own.Name = fmt.Sprintf("%dx%d", ownW, ownH)
	own.Rendition.Height = min(ownW, ownH)
	if 10*ownW*ownH < 11*top.Width*top.Height && len(out) > 1 {
		out[len(out)-1] = own
	} else {
		out = append(out, own)
	}
	return out
}

// interpolate is the rung for a picture of px pixels between rung a (of
// aPx pixels for this source's shape) and rung b (bPx): bit rates linear in
// the pixel count.
func interpolate(a, b Rendition, aPx, bPx, px int) Rendition {
	f := 1.0
	if bPx > aPx {
		f = min(max(float64(px-aPx)/float64(bPx-aPx), 0), 1)
	}
	lerp := func(x, y int) int { return int(math.Round(float64(x) + f*float64(y-x))) }
	r := a
	r.VideoKbps = lerp(a.VideoKbps, b.VideoKbps)
	r.MaxrateKbps = max(lerp(a.MaxrateKbps, b.MaxrateKbps), r.VideoKbps)
	r.BufsizeKbps = lerp(a.BufsizeKbps, b.BufsizeKbps)
	return r
}

// fitUp scales w x h to fit boxW x boxH exactly in one dimension, up or
// down, keeping the aspect ratio.
func fitUp(w, h, boxW, boxH int) (int, int) {
	s := min(float64(boxW)/float64(w), float64(boxH)/float64(h))
	return even(int(float64(w)*s + 0.5)), even(int(float64(h)*s + 0.5))
}

// fit scales w x h down to fit in boxW x boxH, keeping the aspect ratio.
func fit(w, h, boxW, boxH int) (int, int) {
	if w <= boxW && h <= boxH {
		return max(w&^1, 2), max(h&^1, 2) // round down: never a pixel larger than the source
	}
	if w*boxH > h*boxW { // wider than the box: width limits
		return boxW, max(even(int(float64(h)*float64(boxW)/float64(w)+0.5)), 2)
	}
	return max(even(int(float64(w)*float64(boxH)/float64(h)+0.5)), 2), boxH
}

// even rounds to the nearest even number (H.264 4:2:0 needs even sizes).
func even(v int) int { return (v + 1) / 2 * 2 }
