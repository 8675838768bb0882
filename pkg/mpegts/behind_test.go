package mpegts

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestBehindWritesEverySegmentOnceInOrder cuts a real stream with its
// writes behind SplitTS: what the writes saw is what SplitTS emitted, one
// write at a time, in order.
func TestBehindWritesEverySegmentOnceInOrder(t *testing.T) {
	small := synthStream(synthOpts{frames: 60, keyframe: func(i int) bool { return i%10 == 0 }, audio: 8})
	var want [][]byte
	if _, err := SplitTS(bytes.NewReader(small), Options{TargetDuration: 300 * time.Millisecond}, func(_ Segment, d []byte) error {
		want = append(want, bytes.Clone(d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var w Behind
	var running atomic.Int32
	got := make([][]byte, 0, len(want))
	_, err := SplitTS(bytes.NewReader(small), Options{TargetDuration: 300 * time.Millisecond}, func(seg Segment, d []byte) error {
		return w.Go(func() error {
			if running.Add(1) != 1 {
				t.Errorf("segment %d: two writes at once", seg.Index)
			}
			defer running.Add(-1)
			if len(got) != seg.Index {
				t.Errorf("segment %d written after %d others", seg.Index, len(got))
			}
			got = append(got, bytes.Clone(d))
			return nil
		})
	})
	if err := errors.Join(err, w.Wait()); err != nil {
		t.Fatal(err)
	}
	if len(want) < 3 || len(got) != len(want) {
		t.Fatalf("%d segments written, %d emitted (want at least 3)", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("segment %d: written bytes differ from the emitted ones", i)
		}
	}
}

// TestBehindReportsAFailedWrite: a failed write stops the split at the next
// emit, or is returned by Wait if it was the last.
func TestBehindReportsAFailedWrite(t *testing.T) {
	small := synthStream(synthOpts{frames: 60, keyframe: func(i int) bool { return i%10 == 0 }, audio: 8})
	disk := errors.New("disk full")
	for _, failAt := range []int{0, 1, -1} { // -1: the last segment
		var w Behind
		emitted := 0
		last := -1
		info, err := SplitTS(bytes.NewReader(small), Options{TargetDuration: 300 * time.Millisecond}, func(seg Segment, d []byte) error {
			emitted++
			return w.Go(func() error {
				if seg.Index == failAt {
					return disk
				}
				last = seg.Index
				return nil
			})
		})
		werr := w.Wait()
		switch {
		case failAt >= 0 && (!errors.Is(err, disk) || emitted != failAt+2 || werr != nil):
			t.Errorf("write %d fails: SplitTS %v after %d emits, Wait %v; want the error at emit %d", failAt, err, emitted, werr, failAt+2)
		case failAt < 0 && (err != nil || werr != nil || last != info.Segments-1):
			t.Errorf("no failure: SplitTS %v, Wait %v, last write %d of %d", err, werr, last, info.Segments)
		}
	}
	var w Behind
	if err := w.Wait(); err != nil {
		t.Errorf("Wait with nothing started: %v", err)
	}
}
