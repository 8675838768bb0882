package conformance

import (
	"bytes"
	"testing"
)

// seiCC is an SEI NAL unit of A/53 captions behind an unregistered user
// data message, as x264 writes them.
var seiCC = []byte{0x06,
	0x05, 0x04, 'x', '2', '6', '4', // user_data_unregistered, 4 bytes
	0x04, 0x0f, 0xb5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03, 0x42, 0xff, 0xfc, 0x94, 0x2c, 0xfd, 0x80, 0x80, 0xff,
	0x80}

func TestSEIHasCaptions(t *testing.T) {
	for _, c := range []struct {
		name string
		nal  []byte
		want bool
	}{
		{"captions after another message", seiCC, true},
		{"no cc (cc_count 0)", bytes.Replace(seiCC, []byte{0x03, 0x42}, []byte{0x03, 0x40}, 1), false},
		{"process_cc_data off", bytes.Replace(seiCC, []byte{0x03, 0x42}, []byte{0x03, 0x02}, 1), false},
		{"another provider", bytes.Replace(seiCC, []byte("GA94"), []byte("DTG1"), 1), false},
		{"payload type 5 only", seiCC[:7], false},
		{"size past the end", []byte{0x06, 0x04, 0x40, 0xb5, 0x00, 0x31}, false},
		{"ff bytes to the end", []byte{0x06, 0xff, 0xff}, false},
		{"header only", []byte{0x06}, false},
	} {
		if got := seiHasCaptions(c.nal); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// The SEI parser reads untrusted bytes: it must never panic.
func FuzzSEIHasCaptions(f *testing.F) {
	f.Add(seiCC)
	f.Add([]byte{0x06, 0x04, 0x00, 0x00, 0x03, 0x01})
	f.Fuzz(func(t *testing.T, nal []byte) {
		if len(nal) == 0 {
			return
		}
		seiHasCaptions(nal)
		scanH264(append([]byte{0, 0, 1}, nal...))
	})
}
