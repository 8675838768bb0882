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
	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
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
	// Duration is how long the segment lasts, in seconds: until the next
	// segment's first keyframe (mpegts.Segment.Duration, or the chunk's
	// exact end for its last segment). The last video sample lasts until
	// then, so the next segment's tfdt follows on exactly.
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
	// Codec is the RFC 6381 codec of the track, from its bitstream
	// ("avc1.64001f", "hvc1.1.6.L93.B0", "av01.0.05M.08", "mp4a.40.2");
	// Width and Height the video's coded picture size.
	Codec         string
	Width, Height int
	// VideoRange is the video's range as HLS says it, from the transfer
	// characteristics of its bitstream: "PQ", "HLG" or "SDR".
	VideoRange string
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
	var codec mpegts.Codec
	var vpss, spss, ppss [][]byte // H.264, HEVC
	var seqHdr []byte             // AV1: the first sequence header OBU
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
			codec = p.Codec
			switch p.Codec {
			case mpegts.H264:
				s.data, s.sync = avcSample(p.Payload, &spss, &ppss)
			case mpegts.HEVC:
				s.data, s.sync = hevcSample(p.Payload, &vpss, &spss, &ppss)
			case mpegts.AV1:
				var err error
				if s.data, err = av1Sample(p.Payload, &seqHdr); err != nil {
					return fmt.Errorf("AV1 temporal unit at PTS %d: %w", p.PTS, err)
				}
				s.sync = p.RandomAccess
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
				return fmt.Errorf("ADTS frame %d of the PES at PTS %d: %w", i, p.PTS, orError(err, errors.New("garbage before the sync word")))
			}
			end := int(h.HeaderLength) + int(h.PayloadLength)
			if end > len(b) {
				return fmt.Errorf("ADTS frame %d of the PES at PTS %d is cut short", i, p.PTS)
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
	case len(video) > 0 && !video[0].sync:
		return Segment{}, fmt.Errorf("cmaf: the segment does not start with a keyframe")
	case len(video) > 0:
		init, err := videoInit(codec, vpss, spss, ppss, seqHdr)
		if err != nil {
			return Segment{}, err
		}
		return packVideo(video, init, opts)
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

func packVideo(ss []sample, vi videoTrack, opts Options) (Segment, error) {
	seg := Segment{Timescale: VideoTimescale, Codec: vi.codec, Width: vi.width, Height: vi.height, VideoRange: videoRange(vi.transfer)}
	// Decode times stay the TS's, composition offsets positive: moving
	// them so tfdt were the keyframe's presentation time would need
	// negative offsets, which FFmpeg 5.1 reading from a pipe misplaces.
	if ss[0].dts < 0 || ss[0].pts < ss[0].dts {
		return seg, fmt.Errorf("cmaf: the first sample has PTS %d, DTS %d", ss[0].pts, ss[0].dts)
	}
	full := make([]mp4.FullSample, len(ss))
	for i, s := range ss {
		var dur int64
		switch {
		case i+1 < len(ss):
			dur = ss[i+1].dts - s.dts
		case opts.Duration > 0:
			// Until the next segment's first keyframe: its DTS is as far
			// from this segment's first as its PTS is, the reordering delay
			// being the same in every segment (the encoder's).
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
	seg.Init, err = encodeInit(vi.init)
	return seg, err
}

func packAudio(fs []adtsFrame, asc *aac.AudioSpecificConfig, opts Options) (Segment, error) {
	rate := int64(asc.SamplingFrequency)
	seg := Segment{Timescale: uint32(rate), Codec: fmt.Sprintf("mp4a.40.%d", asc.ObjectType)}
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

// videoTrack is a video track's init segment and what it says.
type videoTrack struct {
	init          *mp4.InitSegment
	codec         string
	width, height int
	transfer      int // ITU-T H.273 transfer characteristics; 0: not said
}

// videoRange names a transfer characteristic (ITU-T H.273) as HLS's
// VIDEO-RANGE does.
func videoRange(transfer int) string {
	switch transfer {
	case 16:
		return "PQ"
	case 18:
		return "HLG"
	}
	return "SDR"
}

// videoInit makes the init segment of a video track from its parameter
// sets (H.264: avc1, with them in-band too, as FFmpeg's MP4 muxer leaves
// them; HEVC: hvc1, with them in the sample entry only, as Apple wants) or
// its sequence header (AV1: av01).
func videoInit(codec mpegts.Codec, vpss, spss, ppss [][]byte, seqHdr []byte) (videoTrack, error) {
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(VideoTimescale, "video", "und")
	vt := videoTrack{init: init}
	switch codec {
	case mpegts.H264:
		if len(spss) == 0 || len(ppss) == 0 {
			return vt, fmt.Errorf("cmaf: the first H.264 access unit has no SPS and PPS")
		}
		if err := trak.SetAVCDescriptor("avc1", spss, ppss, true); err != nil {
			return vt, fmt.Errorf("cmaf: init segment: %w", err)
		}
		sps, err := avc.ParseSPSNALUnit(spss[0], true)
		if err != nil {
			return vt, fmt.Errorf("cmaf: SPS: %w", err)
		}
		if sps.VUI != nil {
			vt.transfer = int(sps.VUI.TransferCharacteristics)
		}
		vt.codec = fmt.Sprintf("avc1.%02x%02x%02x", sps.Profile, sps.ProfileCompatibility, sps.Level)
		vt.width, vt.height = int(sps.Width), int(sps.Height)
	case mpegts.HEVC:
		if len(vpss) == 0 || len(spss) == 0 || len(ppss) == 0 {
			return vt, fmt.Errorf("cmaf: the first HEVC access unit has no VPS, SPS and PPS")
		}
		if err := trak.SetHEVCDescriptor("hvc1", vpss, spss, ppss, nil, true); err != nil {
			return vt, fmt.Errorf("cmaf: init segment: %w", err)
		}
		sps, err := hevc.ParseSPSNALUnit(spss[0])
		if err != nil {
			return vt, fmt.Errorf("cmaf: SPS: %w", err)
		}
		vt.codec = hevc.CodecString("hvc1", sps)
		if sps.VUI != nil {
			vt.transfer = int(sps.VUI.TransferCharacteristics)
		}
		w, h := sps.ImageSize()
		vt.width, vt.height = int(w), int(h)
	case mpegts.AV1:
		if seqHdr == nil {
			return vt, fmt.Errorf("cmaf: the first AV1 temporal unit has no sequence header")
		}
		obus, err := av1.SplitOBUs(seqHdr)
		if err != nil || len(obus) != 1 {
			return vt, fmt.Errorf("cmaf: sequence header: %v", err)
		}
		sh, err := av1.ParseSequenceHeader(obus[0].Payload)
		if err != nil {
			return vt, fmt.Errorf("cmaf: sequence header: %w", err)
		}
		vt.width, vt.height = int(sh.MaxFrameWidthMinus1)+1, int(sh.MaxFrameHeightMinus1)+1
		av1C := &mp4.Av1CBox{CodecConfRec: av1.CodecConfRecFromSequenceHeader(sh, obus[0].Encode())}
		if err := trak.SetAV1Descriptor("av01", av1C, uint16(vt.width), uint16(vt.height)); err != nil {
			return vt, fmt.Errorf("cmaf: init segment: %w", err)
		}
		vt.codec = av1.CodecString("av01", sh)
		vt.transfer = int(sh.TransferCharacteristics)
	default:
		return vt, fmt.Errorf("%w: video codec %d", ErrUnsupported, codec)
	}
	return vt, nil
}

// avcSample turns an H.264 access unit (Annex B) into an MP4 sample:
// length-prefixed NAL units without the access unit delimiter (framing for
// byte streams; MP4 has its own). The first SPS and PPS are kept for the
// sample entry; in-band ones stay too, as FFmpeg's MP4 muxer leaves them, so
// a later chunk's, if ever different, still reaches the decoder.
func avcSample(au []byte, spss, ppss *[][]byte) (data []byte, sync bool) {
	for _, nalu := range avc.ExtractNalusFromByteStream(au) {
		if len(nalu) == 0 {
			continue
		}
		switch avc.GetNaluType(nalu[0]) {
		case avc.NALU_AUD:
			continue
		case avc.NALU_IDR:
			sync = true
		case avc.NALU_SPS:
			if len(*spss) == 0 {
				*spss = append(*spss, bytes.Clone(nalu))
			}
		case avc.NALU_PPS:
			if len(*ppss) == 0 {
				*ppss = append(*ppss, bytes.Clone(nalu))
			}
		}
		data = appendNALU(data, nalu)
	}
	return data, sync
}

// appendNALU appends a NAL unit with its 4-byte length.
func appendNALU(data, nalu []byte) []byte {
	data = append(data, byte(len(nalu)>>24), byte(len(nalu)>>16), byte(len(nalu)>>8), byte(len(nalu)))
	return append(data, nalu...)
}

// hevcSample turns an HEVC access unit (Annex B) into an MP4 sample:
// length-prefixed NAL units without the access unit delimiter and the
// parameter sets, which it keeps (the first of each) for the sample entry.
// sync: the access unit is an IRAP picture (hlsd's closed GOPs: an IDR).
func hevcSample(au []byte, vpss, spss, ppss *[][]byte) (data []byte, sync bool) {
	for _, nalu := range avc.ExtractNalusFromByteStream(au) {
		if len(nalu) < 2 {
			continue
		}
		switch t := hevc.GetNaluType(nalu[0]); {
		case t == hevc.NALU_AUD:
			continue
		case t == hevc.NALU_VPS, t == hevc.NALU_SPS, t == hevc.NALU_PPS:
			ps := map[hevc.NaluType]*[][]byte{hevc.NALU_VPS: vpss, hevc.NALU_SPS: spss, hevc.NALU_PPS: ppss}[t]
			if len(*ps) == 0 {
				*ps = append(*ps, bytes.Clone(nalu))
			}
			continue
		case t >= 16 && t <= 23:
			sync = true
		}
		data = appendNALU(data, nalu)
	}
	return data, sync
}

// av1Sample turns an AV1 temporal unit (low-overhead OBUs, as FFmpeg
// writes it) into an MP4 sample: its OBUs without the temporal delimiter
// and padding. The first sequence header is kept for the sample entry.
func av1Sample(tu []byte, seqHdr *[]byte) ([]byte, error) {
	obus, err := av1.SplitOBUs(tu)
	if err != nil {
		return nil, err
	}
	var data []byte
	for _, o := range obus {
		switch o.Header.Type {
		case av1.OBUTemporalDelimiter, av1.OBUPadding:
			continue
		case av1.OBUSequenceHeader:
			if *seqHdr == nil {
				*seqHdr = o.Encode()
			}
		}
		data = append(data, o.Encode()...)
	}
	return data, nil
}
