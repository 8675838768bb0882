package mpegts

import (
	"bytes"
	"math"
	"os"
	"testing"
	"time"
)

// FuzzSplitTS feeds arbitrary bytes to SplitTS: it must never panic, and
// whatever it emits must be well-formed packets.
//
// testdata/small.ts is 1 s of 160x90 H.264 + AAC from ffmpeg, keyframes
// every 0.5 s:
//
//	ffmpeg -f lavfi -i testsrc2=size=160x90:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 1 \
//	  -c:v libx264 -preset ultrafast -g 600 -x264-params scenecut=0:open_gop=0 \
//	  -force_key_frames "expr:gte(t,n_forced*0.5)" -c:a aac -b:a 32k \
//	  -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -f mpegts small.ts
func FuzzSplitTS(f *testing.F) {
	small, err := os.ReadFile("testdata/small.ts")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small, uint16(500))
	f.Add(small[:len(small)/2], uint16(200))
	f.Add(small[:40*PacketSize], uint16(20))
	every := func(n int) func(int) bool { return func(i int) bool { return i%n == 0 } }
	f.Add(synthStream(synthOpts{frames: 20, keyframe: every(5), audio: 3}), uint16(100))
	f.Add(synthStream(synthOpts{frames: 12, keyframe: every(3), firstLimit: 7, startPTS: ptsWrap - 3000}), uint16(50))
	f.Add(synthStream(synthOpts{audio: 10}), uint16(100))
	f.Add(synthStream(synthOpts{frames: 3})[:2*PacketSize], uint16(1000))
	f.Add([]byte{syncByte}, uint16(6000))
	f.Add(bytes.Repeat([]byte{syncByte, 0x1f, 0xff, 0x10}, 47), uint16(6000))

	f.Fuzz(func(t *testing.T, data []byte, targetMs uint16) {
		target := time.Duration(targetMs%20000+1) * time.Millisecond
		next := 0
		info, err := SplitTS(bytes.NewReader(data), Options{TargetDuration: target}, func(seg Segment, d []byte) error {
			if seg.Index != next {
				t.Fatalf("segment index %d, want %d", seg.Index, next)
			}
			next++
			if seg.Size != int64(len(d)) || len(d) == 0 || len(d)%PacketSize != 0 || d[0] != syncByte {
				t.Fatalf("segment %d: Size %d, len %d, first byte %#x", seg.Index, seg.Size, len(d), d[0])
			}
			if seg.KeyframeEnd < 0 || seg.KeyframeEnd > seg.Size {
				t.Fatalf("segment %d: KeyframeEnd %d outside [0, %d]", seg.Index, seg.KeyframeEnd, seg.Size)
			}
			if !(seg.Duration >= 0) || math.IsInf(seg.Duration, 0) || math.IsNaN(seg.Start) {
				t.Fatalf("segment %d: Start %v Duration %v", seg.Index, seg.Start, seg.Duration)
			}
			return nil
		})
		if info.Segments != next {
			t.Fatalf("Info.Segments %d, emitted %d", info.Segments, next)
		}
		if err == nil && next == 0 {
			t.Fatal("success without segments")
		}
	})
}
