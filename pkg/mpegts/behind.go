package mpegts

// Behind writes emitted segments in the background, so segments are stored
// while SplitTS cuts the next ones (on other cores). An emit callback hands
// each segment's write to Go. With Depth writes at most in flight (0 means
// 1), Go first waits for the write started Depth calls before, which keeps
// within SplitTS's promise when Options.Hold is at least Depth. After
// SplitTS returns, Wait must be called (whatever SplitTS returned) for the
// last writes and their error.
//
//	w := mpegts.Behind{Depth: 2}
//	_, err := mpegts.SplitTS(r, mpegts.Options{TargetDuration: d, Hold: 2}, func(seg mpegts.Segment, data []byte) error {
//		return w.Go(func() error { return put(seg.Index, data) })
//	})
//	err = errors.Join(err, w.Wait())
type Behind struct {
	Depth int
	done  []chan error // writes in flight, oldest first
}

// Go waits until fewer than Depth writes are in flight and starts write in
// the background. It returns the error of a write it waited for, in which
// case write is not started.
func (b *Behind) Go(write func() error) error {
	for len(b.done) >= max(b.Depth, 1) {
		err := <-b.done[0]
		b.done = b.done[1:]
		if err != nil {
			return err
		}
	}
	done := make(chan error, 1)
	b.done = append(b.done, done)
	go func() { done <- write() }()
	return nil
}

// Wait waits for every write in flight and returns the first error.
func (b *Behind) Wait() error {
	var first error
	for _, done := range b.done {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	b.done = nil
	return first
}
