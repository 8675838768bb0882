package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/nats-io/nats.go/jetstream"
)

// setupEvents creates the events stream. Its consumer is created by the
// gateways that deliver webhooks (WebhookConsumer): until one does, events
// only wait in the stream, up to jobs.EventsMaxAge.
func setupEvents(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       jobs.StreamEvents,
		Subjects:   []string{jobs.SubjectVideoEvent},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   cfg.Replicas,
		Duplicates: 10 * time.Minute,
		MaxAge:     jobs.EventsMaxAge,
	})
	if err != nil {
		return fmt.Errorf("queue: stream %s: %w", jobs.StreamEvents, err)
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
	c, err := b.JS.CreateOrUpdateConsumer(ctx, jobs.StreamEvents, jetstream.ConsumerConfig{
		Durable:       jobs.ConsumerWebhooks,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       WebhookAckWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: 1000,
		Replicas:      b.Config.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: consumer %s: %w", jobs.ConsumerWebhooks, err)
	}
	return c, nil
}

// PublishVideoEvent publishes the event of v's final state; a video that is
// not final publishes nothing.
func (b *Bus) PublishVideoEvent(ctx context.Context, v video.Video) error {
	e, ok := jobs.NewVideoEvent(v, time.Now())
	if !ok {
		return nil
	}
	return publishJSON(ctx, b.JS, jobs.SubjectVideoEvent, e.MsgID(), e)
}

// AnnounceFinal publishes the event of v's final state, right after the
// caller moved it there. It uses its own context (the event must go out
// even when the caller is shutting down), tries a few times, and logs when
// it could not: the state is already written, so a redelivered job would be
// skipped and cannot announce it again.
func (b *Bus) AnnounceFinal(v video.Video, log *slog.Logger) {
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
