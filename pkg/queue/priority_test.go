package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"
)

// Start work (plans, first chunks) jumps the queue of later chunks, and
// later chunks still get every LaterEvery-th turn however much start work
// waits: one worker, ten later chunks queued first, then eight plans.
func TestStartWorkJumpsTheQueue(t *testing.T) {
	bus := newBus(t, fastConfig())
	ctx := context.Background()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(ctx, &video.Video{ID: id, State: video.StateEncoding}); err != nil {
		t.Fatal(err)
	}
	chunks := make([]jobs.Chunk, 11)
	for i := range chunks {
		chunks[i] = jobs.Chunk{Index: i, Count: len(chunks)}
	}
	for i := 1; i <= 10; i++ {
		if err := bus.PublishEncode(ctx, jobs.EncodeJob{VideoID: id, Part: jobs.PartVideo, Chunk: chunks[i], Chunks: chunks}); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 {
		p := layout.NewVideoID()
		if err := bus.Videos.Create(ctx, &video.Video{ID: p, State: video.StateUploaded}); err != nil {
			t.Fatal(err)
		}
		if err := bus.PublishEncode(ctx, jobs.EncodeJob{VideoID: p}); err != nil {
			t.Fatal(err)
		}
	}

	// The broker counts a consumer's new messages a moment after the
	// publishes are acknowledged; a no-wait fetch before then finds none
	// (under -race on a loaded machine the first turn once took a later
	// chunk so). The worker starts once both consumers see theirs.
	waitFor(t, "the consumers to count their jobs", 10*time.Second, func() bool {
		a, errA := bus.Encoder.Info(ctx)
		b, errB := bus.EncoderLater.Info(ctx)
		return errA == nil && errB == nil && a.NumPending == 8 && b.NumPending == 10
	})
	var mu sync.Mutex
	var order []string // "plan" or "later", as the worker took them
	waited := map[bool]int{}
	rctx, cancel := context.WithCancel(ctx)
	w := &Worker[jobs.EncodeJob]{
		Stage: "encode", Stream: jobs.StreamEncode, Consumer: bus.Encoder, Later: bus.EncoderLater, Bus: bus, Concurrency: 1,
		VideoID: func(j jobs.EncodeJob) string { return j.VideoID }, ShutdownGrace: time.Second, Log: quietLog(),
		Handle: func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
			mu.Lock()
			defer mu.Unlock()
			kind := "plan"
			if j.Part == jobs.PartVideo {
				kind = "later"
			}
			order = append(order, kind)
			return nil
		},
		Waited: func(stage string, later bool, d time.Duration) { mu.Lock(); waited[later]++; mu.Unlock() },
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "every job to run", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 18 })

	mu.Lock()
	defer mu.Unlock()
	// Turns 1-3 take plans, turn 4 a later chunk, and so on until the
	// plans are done: the 8 plans finish within the first 11 jobs, although
	// all 10 later chunks were queued before them.
	want := []string{"plan", "plan", "plan", "later", "plan", "plan", "plan", "later", "plan", "plan"}
	for i, k := range want {
		if order[i] != k {
			t.Fatalf("the worker took %v; want %v first", order, want)
		}
	}
	if waited[false] != 8 || waited[true] != 10 {
		t.Errorf("waits observed: %d start, %d later; want 8 and 10", waited[false], waited[true])
	}
}

// The express lanes: with the one regular slot busy on a long later chunk,
// start work still begins at once, two videos' at a time (a plan beside
// another's first chunk).
func TestExpressLanesTakeStartWork(t *testing.T) {
	bus := newBus(t, fastConfig())
	ctx := context.Background()
	long := layout.NewVideoID()
	if err := bus.Videos.Create(ctx, &video.Video{ID: long, State: video.StateEncoding}); err != nil {
		t.Fatal(err)
	}
	chunks := make([]jobs.Chunk, jobs.ShortVideoChunks+1) // a long video: its chunk 1 is later work
	for i := range chunks {
		chunks[i] = jobs.Chunk{Index: i, Count: len(chunks)}
	}
	if err := bus.PublishEncode(ctx, jobs.EncodeJob{VideoID: long, Part: jobs.PartVideo, Chunk: chunks[1], Chunks: chunks}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	running := map[string]bool{} // video id → its job is running
	release := make(chan struct{})
	rctx, cancel := context.WithCancel(ctx)
	w := &Worker[jobs.EncodeJob]{
		Stage: "encode", Stream: jobs.StreamEncode, Consumer: bus.Encoder, Middle: bus.EncoderShort, Later: bus.EncoderLater,
		Express: 2, Bus: bus, Concurrency: 1,
		VideoID: func(j jobs.EncodeJob) string { return j.VideoID }, ShutdownGrace: time.Second, Log: quietLog(),
		Handle: func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
			mu.Lock()
			running[j.VideoID] = true
			mu.Unlock()
			select { // every job runs until the test ends
			case <-release:
			case <-ctx.Done():
			}
			return nil
		},
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(rctx) }()
	t.Cleanup(func() { close(release); cancel(); <-done })
	isRunning := func(id string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return running[id] }
	}
	waitFor(t, "the later chunk to start", 10*time.Second, isRunning(long))
	for _, what := range []string{"the first new video's plan", "the second new video's plan, beside the first"} {
		fresh := layout.NewVideoID()
		if err := bus.Videos.Create(ctx, &video.Video{ID: fresh, State: video.StateUploaded}); err != nil {
			t.Fatal(err)
		}
		if err := bus.PublishEncode(ctx, jobs.EncodeJob{VideoID: fresh}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, what+" to start while the later chunk runs", 10*time.Second, isRunning(fresh))
	}
}
