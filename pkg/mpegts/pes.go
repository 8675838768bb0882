package mpegts

import "fmt"

const (
	// clockRate is the 90 kHz PTS/DTS clock.
	clockRate = 90000
	// ptsWrap is where the 33-bit PTS/DTS wraps around.
	ptsWrap = 1 << 33

	pesFixedHeader = 9                    // start code, stream_id, length, flags, header length
	pesMaxHeader   = pesFixedHeader + 255 // PES_header_data_length is one byte
)

// pesHeader collects a PES header that may be split across TS packets (a large
// adaptation field can leave only a few payload bytes in the first packet).
type pesHeader struct {
	buf  [pesMaxHeader]byte
	n    int // bytes collected
	need int // bytes needed: 9 until the header length is known
	done bool
	bad  bool // not a PES with an optional header; ignore the rest of it
}

func (h *pesHeader) reset() {
	h.n, h.need, h.done, h.bad = 0, pesFixedHeader, false, false
}

// feed consumes header bytes from b. Once the header is complete it returns
// the remaining bytes of b, which are elementary stream payload; before that
// (or if the header is invalid) it returns nil.
func (h *pesHeader) feed(b []byte) []byte {
	for !h.done {
		if h.bad {
			return nil
		}
		n := copy(h.buf[h.n:h.need], b)
		h.n += n
		b = b[n:]
		if h.n < h.need {
			return nil
		}
		if h.need == pesFixedHeader {
			// packet_start_code_prefix and the '10' marker of the optional
			// header, which all audio/video stream_ids carry.
			if h.buf[0] != 0 || h.buf[1] != 0 || h.buf[2] != 1 || h.buf[6]&0xc0 != 0x80 {
				h.bad = true
				return nil
			}
			if extra := int(h.buf[8]); extra > 0 {
				h.need += extra
				continue
			}
		}
		h.done = true
	}
	return b
}

// timestamps returns the raw 33-bit PTS and DTS of a complete header.
func (h *pesHeader) timestamps() (pts, dts int64, hasPTS, hasDTS bool) {
	flags := h.buf[7] >> 6
	if flags&2 != 0 && h.need >= pesFixedHeader+5 {
		pts, hasPTS = readTimestamp(h.buf[9:14]), true
		if flags == 3 && h.need >= pesFixedHeader+10 {
			dts, hasDTS = readTimestamp(h.buf[14:19]), true
		}
	}
	return pts, dts, hasPTS, hasDTS
}

// readTimestamp decodes the 5-byte PTS/DTS encoding (marker bits ignored).
func readTimestamp(b []byte) int64 {
	_ = b[4]
	return int64(b[0]>>1&0x07)<<30 |
		int64(b[1])<<22 |
		int64(b[2]>>1)<<15 |
		int64(b[3])<<7 |
		int64(b[4]>>1)
}

// unwrapper turns 33-bit timestamps into a monotonic-ish 64-bit timeline. Each
// value is placed at the position nearest to the previous one modulo 2^33, so
// both wraparound and small backwards steps (B-frame reordering, DTS vs PTS,
// audio vs video interleaving) come out right. One unwrapper is shared by all
// streams so that their timelines stay comparable.
type unwrapper struct {
	last int64
	init bool
}

func (u *unwrapper) unwrap(raw int64) int64 {
	if !u.init {
		u.init, u.last = true, raw
		return raw
	}
	d := (raw - u.last) & (ptsWrap - 1)
	if d >= ptsWrap/2 {
		d -= ptsWrap
	}
	u.last += d
	return u.last
}

// PES is one whole PES packet of a segment, as EachPES hands it over.
type PES struct {
	Video bool  // the segment's video stream; otherwise its AAC stream
	Codec Codec // the video's
	// RandomAccess: the PES's first packet set random_access_indicator
	// (FFmpeg's muxer flags keyframes so).
	RandomAccess bool
	// PTS and DTS are the raw 33-bit timestamps; DTS is PTS when the
	// header has none.
	PTS, DTS int64
	// Payload is the elementary stream bytes (Annex B NAL units, ADTS
	// frames). It aliases EachPES's buffers: valid only during the call.
	Payload []byte
}

// EachPES calls fn for every PES packet, in order, of the video (H.264,
// HEVC, AV1) and AAC streams of data, a whole number of TS packets that starts with the PAT and
// PMT (a segment as SplitTS emits it). A PES without a PTS is an error: each
// of ours carries one. A packet lost at the start of a PES (its first
// packet missing) drops the PES: its header is gone.
func EachPES(data []byte, fn func(PES) error) error {
	if len(data)%PacketSize != 0 {
		return fmt.Errorf("mpegts: %d bytes is not a whole number of packets", len(data))
	}
	var pmtPID uint16
	var pmt pmtInfo
	havePAT, havePMT := false, false
	var video, audio []byte
	var videoRAI bool
	flush := func(isVideo bool, buf []byte) error {
		if len(buf) == 0 {
			return nil
		}
		p, err := parsePES(buf)
		if err != nil {
			return err
		}
		p.Video = isVideo
		if isVideo {
			p.Codec, p.RandomAccess = pmt.videoCodec, videoRAI
		}
		return fn(p)
	}
	for off := 0; off < len(data); off += PacketSize {
		pkt := data[off : off+PacketSize]
		if pkt[0] != syncByte {
			return fmt.Errorf("mpegts: no sync byte at offset %d", off)
		}
		pid, pusi, payload := packetPID(pkt), pkt[1]&0x40 != 0, packetPayload(pkt)
		if payload == nil {
			continue
		}
		switch {
		case pid == pidPAT && pusi && !havePAT:
			if len(payload) < 1 || int(payload[0])+1 > len(payload) {
				return fmt.Errorf("mpegts: bad PAT")
			}
			sec := payload[1+int(payload[0]):]
			if len(sec) >= 3 {
				sec = sec[:min(len(sec), 3+(int(sec[1]&0x0f)<<8|int(sec[2])))]
			}
			if pmtPID, havePAT = parsePAT(sec); !havePAT {
				return fmt.Errorf("mpegts: bad PAT")
			}
		case havePAT && pid == pmtPID && pusi && !havePMT:
			if len(payload) < 1 || int(payload[0])+1 > len(payload) {
				return fmt.Errorf("mpegts: bad PMT")
			}
			sec := payload[1+int(payload[0]):]
			if len(sec) >= 3 {
				sec = sec[:min(len(sec), 3+(int(sec[1]&0x0f)<<8|int(sec[2])))]
			}
			if pmt, havePMT = parsePMT(sec, pmtPID); !havePMT {
				return fmt.Errorf("mpegts: bad PMT (it may span packets, which hlsd's segments never do)")
			}
		case havePMT && pmt.hasVideo && pid == pmt.videoPID:
			if pusi {
				if err := flush(true, video); err != nil {
					return err
				}
				video = video[:0]
				videoRAI = randomAccess(pkt)
			} else if len(video) == 0 {
				continue
			}
			video = append(video, payload...)
		case havePMT && pmt.hasAudio && pid == pmt.audioPID:
			if pusi {
				if err := flush(false, audio); err != nil {
					return err
				}
				audio = audio[:0]
			} else if len(audio) == 0 {
				continue
			}
			audio = append(audio, payload...)
		}
	}
	if !havePMT {
		return fmt.Errorf("mpegts: no PAT and PMT")
	}
	if err := flush(true, video); err != nil {
		return err
	}
	return flush(false, audio)
}

// parsePES splits a whole PES packet into its timestamps and payload.
func parsePES(b []byte) (PES, error) {
	var h pesHeader
	h.reset()
	payload := h.feed(b)
	if !h.done || h.bad {
		return PES{}, fmt.Errorf("mpegts: malformed PES header")
	}
	pts, dts, hasPTS, hasDTS := h.timestamps()
	if !hasPTS {
		return PES{}, fmt.Errorf("mpegts: PES without a PTS")
	}
	if !hasDTS {
		dts = pts
	}
	// PES_packet_length, when set, bounds the payload (the rest of the last
	// packet is stuffing only for PES that say their length).
	if n, start := int(b[4])<<8|int(b[5]), pesFixedHeader+int(b[8]); n > 0 && start <= 6+n && 6+n <= len(b) {
		payload = b[start : 6+n]
	}
	return PES{PTS: pts, DTS: dts, Payload: payload}, nil
}
