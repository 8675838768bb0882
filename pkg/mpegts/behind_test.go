package mpegts

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBehindWritesEverySegmentOnce cuts a stream with its writes behind
// SplitTS, one, two and three at a time: every write sees the bytes SplitTS
// emitted, and no more than Depth writes run at once.
func TestBehindWritesEverySegmentOnce(t *testing.T) {
	stream := synthStream(synthOpts{frames: 60, keyframe: func(i int) bool { return i%10 == 0 }, audio: 8})
	opts := Options{TargetDuration: 300 * time.Millisecond}
	var want [][]byte
	if _, err := SplitTS(bytes.NewReader(stream), opts, func(_ Segment, d []byte) error {
		want = append(want, bytes.Clone(d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) < 4 {
		t.Fatalf("%d segments, want at least 4", len(want))
	}
	for depth := 1; depth <= 3; depth++ {
		w := Behind{Depth: depth}
		opts.Hold = depth
		var running, most atomic.Int32
		var mu sync.Mutex
		got := make([][]byte, len(want))
		started := make([]chan struct{}, len(want))
		for i := range started {
			started[i] = make(chan struct{})
		}
		_, err := SplitTS(bytes.NewReader(stream), opts, func(seg Segment, d []byte) error {
			return w.Go(func() error {
				n := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				close(started[seg.Index])
				if depth > 1 && seg.Index == 0 {
					// The second write must start while the first still runs.
					select {
					case <-started[1]:
					case <-time.After(10 * time.Second):
						t.Errorf("depth %d: the second write did not start during the first", depth)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				got[seg.Index] = bytes.Clone(d)
				return nil
			})
		})
		if err := errors.Join(err, w.Wait()); err != nil {
			t.Fatal(err)
		}
		if m := most.Load(); m > int32(depth) {
			t.Errorf("depth %d: up to %d writes at once", depth, m)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("depth %d: segment %d: written bytes differ from the emitted ones", depth, i)
			}
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
