package mpegts

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// FuzzSplitTS feeds arbitrary bytes to SplitTS: it must never panic, and
// whatever it emits must be well-formed packets, with keyframe ranges inside
// the data and in order.
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
	f.Add(synthStream(synthOpts{frames: 60, keyframe: func(i int) bool { return i%30 == 0 || i%30 == 13 || i == 44 }, audio: 5, splitPMT: 20}), uint16(900))
	f.Add(synthStream(synthOpts{frames: 3})[:2*PacketSize], uint16(1000))
	f.Add([]byte{syncByte}, uint16(6000))
	f.Add(bytes.Repeat([]byte{syncByte, 0x1f, 0xff, 0x10}, 47), uint16(6000))

	f.Fuzz(func(t *testing.T, data []byte, targetMs uint16) {
		target := time.Duration(targetMs%20000+1) * time.Millisecond
		next := 0
		hold := int(targetMs>>14)%3 + 1 // 1 to 3 segments kept valid
		continuous := targetMs&1 == 1   // renumbered and padded (Options.Continuous)
		var held, heldCopies [][]byte   // the last segments' data as emitted, and copies
		var segs []byte                 // every segment's bytes, for the one-byte reader's run
		var metas []Segment
		info, err := SplitTS(bytes.NewReader(data), Options{TargetDuration: target, Hold: hold, Continuous: continuous}, func(seg Segment, d []byte) error {
			if seg.Index != next {
				t.Fatalf("segment index %d, want %d", seg.Index, next)
			}
			next++
			// The last hold segments' data stays valid until this call returns.
			for i := range held {
				if !bytes.Equal(held[i], heldCopies[i]) {
					t.Fatalf("segment %d (hold %d): segment %d's data changed before this emit", seg.Index, hold, seg.Index-len(held)+i)
				}
			}
			held, heldCopies = append(held, d), append(heldCopies, bytes.Clone(d))
			if len(held) > hold {
				held, heldCopies = held[1:], heldCopies[1:]
			}
			segs = append(segs, d...)
			metas = append(metas, seg)
			if seg.Size != int64(len(d)) || len(d) == 0 || len(d)%PacketSize != 0 || d[0] != syncByte {
				t.Fatalf("segment %d: Size %d, len %d, first byte %#x", seg.Index, seg.Size, len(d), d[0])
			}
			if seg.KeyframeEnd < 0 || seg.KeyframeEnd > seg.Size {
				t.Fatalf("segment %d: KeyframeEnd %d outside [0, %d]", seg.Index, seg.KeyframeEnd, seg.Size)
			}
			if !(seg.Duration >= 0) || math.IsInf(seg.Duration, 0) || math.IsNaN(seg.Start) {
				t.Fatalf("segment %d: Start %v Duration %v", seg.Index, seg.Start, seg.Duration)
			}
			if seg.HeaderSize < 2*PacketSize || seg.HeaderSize%PacketSize != 0 || seg.HeaderSize >= seg.Size {
				t.Fatalf("segment %d: HeaderSize %d (Size %d)", seg.Index, seg.HeaderSize, seg.Size)
			}
			// Keyframes: none for audio-only (KeyframeEnd 0); for video the
			// first starts the segment, and all are whole packets in data,
			// in order, without overlap.
			if len(seg.Keyframes) == 0 {
				if seg.Keyframes != nil || seg.KeyframeEnd != 0 {
					t.Fatalf("segment %d: Keyframes %v, KeyframeEnd %d", seg.Index, seg.Keyframes, seg.KeyframeEnd)
				}
				return nil
			}
			if k := seg.Keyframes[0]; k.Offset != seg.HeaderSize || k.Offset+k.Size != seg.KeyframeEnd || k.Time != seg.Start {
				t.Fatalf("segment %d: first keyframe %+v, HeaderSize %d, KeyframeEnd %d, Start %v", seg.Index, k, seg.HeaderSize, seg.KeyframeEnd, seg.Start)
			}
			end := int64(0)
			for i, k := range seg.Keyframes {
				if k.Offset < end || k.Size <= 0 || k.Offset%PacketSize != 0 || k.Size%PacketSize != 0 ||
					k.Offset+k.Size > seg.Size || math.IsNaN(k.Time) || math.IsInf(k.Time, 0) {
					t.Fatalf("segment %d keyframe %d: %+v after %d, Size %d", seg.Index, i, k, end, seg.Size)
				}
				if d[k.Offset+1]&0x40 == 0 { // (the video PID may change with a new PMT)
					t.Fatalf("segment %d keyframe %d: %+v is not at a PES start", seg.Index, i, k)
				}
				end = k.Offset + k.Size
			}
			return nil
		})
		if info.Segments != next {
			t.Fatalf("Info.Segments %d, emitted %d", info.Segments, next)
		}
		if err == nil && next == 0 {
			t.Fatal("success without segments")
		}
		// The same input read a byte at a time (a slow network body) cuts
		// the same segments and fails the same way.
		var segs1 []byte
		var metas1 []Segment
		info1, err1 := SplitTS(iotest.OneByteReader(bytes.NewReader(data)), Options{TargetDuration: target, Continuous: continuous}, func(seg Segment, d []byte) error {
			segs1 = append(segs1, d...)
			metas1 = append(metas1, seg)
			return nil
		})
		if fmt.Sprint(err) != fmt.Sprint(err1) || info != info1 || !bytes.Equal(segs, segs1) || !reflect.DeepEqual(metas, metas1) {
			t.Fatalf("one byte at a time: %v, %+v, %d bytes in %d segments; all at once: %v, %+v, %d bytes in %d segments",
				err1, info1, len(segs1), len(metas1), err, info, len(segs), len(metas))
		}
	})
}
