// Package cmaf packs hlsd's MPEG-TS segments into CMAF ones (fragmented MP4,
// ISO/IEC 23000-19), with Eyevinn/mp4ff writing the boxes: the same samples
// with the same timestamps, so a rendition's segments are cut once (by
// mpegts.SplitTS, on the keyframe grid every rendition shares) and served as
// either container. One track per rendition, as CMAF wants: a video
// rendition's H.264, or an audio rendition's AAC.
//
// No edit list and no rebasing: a sample's decode time is its TS timestamp
// on the track's clock (90 kHz for video, the sample rate for audio), so
// the tfdt of one chunk's segments continues the last chunk's with nothing
// carried between them, and a video and an audio rendition stay in step.
package cmaf

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/hlsd/hlsd/pkg/mpegts"
)

// VideoTimescale is a video track's clock: the TS clock, so every
// timestamp carries over exactly.
const VideoTimescale = 90000

const (
	tsClock = 90000
	tsWrap  = 1 << 33
	// aacFrame is the samples in one AAC-LC frame, the duration of the last
	// frame of a segment.
	aacFrame = 1024
	// fragmentsPerSegment bounds a segment's fragments: mfhd sequence
	// numbers are the segment's number times this plus the fragment's.
	fragmentsPerSegment = 256
)

// ErrUnsupported is a segment this package cannot pack (another codec, more
// than one track): not ours, or a bug upstream.
var ErrUnsupported = errors.New("cmaf: unsupported stream")

// Options says what FromTS cannot see in the segment's own bytes.
type Options struct {
	// Number is the segment's number in its rendition: its fragments are
	// numbered from Number*256+1, so they increase across segments.
	Number int
	// Duration is how long the segment lasts, in seconds, as SplitTS
	// measured it (mpegts.Segment.Duration): until the next segment's
	// first keyframe. The last video sample lasts until then, so the next
	// segment's tfdt follows on exactly.
	Duration float64
}

// Segment is one TS segment as a CMAF segment.
type Segment struct {
	// Data is the media segment: styp, then its fragments (moof + mdat).
	Data []byte
	// Init is the initialization segment (ftyp + moov) the segment needs:
	// the same bytes for every segment of a rendition whose parameters do
	// not change.
	Init      []byte
	Timescale uint32
	// BaseTime is the decode time of the first sample (its tfdt) and
	// Duration the sum of the sample durations, in Timescale: the next
	// segment's BaseTime is BaseTime+Duration.
	BaseTime, Duration uint64
	// Start is the presentation time of the first sample (its decode time
	// plus its composition offset): the segment's earliest presentation
	// time, where DASH's SegmentTimeline places it.
	Start uint64
	// Keyframes lists the video's sync samples: each is a fragment of its
	// own (moof + mdat holding that one sample), which an I-frame playlist
	// names by its byte range. Time is its presentation time in Timescale.
	Keyframes []Keyframe
}

// Keyframe is a fragment of a segment holding one sync sample.
type Keyframe struct {
	Offset, Size int64
	Time         uint64
}

// FromTS packs one segment as mpegts.SplitTS emits it (whole packets,
// starting with the PAT and PMT) into a CMAF segment and the init segment
// it needs.
func FromTS(ts []byte, opts Options) (Segment, error) {
	var video []sample
	var audio []adtsFrame
	var spss, ppss [][]byte
	var asc *aac.AudioSpecificConfig
	var ref int64 = -1 // the first timestamp, which the others unwrap around
	unwrap := func(raw int64) int64 {
		if ref < 0 {
			ref = raw
			return raw
		}
		d := (raw - ref) & (tsWrap - 1)
		if d >= tsWrap/2 {
			d -= tsWrap
		}
		return ref + d
	}
	err := mpegts.EachPES(ts, func(p mpegts.PES) error {
		if p.Video {
			s := sample{dts: unwrap(p.DTS), pts: unwrap(p.PTS)}
			for _, nalu := range avc.ExtractNalusFromByteStream(p.Payload) {
				if len(nalu) == 0 {
					continue
				}
				switch avc.GetNaluType(nalu[0]) {
				case avc.NALU_AUD:
					continue // framing for byte streams; MP4 has its own
				case avc.NALU_IDR:
					s.sync = true
				case avc.NALU_SPS:
					if len(spss) == 0 {
						spss = append(spss, bytes.Clone(nalu))
					}
				case avc.NALU_PPS:
					if len(ppss) == 0 {
						ppss = append(ppss, bytes.Clone(nalu))
					}
				}
				// In-band parameter sets stay, as ffmpeg's MP4 muxer leaves
				// them: a later chunk's, if ever different, still reach the
				// decoder.
				s.data = append(s.data, byte(len(nalu)>>24), byte(len(nalu)>>16), byte(len(nalu)>>8), byte(len(nalu)))
				s.data = append(s.data, nalu...)
			}
			if len(s.data) > 0 {
				video = append(video, s)
			}
			return nil
		}
		pts := unwrap(p.PTS)
		for i, b := 0, p.Payload; len(b) > 0; i++ {
			h, skipped, err := aac.DecodeADTSHeader(bytes.NewReader(b))
			if err != nil || skipped != 0 {
				return fmt.Errorf("cmaf: ADTS frame %d of the PES at PTS %d: %w", i, p.PTS, orError(err, errors.New("garbage before the sync word")))
			}
			end := int(h.HeaderLength) + int(h.PayloadLength)
			if end > len(b) {
				return fmt.Errorf("cmaf: ADTS frame %d of the PES at PTS %d is cut short", i, p.PTS)
			}
			if asc == nil {
				if h.ChannelConfig == 0 || h.SamplingFrequencyIndex > 12 {
					return fmt.Errorf("%w: ADTS channel configuration %d, frequency index %d", ErrUnsupported, h.ChannelConfig, h.SamplingFrequencyIndex)
				}
				asc = &aac.AudioSpecificConfig{ObjectType: h.ObjectType, ChannelConfiguration: h.ChannelConfig, SamplingFrequency: int(h.Frequency())}
			}
			audio = append(audio, adtsFrame{pes: pts, index: i, data: bytes.Clone(b[h.HeaderLength:end])})
			b = b[end:]
		}
		return nil
	})
	if err != nil {
		return Segment{}, fmt.Errorf("cmaf: %w", err)
	}
	switch {
	case len(video) > 0 && len(audio) > 0:
		return Segment{}, fmt.Errorf("%w: the segment has video and audio; a CMAF track holds one", ErrUnsupported)
	case len(video) > 0:
		if len(spss) == 0 || len(ppss) == 0 || !video[0].sync {
			return Segment{}, fmt.Errorf("cmaf: the segment does not start with an IDR access unit and its SPS and PPS")
		}
		return packVideo(video, spss, ppss, opts)
	case len(audio) > 0:
		return packAudio(audio, asc, opts)
	}
	return Segment{}, fmt.Errorf("cmaf: the segment has no H.264 or AAC samples")
}

type sample struct {
	dts, pts int64
	sync     bool
	data     []byte
}

type adtsFrame struct {
	pes   int64 // the PTS of its PES, unwrapped
	index int   // its place in the PES
	data  []byte
}

func orError(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func packVideo(ss []sample, spss, ppss [][]byte, opts Options) (Segment, error) {
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(VideoTimescale, "video", "und")
	if err := trak.SetAVCDescriptor("avc1", spss, ppss, true); err != nil {
		return Segment{}, fmt.Errorf("cmaf: init segment: %w", err)
	}
	seg := Segment{Timescale: VideoTimescale}
	if ss[0].dts < 0 {
		return seg, fmt.Errorf("cmaf: negative decode time %d", ss[0].dts)
	}
	full := make([]mp4.FullSample, len(ss))
	for i, s := range ss {
		var dur int64
		switch {
		case i+1 < len(ss):
			dur = ss[i+1].dts - s.dts
		case opts.Duration > 0:
			// Until the next segment's first keyframe: the first sample's
			// PTS-DTS delay is the same in every segment, so its DTS is
			// this segment's first DTS plus the duration.
			dur = ss[0].dts + int64(math.Round(opts.Duration*tsClock)) - s.dts
		}
		if dur <= 0 && i > 0 {
			dur = int64(full[i-1].Dur)
		}
		if dur <= 0 || dur > math.MaxUint32 {
			return seg, fmt.Errorf("cmaf: sample %d (DTS %d) has duration %d: decode times must increase", i, s.dts, dur)
		}
		cto := s.pts - s.dts
		if cto < math.MinInt32 || cto > math.MaxInt32 {
			return seg, fmt.Errorf("cmaf: sample %d has PTS %d, DTS %d", i, s.pts, s.dts)
		}
		flags := mp4.NonSyncSampleFlags
		if s.sync {
			flags = mp4.SyncSampleFlags
		}
		full[i] = mp4.FullSample{
			Sample:     mp4.NewSample(flags, uint32(dur), uint32(len(s.data)), int32(cto)),
			DecodeTime: uint64(s.dts),
			Data:       s.data,
		}
		seg.Duration += uint64(dur)
	}
	seg.BaseTime = full[0].DecodeTime
	seg.Start = uint64(full[0].PresentationTime())
	// Each sync sample is a fragment of its own, the I-frame playlist's
	// unit; the samples up to the next sync sample make the next fragment.
	var groups [][]mp4.FullSample
	for i := 0; i < len(full); {
		j := i + 1
		if !ss[i].sync {
			for j < len(full) && !ss[j].sync {
				j++
			}
		}
		groups = append(groups, full[i:j])
		i = j
	}
	if len(groups) > fragmentsPerSegment {
		// Never with hlsd's keyframe grid; merge the tail rather than fail.
		var tail []mp4.FullSample
		for _, g := range groups[fragmentsPerSegment-1:] {
			tail = append(tail, g...)
		}
		groups = append(groups[:fragmentsPerSegment-1], tail)
	}
	var err error
	if seg.Data, err = encodeFragments(groups, opts.Number, func(off, size int, g []mp4.FullSample) {
		if len(g) == 1 && g[0].Flags == mp4.SyncSampleFlags {
			seg.Keyframes = append(seg.Keyframes, Keyframe{Offset: int64(off), Size: int64(size), Time: uint64(g[0].PresentationTime())})
		}
	}); err != nil {
		return seg, err
	}
	seg.Init, err = encodeInit(init)
	return seg, err
}

func packAudio(fs []adtsFrame, asc *aac.AudioSpecificConfig, opts Options) (Segment, error) {
	rate := int64(asc.SamplingFrequency)
	seg := Segment{Timescale: uint32(rate)}
	// A frame's time in samples: its PES's PTS on the sample clock (exact:
	// a sample is more than one 90 kHz tick, so rounding finds the sample
	// the muxer rounded from), plus a frame per frame before it in the PES.
	start := func(f adtsFrame) int64 {
		return int64(math.Round(float64(f.pes)*float64(rate)/tsClock)) + int64(f.index)*aacFrame
	}
	full := make([]mp4.FullSample, len(fs))
	for i, f := range fs {
		t := start(f)
		dur := int64(aacFrame)
		if i+1 < len(fs) {
			dur = start(fs[i+1]) - t
		}
		if t < 0 || dur <= 0 || dur > math.MaxUint32 {
			return seg, fmt.Errorf("cmaf: AAC frame %d at %d lasts %d samples: times must increase", i, t, dur)
		}
		full[i] = mp4.FullSample{
			Sample:     mp4.NewSample(mp4.SyncSampleFlags, uint32(dur), uint32(len(f.data)), 0),
			DecodeTime: uint64(t),
			Data:       f.data,
		}
		seg.Duration += uint64(dur)
	}
	seg.BaseTime = full[0].DecodeTime
	seg.Start = seg.BaseTime
	var err error
	if seg.Data, err = encodeFragments([][]mp4.FullSample{full}, opts.Number, nil); err != nil {
		return seg, err
	}
	var asc2 bytes.Buffer
	if err := asc.Encode(&asc2); err != nil {
		return seg, fmt.Errorf("cmaf: AudioSpecificConfig: %w", err)
	}
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(uint32(rate), "audio", "und")
	trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a",
		uint16(asc.ChannelConfiguration), 16, uint16(rate), mp4.CreateEsdsBox(asc2.Bytes())))
	seg.Init, err = encodeInit(init)
	return seg, err
}

// encodeFragments writes styp and one fragment per group, telling each
// fragment's byte range to fn.
func encodeFragments(groups [][]mp4.FullSample, number int, fn func(off, size int, g []mp4.FullSample)) ([]byte, error) {
	var buf bytes.Buffer
	size := 0
	for _, g := range groups {
		for _, s := range g {
			size += len(s.Data) + 16
		}
	}
	buf.Grow(size + 256)
	if err := mp4.CreateStyp().Encode(&buf); err != nil {
		return nil, fmt.Errorf("cmaf: styp: %w", err)
	}
	for k, g := range groups {
		f, err := mp4.CreateFragment(uint32(number)*fragmentsPerSegment+uint32(k)+1, 1)
		if err != nil {
			return nil, fmt.Errorf("cmaf: fragment: %w", err)
		}
		for _, s := range g {
			f.AddFullSample(s)
		}
		off := buf.Len()
		if err := f.Encode(&buf); err != nil {
			return nil, fmt.Errorf("cmaf: fragment %d: %w", k, err)
		}
		if fn != nil {
			fn(off, buf.Len()-off, g)
		}
	}
	return buf.Bytes(), nil
}

func encodeInit(init *mp4.InitSegment) ([]byte, error) {
	var buf bytes.Buffer
	if err := init.Encode(&buf); err != nil {
		return nil, fmt.Errorf("cmaf: init segment: %w", err)
	}
	return buf.Bytes(), nil
}
