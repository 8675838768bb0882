package testutil

import (
	"bytes"
	"math/bits"
	"os"
	"strconv"
	"testing"
)

// CaptionedH264 makes seconds of 320x180 H.264 at 30 fps in an MP4 (name)
// carrying CEA-608 closed captions, as broadcast recordings and cameras do:
// every frame has an ATSC A/53 cc_data SEI (padding when idle), and text
// pops on at popOn seconds on channel CC1. ffmpeg cannot write captions
// from text, so the SEI are put into x264's stream here. x264 options, if
// any, are added to its command line (e.g. to flag it interlaced).
func CaptionedH264(t testing.TB, name string, seconds int, text string, popOn float64, x264 ...string) string {
	t.Helper()
	RequireTools(t, "ffmpeg")
	args := []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0"}
	raw := Generate(t, "plain.h264", append(append(args, x264...), "-f", "h264")...)
	in, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The pop-on caption as byte pairs, one per frame from popOn: erase
	// what is shown, load a caption, the text, end of caption (shown now).
	// Control codes are sent twice, as the standard asks.
	pairs := [][2]byte{{0x14, 0x2c}, {0x14, 0x2c}, {0x14, 0x20}, {0x14, 0x20}}
	for i := 0; i < len(text); i += 2 {
		p := [2]byte{text[i], 0x80}
		if i+1 < len(text) {
			p[1] = text[i+1]
		}
		pairs = append(pairs, p)
	}
	pairs = append(pairs, [2]byte{0x14, 0x2f}, [2]byte{0x14, 0x2f})
	start := int(popOn*30 + 0.5)

	var out bytes.Buffer
	frame := 0
	for _, nal := range splitAnnexB(in) {
		if typ := nal[0] & 0x1f; typ == 1 || typ == 5 { // a slice: one per frame here
			var pair *[2]byte
			if k := frame - start; k >= 0 && k < len(pairs) {
				pair = &pairs[k]
			}
			out.Write([]byte{0, 0, 0, 1})
			out.Write(a53SEI(pair))
			frame++
		}
		out.Write([]byte{0, 0, 0, 1})
		out.Write(nal)
	}
	withCC := WriteFile(t, t.TempDir(), "cc.h264", out.Bytes())
	return Generate(t, name, "-r", "30", "-i", withCC, "-c", "copy")
}

// a53SEI is an H.264 SEI NAL unit (user data registered by ITU-T T.35)
// holding ATSC A/53 cc_data: one CEA-608 field-1 pair (with odd parity;
// nil for padding) and an empty field-2 pair.
func a53SEI(pair *[2]byte) []byte {
	cc := []byte{0xfc, 0x80, 0x80}
	if pair != nil {
		cc = []byte{0xfc, oddParity(pair[0]), oddParity(pair[1])}
	}
	cc = append(cc, 0xfd, 0x80, 0x80)
	payload := append([]byte{0xb5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03, 0x40 | 2, 0xff}, cc...)
	payload = append(payload, 0xff)
	sei := append([]byte{0x06, 0x04, byte(len(payload))}, payload...)
	return append(sei, 0x80) // rbsp trailing bits
}

func oddParity(b byte) byte {
	b &= 0x7f
	if bits.OnesCount8(b)%2 == 0 {
		b |= 0x80
	}
	return b
}

// splitAnnexB splits an H.264 byte stream into its NAL units.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	for {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			return nals
		}
		b = b[i+3:]
		j := bytes.Index(b, []byte{0, 0, 1})
		if j < 0 {
			return append(nals, b)
		}
		nal := bytes.TrimRight(b[:j], "\x00")
		if len(nal) > 0 {
			nals = append(nals, nal)
		}
		b = b[j:]
	}
}

// CaptionText is what ffmpeg reads as closed captions from a file or URL
// (channel CC1, as SubRip text); "" if none.
func CaptionText(t testing.TB, input string) string {
	t.Helper()
	b, err := os.ReadFile(Generate(t, "cc.srt", "-f", "lavfi", "-i", "movie="+escapeMovie(input)+"[out0+subcc]", "-map", "0:1", "-f", "srt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// escapeMovie escapes a file name or URL for the movie source's filename
// option inside a filter graph.
func escapeMovie(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '\\', ':', '\'', ',', ';', '[', ']', '=':
			b.WriteByte('\\')
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
