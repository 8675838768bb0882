package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Video events: one message when a video reaches a final state, published by
// whichever worker put it there, consumed by the gateways that deliver
// webhooks. The stream is a work queue with one durable consumer, so each
// event is delivered by exactly one gateway however many run.
const (
	StreamEvents      = "HLSD_EVENTS"
	SubjectVideoEvent = "hlsd.events.video"
	ConsumerWebhooks  = "webhooks"
	// EventsMaxAge is how long an event waits for a gateway that delivers
	// webhooks (none configured, all down) before it is dropped.
	EventsMaxAge = 72 * time.Hour
)

// Event types (the "type" of a webhook).
const (
	EventVideoReady  = "video.ready"
	EventVideoFailed = "video.failed"
)

// VideoEvent says a video reached a final state.
type VideoEvent struct {
	// ID is the same for every publish of one event and different for every
	// event: a video reaches one final state once.
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Video     Video     `json:"video"` // the state that made it final
}

// NewVideoEvent describes v's final state; ok is false for a video that is
// not in one.
func NewVideoEvent(v Video, now time.Time) (e VideoEvent, ok bool) {
	var typ, short string
	switch v.State {
	case StateReady:
		typ, short = EventVideoReady, "ready"
	case StateFailed:
		typ, short = EventVideoFailed, "failed"
	default:
		return VideoEvent{}, false
	}
	return VideoEvent{ID: "evt_" + v.ID + "_" + short, Type: typ, CreatedAt: now.UTC(), Video: v}, true
}

// MsgID drops a repeated publish of the same event.
func (e VideoEvent) MsgID() string { return e.ID }

// setupEvents creates the events stream. Its consumer is created by the
// gateways that deliver webhooks (WebhookConsumer): until one does, events
// only wait in the stream, up to EventsMaxAge.
func setupEvents(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       StreamEvents,
		Subjects:   []string{SubjectVideoEvent},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   cfg.Replicas,
		Duplicates: 10 * time.Minute,
		MaxAge:     EventsMaxAge,
	})
	if err != nil {
		return fmt.Errorf("jobs: stream %s: %w", StreamEvents, err)
	}
	return nil
}

// WebhookAckWait is how long a gateway may take over one delivery attempt
// before the event goes to another gateway; well above webhook.Timeout.
const WebhookAckWait = 30 * time.Second

// WebhookConsumer creates (or updates) the durable consumer webhooks are
// delivered from, allowing maxDeliver attempts per event. A work-queue
// consumer must start with every message still in the stream: a deliverer
// that should not announce what happened before webhooks were turned on
// skips the messages older than the consumer's CachedInfo().Created.
func (b *Bus) WebhookConsumer(ctx context.Context, maxDeliver int) (jetstream.Consumer, error) {
	c, err := b.JS.CreateOrUpdateConsumer(ctx, StreamEvents, jetstream.ConsumerConfig{
		Durable:       ConsumerWebhooks,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       WebhookAckWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: 1000,
		Replicas:      b.Config.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: consumer %s: %w", ConsumerWebhooks, err)
	}
	return c, nil
}

// PublishVideoEvent publishes the event of v's final state; a video that is
// not final publishes nothing.
func (b *Bus) PublishVideoEvent(ctx context.Context, v Video) error {
	e, ok := NewVideoEvent(v, time.Now())
	if !ok {
		return nil
	}
	return publishJSON(ctx, b.JS, SubjectVideoEvent, e.MsgID(), e)
}

// AnnounceFinal publishes the event of v's final state, right after the
// caller moved it there. It uses its own context (the event must go out
// even when the caller is shutting down), tries a few times, and logs when
// it could not: the state is already written, so a redelivered job would be
// skipped and cannot announce it again.
func (b *Bus) AnnounceFinal(v Video, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = b.PublishVideoEvent(ctx, v); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	log.Error("could not publish the video event; no webhook will announce it", "video", v.ID, "state", v.State, "err", err)
}
