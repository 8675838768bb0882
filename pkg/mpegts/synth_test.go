package mpegts

import (
	"bytes"
	"encoding/binary"
)

// This file builds small transport streams by hand, so that tests can reach
// cases ffmpeg never produces (split headers, odd keyframe spacing, garbage).

const (
	synthPMTPID   = 0x1000
	synthVideoPID = 0x100
	synthAudioPID = 0x101
)

// tsWriter is a minimal transport stream muxer.
type tsWriter struct {
	buf bytes.Buffer
	cc  map[uint16]uint8
}

func newTSWriter() *tsWriter { return &tsWriter{cc: map[uint16]uint8{}} }

func (w *tsWriter) nextCC(pid uint16) uint8 {
	c := w.cc[pid]
	w.cc[pid] = (c + 1) & 0x0f
	return c
}

// packet writes one packet carrying up to len(payload) bytes of payload
// (padding with adaptation-field stuffing when fewer than 184), and returns
// how many payload bytes it used. limit caps the payload bytes (0 = 184).
func (w *tsWriter) packet(pid uint16, pusi bool, payload []byte, limit int) int {
	if limit <= 0 || limit > 184 {
		limit = 184
	}
	n := min(len(payload), limit)
	p := make([]byte, PacketSize)
	p[0] = syncByte
	p[1] = byte(pid >> 8 & 0x1f)
	if pusi {
		p[1] |= 0x40
	}
	p[2] = byte(pid)
	cc := w.nextCC(pid)
	if n == 184 {
		p[3] = 0x10 | cc
		copy(p[4:], payload[:n])
	} else {
		p[3] = 0x30 | cc
		afl := 183 - n // adaptation_field_length
		p[4] = byte(afl)
		if afl > 0 {
			p[5] = 0 // no flags
			for i := 6; i < 5+afl; i++ {
				p[i] = 0xff
			}
		}
		copy(p[5+afl:], payload[:n])
	}
	w.buf.Write(p)
	return n
}

// psi writes a section on pid in one packet, pointer_field 0.
func (w *tsWriter) psi(pid uint16, section []byte) {
	payload := append([]byte{0}, section...)
	for len(payload) < 184 {
		payload = append(payload, 0xff)
	}
	w.packet(pid, true, payload, 0)
}

// psiSplit writes a section on pid over two packets, the first carrying
// the pointer_field and first-1 section bytes.
func (w *tsWriter) psiSplit(pid uint16, section []byte, first int) {
	payload := append([]byte{0}, section...)
	n := w.packet(pid, true, payload, first)
	w.packet(pid, false, payload[n:], 0)
}

// pes writes one PES; firstLimit caps the payload bytes of its first packet
// (to split the PES header or a start code across packets), 0 for no cap.
func (w *tsWriter) pes(pid uint16, streamID byte, pts int64, es []byte, firstLimit int) {
	hdr := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5}
	hdr = append(hdr, encodeTimestamp(2, pts)...)
	if streamID >= 0xc0 && streamID <= 0xdf {
		if l := len(hdr) - 6 + len(es); l <= 0xffff {
			binary.BigEndian.PutUint16(hdr[4:], uint16(l))
		}
	}
	data := append(hdr, es...)
	first := true
	for len(data) > 0 {
		limit := 0
		if first {
			limit = firstLimit
		}
		n := w.packet(pid, first, data, limit)
		data = data[n:]
		first = false
	}
}

func (w *tsWriter) bytes() []byte { return w.buf.Bytes() }

func encodeTimestamp(prefix byte, ts int64) []byte {
	ts &= ptsWrap - 1
	return []byte{
		prefix<<4 | byte(ts>>29)&0x0e | 1,
		byte(ts >> 22),
		byte(ts>>14) | 1,
		byte(ts >> 7),
		byte(ts<<1) | 1,
	}
}

// section builds a long-form PSI section with a valid CRC.
func section(tableID byte, idExt uint16, body []byte) []byte {
	l := 5 + len(body) + 4 // after section_length: ext(2) ver(1) secnum(2) body crc(4)
	s := []byte{tableID, 0xb0 | byte(l>>8&0x0f), byte(l), byte(idExt >> 8), byte(idExt), 0xc1, 0, 0}
	s = append(s, body...)
	crc := crc32MPEG2(s)
	return binary.BigEndian.AppendUint32(s, crc)
}

func patSection(pmtPID uint16) []byte {
	return section(tableIDPAT, 1, []byte{0, 1, 0xe0 | byte(pmtPID>>8), byte(pmtPID)})
}

type esDesc struct {
	streamType byte
	pid        uint16
}

func pmtSection(pcrPID uint16, streams ...esDesc) []byte {
	body := []byte{0xe0 | byte(pcrPID>>8), byte(pcrPID), 0xf0, 0}
	for _, s := range streams {
		body = append(body, s.streamType, 0xe0|byte(s.pid>>8), byte(s.pid), 0xf0, 0)
	}
	return section(tableIDPMT, 1, body)
}

// bitWriter writes H.264 syntax elements for hand-made SPSs.
type bitWriter struct {
	b []byte
	n int // bits used in the last byte
}

func (w *bitWriter) bit(v uint32) {
	if w.n == 0 {
		w.b = append(w.b, 0)
	}
	w.b[len(w.b)-1] |= byte(v&1) << (7 - w.n)
	w.n = (w.n + 1) % 8
}

func (w *bitWriter) bits(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(v >> i)
	}
}

func (w *bitWriter) ue(v uint32) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(v, n+1)
}

// escape inserts emulation prevention bytes.
func escape(rbsp []byte) []byte {
	var out []byte
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// makeSPS builds a Constrained Baseline SPS NAL (header byte included) for a
// width x height picture, cropping right/bottom to reach it.
func makeSPS(width, height int) []byte {
	w := &bitWriter{b: []byte{0x67, 66, 0xc0, 30}}
	w.n = 0
	w.ue(0) // sps id
	w.ue(0) // log2_max_frame_num_minus4
	w.ue(0) // poc type
	w.ue(0) // log2_max_poc_lsb_minus4
	w.ue(1) // max_num_ref_frames
	w.bit(0)
	mbw, mbh := (width+15)/16, (height+15)/16
	w.ue(uint32(mbw - 1))
	w.ue(uint32(mbh - 1))
	w.bit(1) // frame_mbs_only
	w.bit(1) // direct_8x8_inference
	cr, cb := (mbw*16-width)/2, (mbh*16-height)/2
	if cr != 0 || cb != 0 {
		w.bit(1)
		w.ue(0)
		w.ue(uint32(cr))
		w.ue(0)
		w.ue(uint32(cb))
	} else {
		w.bit(0)
	}
	w.bit(0) // vui
	w.bit(1) // rbsp stop bit
	return append(w.b[:1], escape(w.b[1:])...)
}

// accessUnit builds an Annex-B access unit: AUD, SPS+PPS+IDR slice for a
// keyframe, else a non-IDR slice. size pads the slice.
func accessUnit(key bool, sps []byte, size int) []byte {
	au := []byte{0, 0, 0, 1, 0x09, 0xf0}
	slice := []byte{0x41}
	if key {
		au = append(au, 0, 0, 0, 1)
		au = append(au, sps...)
		au = append(au, 0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80)
		slice = []byte{0x65}
	}
	au = append(au, 0, 0, 1)
	au = append(au, slice...)
	for len(au) < size {
		au = append(au, 0x88)
	}
	return au
}

// adtsFrame builds one AAC-LC ADTS frame at 48 kHz, stereo.
func adtsFrame(payload int) []byte {
	l := 7 + payload
	f := []byte{0xff, 0xf1, 0x4c, 0x80 | byte(l>>11&3), byte(l >> 3), byte(l<<5) | 0x1f, 0xfc}
	for range payload {
		f = append(f, 0x21)
	}
	return f
}

// synthOpts describes a synthetic stream.
type synthOpts struct {
	frames     int            // video frames at 30 fps (3000 ticks); 0 for none
	keyframe   func(int) bool // which frames are IDR
	audio      int            // audio PES count (each 4 AAC frames = 7680 ticks); 0 for none
	startPTS   int64
	firstLimit int // cap on the first packet payload of each video PES
	sps        []byte
	splitPMT   int // if > 0, write the PMT over two packets, this many payload bytes in the first
}

// synthStream muxes video and audio in PTS order with PAT/PMT up front and
// again every 30 frames.
func synthStream(o synthOpts) []byte {
	w := newTSWriter()
	var streams []esDesc
	pcr := uint16(synthVideoPID)
	if o.frames > 0 {
		streams = append(streams, esDesc{streamTypeH264, synthVideoPID})
	} else {
		pcr = synthAudioPID
	}
	if o.audio > 0 {
		streams = append(streams, esDesc{streamTypeAAC, synthAudioPID})
	}
	writePSI := func() {
		w.psi(pidPAT, patSection(synthPMTPID))
		if o.splitPMT > 0 {
			w.psiSplit(synthPMTPID, pmtSection(pcr, streams...), o.splitPMT)
		} else {
			w.psi(synthPMTPID, pmtSection(pcr, streams...))
		}
	}
	writePSI()
	sps := o.sps
	if sps == nil {
		sps = makeSPS(320, 180)
	}
	var af []byte
	for range 4 {
		af = append(af, adtsFrame(150)...)
	}
	v, a := 0, 0
	for v < o.frames || a < o.audio {
		vt := o.startPTS + int64(v)*3000
		at := o.startPTS + int64(a)*7680
		if v < o.frames && (a >= o.audio || vt <= at) {
			if v > 0 && v%30 == 0 {
				writePSI()
			}
			key := o.keyframe == nil && v == 0 || o.keyframe != nil && o.keyframe(v)
			size := 700
			if key {
				size = 3000
			}
			w.pes(synthVideoPID, 0xe0, vt, accessUnit(key, sps, size), o.firstLimit)
			v++
		} else {
			w.pes(synthAudioPID, 0xc0, at, af, 0)
			a++
		}
	}
	return w.bytes()
}
