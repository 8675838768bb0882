package conformance

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// fmp4Init is a media playlist's initialization segment (EXT-X-MAP) of
// fragmented MP4 segments, as fetched and read.
type fmp4Init struct {
	data []byte
	// The main track (the video, else the first), whose decode times are
	// followed from segment to segment.
	trackID     uint32
	timescale   uint32
	sampleEntry string // avc1, hvc1, av01, mp4a…
	trex        *mp4.TrexBox
}

// initSegment fetches and reads the EXT-X-MAP of a media playlist whose
// segments are fragmented MP4 (a map without BYTERANGE is a whole file). It
// reports what is wrong as findings and returns nil then.
func (c *checker) initSegment(ctx context.Context, u *url.URL, m *mapRef) (*fmp4Init, error) {
	uri := u.ResolveReference(mustParse(m.uri)).String()
	rng := ""
	if m.limit > 0 {
		rng = fmt.Sprintf("bytes=%d-%d", m.offset, m.offset+m.limit-1)
	}
	data, hdr, err := c.get(ctx, uri, rng, "identity", c.o.MaxSegmentBytes)
	if err != nil {
		return nil, ignoreSkip(err)
	}
	c.mp4Type(uri, hdr.Get("Content-Type"))
	f, err := mp4.DecodeFile(bytes.NewReader(data))
	switch {
	case err != nil:
		c.add(RuleFMP4Init, uri, "does not parse as MP4: %v", err)
		return nil, nil
	case f.Init == nil || f.Ftyp == nil || f.Moov == nil:
		c.add(RuleFMP4Init, uri, "is not an initialization segment (ftyp and moov)")
		return nil, nil
	case len(f.Segments) > 0 || f.Mdat != nil:
		c.add(RuleFMP4Init, uri, "holds media samples besides ftyp and moov")
		return nil, nil
	case len(f.Moov.Traks) == 0 || f.Moov.Mvex == nil:
		c.add(RuleFMP4Init, uri, "has %d tracks (and mvex %v), want fragmented tracks", len(f.Moov.Traks), f.Moov.Mvex != nil)
		return nil, nil
	}
	trak := f.Moov.Traks[0]
	for _, t := range f.Moov.Traks {
		if t.Mdia != nil && t.Mdia.Hdlr != nil && t.Mdia.Hdlr.HandlerType == "vide" {
			trak = t
			break
		}
	}
	in := &fmp4Init{data: data, trackID: trak.Tkhd.TrackID, timescale: trak.Mdia.Mdhd.Timescale}
	if stsd := trak.Mdia.Minf.Stbl.Stsd; stsd != nil && len(stsd.Children) == 1 {
		in.sampleEntry = stsd.Children[0].Type()
	}
	for _, t := range f.Moov.Mvex.Trexs {
		if t.TrackID == in.trackID {
			in.trex = t
		}
	}
	if in.sampleEntry == "" || in.timescale == 0 || in.trex == nil {
		c.add(RuleFMP4Init, uri, "track %d has no single sample entry, no timescale or no trex", in.trackID)
		return nil, nil
	}
	return in, nil
}

// mapRef is an EXT-X-MAP as grafov read it.
type mapRef struct {
	uri           string
	limit, offset int64
}

// mp4Type checks the Content-Type of an MP4 resource.
func (c *checker) mp4Type(uri, contentType string) {
	ct, _, _ := mime.ParseMediaType(contentType)
	switch strings.ToLower(ct) {
	case "video/mp4", "audio/mp4", "video/iso.segment", "application/mp4":
	default:
		c.add(RuleMIME, uri, "Content-Type is %q, want video/mp4 (or audio/mp4, video/iso.segment)", contentType)
	}
}

// fragments reads the boxes of a fragmented MP4 media segment for the init
// segment's main track: the decode time of its first sample (tfdt), the sum
// of its sample durations, and whether its first sample is flagged a sync
// sample.
func fragments(in *fmp4Init, seg []byte) (tfdt, dur uint64, firstSync bool, err error) {
	f, err := mp4.DecodeFile(bytes.NewReader(seg))
	if err != nil {
		return 0, 0, false, fmt.Errorf("does not parse as MP4: %w", err)
	}
	n := 0
	for _, s := range f.Segments {
		for _, frag := range s.Fragments {
			var traf *mp4.TrafBox
			if frag.Moof != nil {
				for _, t := range frag.Moof.Trafs {
					if t.Tfhd != nil && t.Tfhd.TrackID == in.trackID {
						traf = t
					}
				}
			}
			if traf == nil {
				continue // a fragment of another track
			}
			if traf.Tfdt == nil {
				return 0, 0, false, fmt.Errorf("fragment %d has no tfdt for track %d", n, in.trackID)
			}
			if n == 0 {
				tfdt = traf.Tfdt.BaseMediaDecodeTime()
			} else if want := tfdt + dur; traf.Tfdt.BaseMediaDecodeTime() != want {
				return 0, 0, false, fmt.Errorf("fragment %d has tfdt %d, but the fragments before it end at %d", n, traf.Tfdt.BaseMediaDecodeTime(), want)
			}
			for _, trun := range traf.Truns {
				d := trun.AddSampleDefaultValues(traf.Tfhd, in.trex)
				if n == 0 && len(trun.Samples) > 0 && dur == 0 {
					firstSync = trun.Samples[0].IsSync()
				}
				dur += d
			}
			n++
		}
	}
	if n == 0 {
		return 0, 0, false, fmt.Errorf("no fragment (moof and mdat) of track %d", in.trackID)
	}
	return tfdt, dur, firstSync, nil
}

// firstPicture reads the first picture of an HEVC or AV1 stream out of a
// segment (FFmpeg writes HEVC as Annex B with the parameter sets of the
// sample entry put in front of a keyframe, AV1 as its low-overhead OBUs)
// and returns its RFC 6381 codec string, from its own SPS or sequence
// header, and whether it is a keyframe (an IRAP picture; a shown key frame).
func (c *checker) firstPicture(ctx context.Context, data []byte, format, name string) (codec string, key bool, err error) {
	out := map[string]string{"hevc": "hevc", "av1": "obu"}[name]
	raw, err := c.run(ctx, c.o.FFmpeg, data, "-v", "error", "-f", format, "-i", "pipe:0",
		"-map", "0:v:0", "-c", "copy", "-frames:v", "1", "-f", out, "pipe:1")
	if err != nil {
		return "unreadable " + name, false, err
	}
	switch name {
	case "hevc":
		var sps *hevc.SPS
		vcl := false // the first picture's first slice seen
		for _, nalu := range avc.ExtractNalusFromByteStream(raw) {
			if len(nalu) < 2 {
				continue
			}
			switch t := hevc.GetNaluType(nalu[0]); {
			case t == hevc.NALU_SPS && sps == nil:
				if sps, err = hevc.ParseSPSNALUnit(nalu); err != nil {
					return "hevc with a bad SPS", false, nil
				}
			case t < 32 && !vcl:
				vcl, key = true, t >= 16 && t <= 23 // an IRAP picture
			}
		}
		if sps == nil {
			return "hevc without SPS", key, nil
		}
		return hevc.CodecString("hvc1", sps), key, nil
	default:
		obus, err := av1.SplitOBUs(raw)
		if err != nil {
			return "av1 unreadable", false, nil
		}
		var sh *av1.SequenceHeader
		for _, o := range obus {
			if o.Header.Type == av1.OBUSequenceHeader && sh == nil {
				if sh, err = av1.ParseSequenceHeader(o.Payload); err != nil {
					return "av1 with a bad sequence header", false, nil
				}
			}
		}
		if sh == nil {
			return "av1 without a sequence header", false, nil
		}
		var sample []byte
		for _, o := range obus {
			if o.Header.Type != av1.OBUTemporalDelimiter {
				sample = append(sample, o.Encode()...)
			}
		}
		key, _ = av1.IsRAPSample(sample, sh)
		return av1.CodecString("av01", sh), key, nil
	}
}
