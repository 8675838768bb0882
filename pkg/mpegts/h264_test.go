package mpegts

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestParseSPS(t *testing.T) {
	// SPSs taken from x264 output (via ffmpeg 5.1).
	tests := []struct {
		name, hex     string
		codec         string
		width, height int
	}{
		// High, 1080p: cropped from 1088, emulation prevention bytes.
		{"high 1080p", "67640028acd940780227e5c044000003000400000300f03c60c658", "avc1.640028", 1920, 1080},
		// Main, interlaced (frame_mbs_only_flag = 0): crop unit is 4 lines.
		{"interlaced", "674d4015f40a19f930110000030001000003003c1f142aa0", "avc1.4d4015", 320, 180},
		// High with seq_scaling_matrix_present_flag (cqm=jvt).
		{"scaling matrix", "6764000dacb40a0cfcf80880000003008000001e078a1550", "avc1.64000d", 320, 180},
		// High 4:4:4 Predictive: chroma_format_idc 3, crop unit 1 pixel.
		{"4:4:4 odd size", "67f4000d919681519e3e2f0110000003001000000303c0f142aa", "avc1.f4000d", 322, 182},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nal, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			sps, err := parseSPS(nal, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sps.codec() != tt.codec || sps.width != tt.width || sps.height != tt.height {
				t.Errorf("got %s %dx%d, want %s %dx%d", sps.codec(), sps.width, sps.height, tt.codec, tt.width, tt.height)
			}
			// No prefix may panic; short ones must fail.
			for i := range nal {
				if _, err := parseSPS(nal[:i], nil); err == nil && i < 5 {
					t.Errorf("prefix of %d bytes parsed", i)
				}
			}
		})
	}
}

func TestParseSPSSizes(t *testing.T) {
	for _, sz := range [][2]int{{16, 16}, {320, 180}, {640, 360}, {1280, 720}, {1920, 1080}, {3840, 2160}, {2, 2}, {4094, 2}} {
		sps, err := parseSPS(makeSPS(sz[0], sz[1]), nil)
		if err != nil || sps.width != sz[0] || sps.height != sz[1] {
			t.Errorf("%dx%d: got %dx%d, %v", sz[0], sz[1], sps.width, sps.height, err)
		}
	}
}

func TestUnescapeRBSP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"00000301", "000001"},
		{"0000030000030001", "000000000001"},
		{"000003", "0000"},
		{"0003", "0003"},
		{"6700000300", "67000000"},
	}
	for _, tt := range tests {
		in, _ := hex.DecodeString(tt.in)
		if got := hex.EncodeToString(unescapeRBSP(nil, in)); got != tt.want {
			t.Errorf("unescape(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestNALScannerSplits feeds an access unit in two pieces at every possible
// split point: start codes and NAL headers straddling packets must not
// matter.
func TestNALScannerSplits(t *testing.T) {
	sps := makeSPS(640, 360)
	for _, key := range []bool{true, false} {
		au := accessUnit(key, sps, 100)
		for i := 0; i <= len(au); i++ {
			var n nalScanner
			n.reset(true)
			n.feed(au[:i])
			if !n.done || n.capture {
				n.feed(au[i:])
			}
			n.finish()
			if !n.done || n.idr != key {
				t.Fatalf("key=%v split %d: done=%v idr=%v", key, i, n.done, n.idr)
			}
			if key && !bytes.Equal(n.sps, sps) {
				t.Fatalf("split %d: SPS %x, want %x", i, n.sps, sps)
			}
		}
	}
}

// The scanner finds the A/53 captions SEI before the first slice however
// the access unit is split, and only there: the same bytes in a slice, or
// an SEI of other user data, are not captions.
func TestNALScannerFindsCaptions(t *testing.T) {
	cc := append([]byte{0, 0, 1, 0x06, 0x04, 0x0f}, a53Captions[:]...)
	cc = append(cc, 0x40|1, 0xff, 0xfc, 0x94, 0x2c, 0xff, 0x80)
	other := []byte{0, 0, 1, 0x06, 0x05, 0x08, 'x', '2', '6', '4', 0xb5, 0x00, 0x31, 'G', 0x80}
	au := accessUnit(true, makeSPS(640, 360), 0)
	slice := bytes.LastIndex(au, []byte{0, 0, 1})
	with := func(sei []byte) []byte { return append(append(append([]byte{}, au[:slice]...), sei...), au[slice:]...) }
	for _, c := range []struct {
		name string
		au   []byte
		want bool
	}{
		{"captions SEI", with(cc), true},
		{"other SEI", with(other), false},
		{"the bytes in a slice", append(append([]byte{}, au...), a53Captions[:]...), false},
		{"no SEI", au, false},
	} {
		for i := 0; i <= len(c.au); i++ {
			var n nalScanner
			n.reset(true)
			n.feed(c.au[:i])
			if n.busy() {
				n.feed(c.au[i:])
			}
			if n.captions != c.want {
				t.Fatalf("%s, split at %d: captions %v, want %v", c.name, i, n.captions, c.want)
			}
		}
	}
}

func TestBitReader(t *testing.T) {
	r := bitReader{b: []byte{0b10100110, 0b01000000}}
	// ue: 1 → 0, 010 → 1, 011 → 2, 00100 → 3
	for _, want := range []uint32{0, 1, 2, 3} {
		if got := r.ue(); got != want || r.err != nil {
			t.Fatalf("ue = %d (%v), want %d", got, r.err, want)
		}
	}
	r.bits(16)
	if r.err == nil {
		t.Error("reading past the end did not fail")
	}
	z := bitReader{b: make([]byte, 8)}
	z.ue()
	if z.err == nil {
		t.Error("over-long exp-Golomb code did not fail")
	}
}
