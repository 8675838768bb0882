// Package queue is how jobs travel: the JetStream streams, consumers and
// bucket (Setup), publishing jobs and video events (Bus), and the one
// delivery loop every stage runs (Worker: fetch, heartbeat, ack, retry,
// fail the video after the last attempt). The messages themselves are
// defined in pkg/jobs, the record in pkg/video.
package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/nats-io/nats.go/jetstream"
)

// Config tunes delivery. The zero value is not useful; use DefaultConfig.
type Config struct {
	// AckWait is how long a worker may stay silent before its job is handed
	// to another worker; workers send InProgress heartbeats well within it.
	AckWait time.Duration
	// MaxDeliver bounds attempts per job; the last failure marks the video failed.
	MaxDeliver int
	// BackOff spaces redeliveries after a worker vanished or failed a job.
	BackOff []time.Duration
	// Replicas for streams and the bucket (1 on a single server).
	Replicas int
}

// DefaultConfig suits one machine and small clusters.
func DefaultConfig() Config {
	return Config{
		AckWait:    30 * time.Second,
		MaxDeliver: 5,
		BackOff:    []time.Duration{30 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute},
		Replicas:   1,
	}
}

// Heartbeat is how often a busy worker tells JetStream it is still working.
func (c Config) Heartbeat() time.Duration {
	d := c.AckWait
	for _, b := range c.BackOff {
		d = min(d, b)
	}
	return max(d/4, 100*time.Millisecond)
}

// RetryDelay is the wait before attempt n+1 after attempt n failed.
func (c Config) RetryDelay(attempt uint64) time.Duration {
	if len(c.BackOff) == 0 {
		return c.AckWait
	}
	i := min(int(attempt)-1, len(c.BackOff)-1)
	return c.BackOff[max(i, 0)]
}

// Bus is the set of JetStream handles every service works with.
type Bus struct {
	JS           jetstream.JetStream
	Videos       *video.Records
	Encoder      jetstream.Consumer // plans and first chunks
	EncoderShort jetstream.Consumer // the other chunks of short videos
	EncoderLater jetstream.Consumer // later chunks of longer videos
	Audio        jetstream.Consumer // audio renditions
	Segmenter    jetstream.Consumer
	Config       Config
}

// Setup creates (or updates to the current definition) the streams, consumers
// and bucket. It is idempotent, so whichever service starts first does it.
func Setup(ctx context.Context, js jetstream.JetStream, cfg Config) (*Bus, error) {
	if cfg.MaxDeliver <= len(cfg.BackOff) {
		return nil, fmt.Errorf("queue: MaxDeliver (%d) must exceed the number of back-off steps (%d)", cfg.MaxDeliver, len(cfg.BackOff))
	}
	bus := &Bus{JS: js, Config: cfg}
	for _, s := range []struct {
		name     string
		subjects []string
	}{
		{jobs.StreamEncode, []string{jobs.SubjectEncode, jobs.SubjectEncodeShort, jobs.SubjectEncodeLater, jobs.SubjectAudio}},
		{jobs.StreamSegment, []string{jobs.SubjectSegment}},
	} {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:       s.name,
			Subjects:   s.subjects,
			Retention:  jetstream.WorkQueuePolicy,
			Storage:    jetstream.FileStorage,
			Replicas:   cfg.Replicas,
			Duplicates: 10 * time.Minute,
		})
		if err != nil {
			return nil, fmt.Errorf("queue: stream %s: %w", s.name, err)
		}
	}
	// A work-queue stream takes several consumers only if their filters
	// do not overlap: one per subject.
	for _, c := range []struct {
		stream, subject, consumer string
		dst                       *jetstream.Consumer
	}{
		{jobs.StreamEncode, jobs.SubjectEncode, jobs.ConsumerEncoder, &bus.Encoder},
		{jobs.StreamEncode, jobs.SubjectEncodeShort, jobs.ConsumerEncoderShort, &bus.EncoderShort},
		{jobs.StreamEncode, jobs.SubjectEncodeLater, jobs.ConsumerEncoderLater, &bus.EncoderLater},
		{jobs.StreamEncode, jobs.SubjectAudio, jobs.ConsumerAudio, &bus.Audio},
		{jobs.StreamSegment, jobs.SubjectSegment, jobs.ConsumerSegmenter, &bus.Segmenter},
	} {
		consumer, err := js.CreateOrUpdateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
			Durable:       c.consumer,
			FilterSubject: c.subject,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxDeliver:    cfg.MaxDeliver,
			BackOff:       cfg.BackOff,
			MaxAckPending: 1000,
			Replicas:      cfg.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("queue: consumer %s: %w", c.consumer, err)
		}
		*c.dst = consumer
	}
	if err := setupEvents(ctx, js, cfg); err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   video.Bucket,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: bucket %s: %w", video.Bucket, err)
	}
	bus.Videos = video.NewRecords(js, kv)
	return bus, nil
}

// PublishEncode queues an encode job.
func (b *Bus) PublishEncode(ctx context.Context, j jobs.EncodeJob) error {
	return publishJSON(ctx, b.JS, j.Subject(), j.MsgID(), j)
}

// PublishSegment queues a segment job.
func (b *Bus) PublishSegment(ctx context.Context, j jobs.SegmentJob) error {
	return publishJSON(ctx, b.JS, jobs.SubjectSegment, j.MsgID(), j)
}

// Pending counts jobs waiting or in flight for a stage (for readiness and metrics).
func Pending(ctx context.Context, c jetstream.Consumer) (uint64, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}
