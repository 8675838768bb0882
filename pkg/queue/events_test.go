package queue

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"

	"github.com/nats-io/nats.go/jetstream"
)

// eventsOf reads every video event in the stream without consuming it.
func eventsOf(t *testing.T, bus *Bus) []jobs.VideoEvent {
	t.Helper()
	ctx := context.Background()
	s, err := bus.JS.Stream(ctx, jobs.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []jobs.VideoEvent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var e jobs.VideoEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("Nats-Msg-Id") != e.ID {
			t.Errorf("event %s published with Nats-Msg-Id %q", e.ID, m.Header.Get("Nats-Msg-Id"))
		}
		out = append(out, e)
	}
	return out
}

func TestPermanentFailurePublishesOneEvent(t *testing.T) {
	bus := newBus(t, fastConfig())
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error {
		return Permanent(video.CodeUnsupported, "Not a video.", nil)
	})
	id := newVideo(t, bus)
	waitFor(t, "the failed event", 10*time.Second, func() bool { return len(eventsOf(t, bus)) > 0 })
	es := eventsOf(t, bus)
	if len(es) != 1 || es[0].Type != jobs.EventVideoFailed || es[0].Video.ID != id || es[0].Video.Failure == nil || es[0].Video.Failure.Reason != "Not a video." {
		t.Fatalf("events %+v", es)
	}
	// Announcing it again (a duplicate, a second worker) adds nothing.
	bus.AnnounceFinal(es[0].Video, quietLog())
	if n := len(eventsOf(t, bus)); n != 1 {
		t.Fatalf("%d events after a repeated announcement", n)
	}
}

func TestExhaustedRetriesPublishTheFailure(t *testing.T) {
	bus := newBus(t, fastConfig())
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error { return errors.New("store unreachable") })
	id := newVideo(t, bus)
	waitFor(t, "the failed event", 20*time.Second, func() bool { return len(eventsOf(t, bus)) > 0 })
	if es := eventsOf(t, bus); len(es) != 1 || es[0].ID != "evt_"+id+"_failed" || es[0].Video.Failure.Code != video.CodeInternal {
		t.Fatalf("events %+v", es)
	}
}

func TestSucceedingJobsPublishNothing(t *testing.T) {
	bus := newBus(t, fastConfig())
	runWorker(t, bus, func(ctx context.Context, j jobs.EncodeJob, a Attempt) error { return nil })
	newVideo(t, bus)
	waitFor(t, "the job", 10*time.Second, func() bool { return streamMsgs(t, bus) == 0 })
	if err := bus.PublishVideoEvent(context.Background(), video.Video{ID: layout.NewVideoID(), State: video.StateEncoding}); err != nil {
		t.Fatal(err)
	}
	if es := eventsOf(t, bus); len(es) != 0 {
		t.Fatalf("events without a final state: %+v", es)
	}
}

// The webhook consumer is a work queue: a message acked by one gateway is
// gone for all. It tells when it was created, so that a deliverer can skip
// what was published before.
func TestWebhookConsumer(t *testing.T) {
	bus := newBus(t, fastConfig())
	ctx := context.Background()
	old := video.Video{ID: layout.NewVideoID(), State: video.StateReady}
	if err := bus.PublishVideoEvent(ctx, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	c, err := bus.WebhookConsumer(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	created := c.CachedInfo().Created
	if c, err = bus.WebhookConsumer(ctx, 4); err != nil {
		t.Fatalf("updating the consumer: %v", err)
	}
	if !c.CachedInfo().Created.Equal(created) || c.CachedInfo().Config.MaxDeliver != 4 {
		t.Fatalf("updated consumer: %+v", c.CachedInfo())
	}
	fresh := video.Video{ID: layout.NewVideoID(), State: video.StateFailed, Failure: &video.Failure{Code: video.CodeInternal, Reason: "x"}}
	if err := bus.PublishVideoEvent(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		id     string
		before bool
	}{{old.ID, true}, {fresh.ID, false}} {
		msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var e jobs.VideoEvent
		md, _ := msg.Metadata()
		if err := json.Unmarshal(msg.Data(), &e); err != nil || e.Video.ID != want.id || md.Timestamp.Before(created) != want.before {
			t.Fatalf("delivery %s at %v (consumer created %v): want %s, published before the consumer: %v", msg.Data(), md.Timestamp, created, want.id, want.before)
		}
		if err := msg.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if msg, err := c.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); err == nil {
		t.Fatalf("another delivery: %s", msg.Data())
	}
	if es := eventsOf(t, bus); len(es) != 0 {
		t.Fatalf("acked events stay in the work queue: %+v", es)
	}
}
