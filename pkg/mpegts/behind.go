package mpegts

// Behind writes emitted segments one at a time in the background, so a
// segment is stored while SplitTS cuts the next one (on another core). An
// emit callback hands each segment's write to Go, which first waits for the
// previous write: that keeps within SplitTS's promise that data stays valid
// until the next emit returns. After SplitTS returns, Wait must be called
// (whatever SplitTS returned) for the last write and its error.
//
//	var w mpegts.Behind
//	_, err := mpegts.SplitTS(r, opts, func(seg mpegts.Segment, data []byte) error {
//		return w.Go(func() error { return put(seg.Index, data) })
//	})
//	err = errors.Join(err, w.Wait())
type Behind struct {
	done chan error
}

// Go waits for the previous write and starts write in the background. It
// returns the previous write's error, in which case write is not started.
func (b *Behind) Go(write func() error) error {
	if err := b.Wait(); err != nil {
		return err
	}
	done := make(chan error, 1)
	b.done = done
	go func() { done <- write() }()
	return nil
}

// Wait waits for the write in progress, if any, and returns its error.
func (b *Behind) Wait() error {
	if b.done == nil {
		return nil
	}
	err := <-b.done
	b.done = nil
	return err
}
