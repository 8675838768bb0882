package mpegts

import (
	"errors"
	"fmt"
)

// H.264 NAL unit types we care about (ITU-T H.264 Table 7-1).
const (
	nalSliceNonIDR = 1
	nalSliceIDR    = 5
	nalSEI         = 6
	nalSPS         = 7

	maxSPSLen = 1024 // far above any real SPS; bounds memory on garbage
)

// nalScanner finds the first VCL NAL unit of an access unit in a PES payload
// that arrives in pieces, and optionally captures an SPS on the way. Start
// codes and NAL headers may straddle TS packet boundaries, so all state lives
// here rather than in the caller.
type nalScanner struct {
	zeros      int  // consecutive 0x00 bytes just seen (saturating)
	nextHeader bool // the next byte is a NAL header
	done       bool // first VCL NAL seen: nothing more to learn
	idr        bool // that NAL was an IDR slice

	wantSPS  bool   // capture the next SPS
	capture  bool   // currently copying SPS bytes
	sps      []byte // captured SPS NAL (header byte included, still escaped)
	spsReady bool   // sps holds a complete NAL

	inSEI    bool // in an SEI NAL unit
	ccMatch  int  // bytes of a53Captions matched so far in it
	captions bool // an SEI with ATSC A/53 cc_data was seen (sticky)
}

// a53Captions starts the ATSC A/53 cc_data an SEI of closed captions
// carries (user data registered by ITU-T T.35): country code, provider
// code, "GA94", user_data_type_code 3. Its single zero byte needs no
// emulation prevention, so it appears as is in the escaped NAL.
var a53Captions = [...]byte{0xb5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03}

func (n *nalScanner) reset(wantSPS bool) {
	n.zeros, n.nextHeader, n.done, n.idr = 0, false, false, false
	n.wantSPS, n.capture, n.spsReady = wantSPS, false, false
	n.sps = n.sps[:0]
	n.inSEI, n.ccMatch = false, 0
}

// busy reports whether feed still wants bytes.
func (n *nalScanner) busy() bool { return !n.done || n.capture }

// feed scans the next piece of the elementary stream.
func (n *nalScanner) feed(b []byte) {
	for _, c := range b {
		if n.nextHeader {
			n.nextHeader = false
			t := c & 0x1f
			n.inSEI, n.ccMatch = t == nalSEI, 0
			if t >= nalSliceNonIDR && t <= nalSliceIDR {
				if !n.done {
					n.done, n.idr = true, t == nalSliceIDR
				}
				if !n.capture {
					return
				}
			}
			if t == nalSPS && n.wantSPS && !n.spsReady {
				n.capture = true
				n.sps = append(n.sps[:0], c)
				n.zeros = 0
				continue
			}
		}
		if n.inSEI && !n.captions {
			switch {
			case c == a53Captions[n.ccMatch]:
				n.ccMatch++
				if n.ccMatch == len(a53Captions) {
					n.captions = true
				}
			case c == a53Captions[0]:
				n.ccMatch = 1
			default:
				n.ccMatch = 0
			}
		}
		if n.capture {
			if len(n.sps) >= maxSPSLen {
				n.capture = false
				n.sps = n.sps[:0]
			} else {
				n.sps = append(n.sps, c)
			}
		}
		switch {
		case c == 0:
			if n.zeros < 3 {
				n.zeros++
			}
		case c == 1 && n.zeros >= 2:
			n.zeros = 0
			n.nextHeader = true
			if n.capture {
				// The start code ends the SPS: drop it and any trailing
				// zero bytes (the RBSP ends in a stop bit, so real data
				// never ends in 0x00).
				n.capture = false
				s := n.sps[:len(n.sps)-1]
				for len(s) > 0 && s[len(s)-1] == 0 {
					s = s[:len(s)-1]
				}
				n.sps = s
				n.spsReady = len(s) > 1
				if n.done {
					return
				}
			}
		default:
			n.zeros = 0
		}
	}
}

// finish ends the PES: an SPS running to the end of the PES is complete.
func (n *nalScanner) finish() {
	if n.capture {
		n.capture = false
		s := n.sps
		for len(s) > 0 && s[len(s)-1] == 0 {
			s = s[:len(s)-1]
		}
		n.sps = s
		n.spsReady = len(s) > 1
	}
}

// spsInfo is what we take from a sequence parameter set.
type spsInfo struct {
	profile, constraints, level byte
	width, height               int
}

// codec returns the RFC 6381 codec string, e.g. "avc1.64001f".
func (s spsInfo) codec() string {
	return fmt.Sprintf("avc1.%02x%02x%02x", s.profile, s.constraints, s.level)
}

var errBitstream = errors.New("bitstream overrun")

// bitReader reads an RBSP (emulation prevention already removed). Errors are
// sticky so that parsing code can check once at the end.
type bitReader struct {
	b   []byte
	pos int // bit position
	err error
}

func (r *bitReader) bit() uint32 {
	if r.pos >= len(r.b)*8 {
		r.err = errBitstream
		return 0
	}
	v := uint32(r.b[r.pos>>3]>>(7-r.pos&7)) & 1
	r.pos++
	return v
}

func (r *bitReader) bits(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an unsigned exp-Golomb code.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.bit() == 0 {
		if r.err != nil {
			return 0
		}
		zeros++
		if zeros > 31 {
			r.err = errors.New("exp-Golomb code too long")
			return 0
		}
	}
	return (1<<zeros - 1) + r.bits(zeros)
}

// se reads a signed exp-Golomb code.
func (r *bitReader) se() int32 {
	k := r.ue()
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}

// unescapeRBSP removes emulation prevention bytes (0x000003 → 0x0000) from a
// NAL unit, appending the result to dst.
func unescapeRBSP(dst, nal []byte) []byte {
	zeros := 0
	for _, c := range nal {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		dst = append(dst, c)
	}
	return dst
}

// parseSPS parses an escaped SPS NAL unit (starting with its header byte) far
// enough to get the profile, level and cropped picture size
// (ITU-T H.264 §7.3.2.1.1 and §7.4.2.1.1).
func parseSPS(nal, scratch []byte) (spsInfo, error) {
	var s spsInfo
	rbsp := unescapeRBSP(scratch[:0], nal)
	if len(rbsp) < 4 || rbsp[0]&0x1f != nalSPS {
		return s, errors.New("h264: SPS too short")
	}
	s.profile, s.constraints, s.level = rbsp[1], rbsp[2], rbsp[3]
	r := bitReader{b: rbsp[4:]}
	r.ue() // seq_parameter_set_id

	chromaFormat := uint32(1) // 4:2:0 unless signalled
	separateColourPlanes := false
	switch s.profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chromaFormat = r.ue()
		if chromaFormat > 3 {
			return s, fmt.Errorf("h264: bad chroma_format_idc %d", chromaFormat)
		}
		if chromaFormat == 3 {
			separateColourPlanes = r.bit() == 1
		}
		r.ue()            // bit_depth_luma_minus8
		r.ue()            // bit_depth_chroma_minus8
		r.bit()           // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chromaFormat == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bit() == 1 { // seq_scaling_list_present_flag[i]
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(&r, size)
				}
				if r.err != nil {
					return s, fmt.Errorf("h264: SPS scaling lists: %w", r.err)
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bit() // delta_pic_order_always_zero_flag
		r.se()  // offset_for_non_ref_pic
		r.se()  // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return s, fmt.Errorf("h264: num_ref_frames_in_pic_order_cnt_cycle %d too large", n)
		}
		for range n {
			r.se()
		}
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps_in_frame_num_value_allowed_flag
	widthMbs := r.ue() + 1
	heightMapUnits := r.ue() + 1
	frameMbsOnly := r.bit()
	if frameMbsOnly == 0 {
		r.bit() // mb_adaptive_frame_field_flag
	}
	r.bit() // direct_8x8_inference_flag
	var cropLeft, cropRight, cropTop, cropBottom uint32
	if r.bit() == 1 { // frame_cropping_flag
		cropLeft, cropRight, cropTop, cropBottom = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return s, fmt.Errorf("h264: SPS: %w", r.err)
	}
	// Level 6.2 allows 139264 macroblocks per frame; anything wildly beyond
	// that is garbage and could overflow the arithmetic below.
	if widthMbs > 1<<12 || heightMapUnits > 1<<12 {
		return s, fmt.Errorf("h264: SPS picture size %dx%d macroblocks out of range", widthMbs, heightMapUnits)
	}

	// Crop units depend on chroma subsampling and on field coding.
	cropUnitX, cropUnitY := uint32(1), 2-frameMbsOnly
	if !separateColourPlanes && chromaFormat != 0 {
		subWidth, subHeight := uint32(1), uint32(1)
		if chromaFormat == 1 || chromaFormat == 2 {
			subWidth = 2
		}
		if chromaFormat == 1 {
			subHeight = 2
		}
		cropUnitX, cropUnitY = subWidth, subHeight*(2-frameMbsOnly)
	}
	w := uint64(widthMbs) * 16
	h := uint64(2-frameMbsOnly) * uint64(heightMapUnits) * 16
	cropX := uint64(cropUnitX) * (uint64(cropLeft) + uint64(cropRight))
	cropY := uint64(cropUnitY) * (uint64(cropTop) + uint64(cropBottom))
	if cropX >= w || cropY >= h {
		return s, errors.New("h264: SPS cropping exceeds the picture")
	}
	s.width, s.height = int(w-cropX), int(h-cropY)
	return s, nil
}

// skipScalingList consumes a scaling_list() syntax structure (§7.3.2.1.1.1).
func skipScalingList(r *bitReader, size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			next = (last + r.se() + 256) % 256
			if r.err != nil {
				return
			}
		}
		if next != 0 {
			last = next
		}
	}
}
