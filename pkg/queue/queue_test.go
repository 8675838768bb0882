package queue

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hlsd/hlsd/pkg/natsembed"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// newBus starts a real embedded JetStream server for one test.
func newBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	ns, err := natsembed.Start(natsembed.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); ns.Shutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := Setup(context.Background(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

func fastConfig() Config {
	return Config{AckWait: 300 * time.Millisecond, MaxDeliver: 3, BackOff: []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}, Replicas: 1}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var waitFor = testutil.WaitFor

func TestSetupIsIdempotent(t *testing.T) {
	bus := newBus(t, DefaultConfig())
	if _, err := Setup(context.Background(), bus.JS, DefaultConfig()); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	bad := DefaultConfig()
	bad.MaxDeliver = 2
	if _, err := Setup(context.Background(), bus.JS, bad); err == nil {
		t.Fatal("MaxDeliver below the back-off steps accepted")
	}
}

func TestVideoUpdatesNeverLost(t *testing.T) {
	bus := newBus(t, DefaultConfig())
	ctx := context.Background()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(ctx, &video.Video{ID: id, State: video.StateUploaded}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Videos.Create(ctx, &video.Video{ID: id}); err == nil {
		t.Fatal("Create of an existing id succeeded")
	}
	// 16 writers each add one rendition at once; compare-and-set must keep all.
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := bus.Videos.Update(ctx, id, func(v *video.Video) error {
				v.Renditions = append(v.Renditions, video.Rendition{Name: string(rune('a' + i))})
				return nil
			}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	v, err := bus.Videos.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Renditions) != 16 {
		t.Fatalf("%d of 16 concurrent updates kept", len(v.Renditions))
	}
	if _, err := bus.Videos.Get(ctx, "nosuchid"); !errors.Is(err, video.ErrNotFound) {
		t.Fatalf("Get unknown: %v", err)
	}
}

func TestWatchSeesChanges(t *testing.T) {
	bus := newBus(t, DefaultConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(ctx, &video.Video{ID: id, State: video.StateUploaded}); err != nil {
		t.Fatal(err)
	}
	ch, err := bus.Videos.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if v := <-ch; v.State != video.StateUploaded {
		t.Fatalf("first state %s", v.State)
	}
	if _, err := bus.Videos.Update(ctx, id, func(v *video.Video) error { v.State = video.StateReady; return nil }); err != nil {
		t.Fatal(err)
	}
	if v := <-ch; v.State != video.StateReady {
		t.Fatalf("second state %s", v.State)
	}
}

// runWorker runs a worker on the encode stage until the test ends.
func runWorker(t *testing.T, bus *Bus, handle func(context.Context, jobs.EncodeJob, Attempt) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker[jobs.EncodeJob]{
		Stage: "encode", Stream: jobs.StreamEncode, Consumer: bus.Encoder, Bus: bus, Concurrency: 2,
		VideoID: func(j jobs.EncodeJob) string { return j.VideoID }, Handle: handle,
		ShutdownGrace: time.Second, Log: quietLog(),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newVideo(t *testing.T, bus *Bus) string {
	t.Helper()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateUploaded}); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishEncode(context.Background(), jobs.EncodeJob{VideoID: id}); err != nil {
		t.Fatal(err)
	}
	return id
}

func state(t *testing.T, bus *Bus, id string) video.Video {
	v, err := bus.Videos.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func streamMsgs(t *testing.T, bus *Bus) uint64 {
	s, err := bus.JS.Stream(context.Background(), jobs.StreamEncode)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestWorkerAcksSuccess(t *testing.T) {
	bus := newBus(t, fastConfig())
	var runs atomic.Int32
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error { runs.Add(1); return nil })
	newVideo(t, bus)
	waitFor(t, "the job to be acked and removed", 10*time.Second, func() bool { return runs.Load() == 1 && streamMsgs(t, bus) == 0 })
}

func TestDuplicatePublishIsDropped(t *testing.T) {
	bus := newBus(t, fastConfig())
	id := newVideo(t, bus)
	if err := bus.PublishEncode(context.Background(), jobs.EncodeJob{VideoID: id}); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, bus); n != 1 {
		t.Fatalf("%d messages after publishing the same job twice", n)
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	bus := newBus(t, fastConfig())
	var runs atomic.Int32
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
		runs.Add(1)
		return Permanent(video.CodeUnsupported, "Not a video.", errors.New("ffprobe: exit 1"))
	})
	id := newVideo(t, bus)
	waitFor(t, "the video to fail", 10*time.Second, func() bool { return state(t, bus, id).State == video.StateFailed })
	v := state(t, bus, id)
	if v.Failure.Code != video.CodeUnsupported || v.Failure.Reason != "Not a video." {
		t.Fatalf("failure %+v", v.Failure)
	}
	waitFor(t, "the job to leave the queue", 5*time.Second, func() bool { return streamMsgs(t, bus) == 0 })
	if runs.Load() != 1 {
		t.Fatalf("permanent failure ran %d times", runs.Load())
	}
}

func TestRetriesThenFailsAfterMaxDeliver(t *testing.T) {
	bus := newBus(t, fastConfig())
	var attempts sync.Map
	var last atomic.Bool
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
		attempts.Store(a.Number, true)
		last.Store(a.Last)
		return errors.New("store unreachable")
	})
	id := newVideo(t, bus)
	waitFor(t, "the video to fail", 20*time.Second, func() bool { return state(t, bus, id).State == video.StateFailed })
	for n := uint64(1); n <= 3; n++ {
		if _, ok := attempts.Load(n); !ok {
			t.Errorf("attempt %d never ran", n)
		}
	}
	if !last.Load() {
		t.Error("the final attempt was not told it was the last")
	}
	if v := state(t, bus, id); v.Failure == nil || v.Failure.Code != video.CodeInternal {
		t.Fatalf("failure %+v", v.Failure)
	}
	waitFor(t, "the job to leave the queue", 5*time.Second, func() bool { return streamMsgs(t, bus) == 0 })
}

func TestOtherJobsUnaffectedByAFailingOne(t *testing.T) {
	bus := newBus(t, fastConfig())
	bad := layout.NewVideoID()
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
		if j.VideoID == bad {
			return errors.New("always fails")
		}
		return nil
	})
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: bad}); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishEncode(context.Background(), jobs.EncodeJob{VideoID: bad}); err != nil {
		t.Fatal(err)
	}
	var good []string
	for i := 0; i < 5; i++ {
		good = append(good, newVideo(t, bus))
	}
	// The good jobs finish while the bad one is still being retried.
	var stillRetrying atomic.Bool
	waitFor(t, "the good jobs", 10*time.Second, func() bool {
		if state(t, bus, bad).State != video.StateFailed {
			stillRetrying.Store(true)
		}
		return streamMsgs(t, bus) <= 1
	})
	if !stillRetrying.Load() {
		t.Error("expected the good jobs to finish before the bad one ran out of attempts")
	}
	waitFor(t, "the bad video to fail", 20*time.Second, func() bool { return state(t, bus, bad).State == video.StateFailed })
}

func TestHeartbeatsKeepALongJob(t *testing.T) {
	// JetStream takes BackOff[0] as the first delivery's ack wait, so both are
	// 2 s: heartbeats every 500 ms leave room for a loaded CI machine's
	// scheduling stalls (with fastConfig's 200 ms back-off, a 200 ms stall
	// under -race redelivered the job). The job runs three times as long.
	cfg := fastConfig()
	cfg.AckWait = 2 * time.Second
	cfg.BackOff = []time.Duration{cfg.AckWait, cfg.AckWait}
	bus := newBus(t, cfg)
	var runs atomic.Int32
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
		runs.Add(1)
		time.Sleep(3 * cfg.AckWait)
		return nil
	})
	newVideo(t, bus)
	waitFor(t, "the job to finish", 20*time.Second, func() bool { return streamMsgs(t, bus) == 0 })
	if n := runs.Load(); n != 1 {
		t.Fatalf("a long job was delivered %d times despite heartbeats", n)
	}
}

func TestWorkerThatDiesOnLastAttemptStillFailsTheVideo(t *testing.T) {
	bus := newBus(t, fastConfig())
	// Only the advisory watcher runs: deliveries are taken and never answered,
	// as by workers killed mid-job.
	w := &Worker[jobs.EncodeJob]{Stage: "encode", Stream: jobs.StreamEncode, Consumer: bus.Encoder, Bus: bus,
		VideoID: func(j jobs.EncodeJob) string { return j.VideoID }, Log: quietLog()}
	sub, err := w.watchExhausted(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	id := newVideo(t, bus)
	for i := 0; i < 3; i++ {
		msg, err := bus.Encoder.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
		_ = msg // dropped without an answer
	}
	// Live workers keep pulling; the server notices the exhausted job on that
	// activity. The job itself is not delivered again.
	if msg, err := bus.Encoder.Next(jetstream.FetchMaxWait(time.Second)); err == nil {
		t.Fatalf("job delivered a 4th time: %v", msg.Subject())
	}
	waitFor(t, "the video to fail", 10*time.Second, func() bool { return state(t, bus, id).State == video.StateFailed })
	waitFor(t, "the job to leave the queue", 5*time.Second, func() bool { return streamMsgs(t, bus) == 0 })
}

func TestSkipsJobsOfFinishedVideos(t *testing.T) {
	bus := newBus(t, fastConfig())
	var runs atomic.Int32
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error { runs.Add(1); return nil })
	id := layout.NewVideoID()
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateReady}); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishEncode(context.Background(), jobs.EncodeJob{VideoID: id}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to leave the queue", 5*time.Second, func() bool { return streamMsgs(t, bus) == 0 })
	if runs.Load() != 0 {
		t.Fatal("a job of a ready video ran")
	}
}

// A listing holds every video even while they are being updated, and none
// that was deleted. (kv.ListKeys could miss a key updated mid-listing.)
func TestListWhileUpdating(t *testing.T) {
	bus := newBus(t, fastConfig())
	ctx := context.Background()
	var ids []string
	for range 40 {
		ids = append(ids, newVideo(t, bus))
	}
	gone := ids[0]
	if err := bus.Videos.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // keep every video changing
		defer close(done)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			id := ids[1+n%(len(ids)-1)]
			_, _ = bus.Videos.Update(ctx, id, func(v *video.Video) error { v.Progress = float64(n%100) / 100; return nil })
		}
	}()
	for i := range 30 {
		list, err := bus.Videos.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, v := range list {
			if seen[v.ID] {
				t.Fatalf("listing %d: %s twice", i, v.ID)
			}
			seen[v.ID] = true
		}
		if seen[gone] {
			t.Fatalf("listing %d holds the deleted video", i)
		}
		if len(list) != len(ids)-1 {
			t.Fatalf("listing %d holds %d videos, want %d", i, len(list), len(ids)-1)
		}
	}
	close(stop)
	<-done
}
