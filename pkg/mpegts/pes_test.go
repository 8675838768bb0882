package mpegts

import (
	"os"
	"testing"
)

// EachPES hands over every PES of the stream, whole, in order: the video's
// access units (each starting with a start code) and the AAC's ADTS frames.
func TestEachPES(t *testing.T) {
	b, err := os.ReadFile("testdata/small.ts")
	if err != nil {
		t.Fatal(err)
	}
	var video, audio int
	last := int64(-1)
	if err := EachPES(b[:len(b)/PacketSize*PacketSize], func(p PES) error {
		if p.Video {
			video++
			if p.Codec != H264 || len(p.Payload) < 4 || p.Payload[0] != 0 || p.Payload[1] != 0 {
				t.Errorf("video PES %d: codec %d, payload % x…", video, p.Codec, p.Payload[:min(4, len(p.Payload))])
			}
			if p.DTS <= last {
				t.Errorf("video PES %d: DTS %d after %d", video, p.DTS, last)
			}
			last = p.DTS
			return nil
		}
		audio++
		if len(p.Payload) < 7 || p.Payload[0] != 0xff || p.Payload[1]&0xf0 != 0xf0 {
			t.Errorf("audio PES %d does not start with an ADTS header", audio)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if video == 0 || audio == 0 {
		t.Errorf("%d video and %d audio PES", video, audio)
	}
	for name, bad := range map[string][]byte{"half a packet": b[:100], "no sync byte": make([]byte, PacketSize), "no PMT": nil} {
		if err := EachPES(bad, func(PES) error { return nil }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
