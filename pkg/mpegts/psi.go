package mpegts

// crcTable is the table for CRC-32/MPEG-2 (polynomial 0x04C11DB7, MSB first,
// no reflection, no final XOR), which protects PSI sections.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc32MPEG2 computes the CRC of b. Over a whole section including its
// trailing CRC field the result is 0.
func crc32MPEG2(b []byte) uint32 {
	c := uint32(0xffffffff)
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^x]
	}
	return c
}

// sectionBuffer reassembles one PSI section that may span several packets of
// a PID. It also keeps the raw packets the section came from, so that they can
// be replayed at the start of every segment.
type sectionBuffer struct {
	buf     []byte // section bytes collected so far
	need    int    // total section length once known, else 0
	active  bool   // collecting a section
	packets []byte // raw packets carrying the section being collected
}

// feed adds the payload of one packet (pkt is the whole packet) and returns
// the complete section once all its bytes have arrived. The returned slice is
// valid until the next call.
func (s *sectionBuffer) feed(pkt, payload []byte, pusi bool) ([]byte, bool) {
	if pusi {
		s.active = false
		if len(payload) == 0 {
			return nil, false
		}
		// pointer_field: bytes before it finish a previous section, which we
		// never need because we only keep sections that start in our view.
		ptr := int(payload[0])
		if 1+ptr >= len(payload) {
			return nil, false
		}
		payload = payload[1+ptr:]
		s.buf = s.buf[:0]
		s.need = 0
		s.active = true
		s.packets = s.packets[:0]
	}
	if !s.active {
		return nil, false
	}
	if len(s.packets) >= maxSectionPackets*PacketSize {
		s.active = false
		return nil, false
	}
	s.packets = append(s.packets, pkt...)
	s.buf = append(s.buf, payload...)
	if s.need == 0 && len(s.buf) >= 3 {
		if s.buf[0] == 0xff { // stuffing: no section here
			s.active = false
			return nil, false
		}
		s.need = 3 + (int(s.buf[1]&0x0f)<<8 | int(s.buf[2]))
		if s.need > maxSectionLen {
			s.active = false
			return nil, false
		}
	}
	if s.need > 0 && len(s.buf) >= s.need {
		s.active = false
		return s.buf[:s.need], true
	}
	return nil, false
}

// checkSection validates the long-form section header (minimum length,
// section_syntax_indicator, current_next_indicator) and the CRC.
func checkSection(sec []byte, minLen int) bool {
	if len(sec) < minLen || sec[1]&0x80 == 0 { // section_syntax_indicator
		return false
	}
	if sec[5]&0x01 == 0 { // current_next_indicator: not yet applicable
		return false
	}
	return crc32MPEG2(sec) == 0
}

// parsePAT returns the PMT PID of the first program in a PAT section.
func parsePAT(sec []byte) (pmtPID uint16, ok bool) {
	// 8 header bytes + 4 CRC bytes.
	if !checkSection(sec, 12) || sec[0] != tableIDPAT {
		return 0, false
	}
	for i := 8; i+4 <= len(sec)-4; i += 4 {
		program := uint16(sec[i])<<8 | uint16(sec[i+1])
		pid := uint16(sec[i+2]&0x1f)<<8 | uint16(sec[i+3])
		if program == 0 { // network PID, not a program
			continue
		}
		if pid == pidPAT || pid == 0x1fff {
			continue
		}
		return pid, true
	}
	return 0, false
}

// pmtInfo is what we need from a PMT: the first video stream (H.264, HEVC,
// or private data: FFmpeg's AV1) and the first AAC stream.
type pmtInfo struct {
	videoPID, audioPID uint16
	hasVideo, hasAudio bool
	videoCodec         Codec
}

// parsePMT extracts the elementary streams of a PMT section.
func parsePMT(sec []byte, pmtPID uint16) (pmtInfo, bool) {
	var info pmtInfo
	// 12 header bytes + 4 CRC bytes.
	if !checkSection(sec, 16) || sec[0] != tableIDPMT {
		return info, false
	}
	end := len(sec) - 4
	i := 12 + (int(sec[10]&0x0f)<<8 | int(sec[11])) // skip program_info
	for i+5 <= end {
		st := sec[i]
		pid := uint16(sec[i+1]&0x1f)<<8 | uint16(sec[i+2])
		esInfoLen := int(sec[i+3]&0x0f)<<8 | int(sec[i+4])
		i += 5 + esInfoLen
		if pid == pidPAT || pid == pmtPID || pid == 0x1fff {
			continue
		}
		switch {
		case st == streamTypeH264 && !info.hasVideo:
			info.videoPID, info.hasVideo, info.videoCodec = pid, true, H264
		case st == streamTypeHEVC && !info.hasVideo:
			info.videoPID, info.hasVideo, info.videoCodec = pid, true, HEVC
		case st == streamTypePrivate && !info.hasVideo:
			info.videoPID, info.hasVideo, info.videoCodec = pid, true, AV1
		case st == streamTypeAAC && !info.hasAudio:
			info.audioPID, info.hasAudio = pid, true
		}
	}
	if info.hasVideo && info.hasAudio && info.videoPID == info.audioPID {
		info.hasAudio = false
	}
	return info, true
}
