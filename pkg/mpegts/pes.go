package mpegts

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
