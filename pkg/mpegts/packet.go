package mpegts

// Transport stream packet constants (ISO/IEC 13818-1 §2.4.3).
const (
	// PacketSize is the size of one MPEG-TS packet.
	PacketSize = 188
	syncByte   = 0x47

	pidPAT = 0x0000

	tableIDPAT = 0x00
	tableIDPMT = 0x02

	streamTypeH264 = 0x1b
	streamTypeHEVC = 0x24
	// streamTypePrivate is how FFmpeg 5.1's muxer carries AV1: PES private
	// data, each PES a temporal unit, keyframes flagged random access.
	streamTypePrivate = 0x06
	streamTypeAAC     = 0x0f

	// maxSectionLen bounds PAT/PMT sections: section_length is at most 1021,
	// plus the 3 header bytes.
	maxSectionLen = 1024
	// maxSectionPackets bounds how many packets one PSI section may span;
	// ceil(1024/183) rounded up generously.
	maxSectionPackets = 8
)

// packetPID returns the 13-bit PID of a packet.
func packetPID(p []byte) uint16 {
	return uint16(p[1]&0x1f)<<8 | uint16(p[2])
}

// packetPayload returns the payload of a 188-byte packet, or nil if the packet
// carries none or its adaptation field is malformed. It never reads outside p.
func packetPayload(p []byte) []byte {
	afc := p[3] >> 4 & 3
	switch afc {
	case 1: // payload only
		return p[4:]
	case 3: // adaptation field followed by payload
		start := 5 + int(p[4])
		if start >= PacketSize {
			return nil
		}
		return p[start:]
	default: // 0 is reserved, 2 is adaptation field only
		return nil
	}
}

// randomAccess reports whether a packet's adaptation field sets the
// random_access_indicator (a keyframe starts in it, as FFmpeg's muxer
// flags them).
func randomAccess(p []byte) bool {
	return p[3]&0x20 != 0 && p[4] > 0 && p[5]&0x40 != 0
}

// hasPayload reports whether the adaptation_field_control says the packet
// carries a payload; only such packets advance the continuity counter.
func hasPayload(p []byte) bool {
	return p[3]&0x10 != 0
}

// setCC rewrites the continuity counter of packet p.
func setCC(p []byte, cc uint8) {
	p[3] = p[3]&0xf0 | cc&0x0f
}

// Codec is a video stream's codec, from its PMT stream type.
type Codec uint8

// The video codecs SplitTS cuts. H.264 keyframes are found in the
// bitstream (an IDR slice); HEVC and AV1 keyframes by the
// random_access_indicator FFmpeg's muxer sets on them (hlsd's encoder
// makes closed GOPs: every one is an IDR or a key frame).
const (
	H264 Codec = iota
	HEVC
	AV1
)
