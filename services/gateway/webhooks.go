package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/webhook"
)

// DefaultWebhookBackoff is the wait before each retry of a delivery the
// receiver did not accept; after the last, the event is dropped.
var DefaultWebhookBackoff = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}

// Webhooks delivers video events (jobs.VideoEvent, published where a video
// becomes ready or failed) to one URL. Every gateway with a webhook URL runs
// one; they share the durable consumer of a work-queue stream, so each event
// is delivered by one of them. A delivery is acknowledged only once the
// receiver answered 2xx.
type Webhooks struct {
	Bus    *jobs.Bus
	URL    string
	Secret []byte // at least webhook.MinSecretBytes
	// Backoff: waits before the 2nd, 3rd… attempt (nil: DefaultWebhookBackoff).
	Backoff []time.Duration
	// ContentURL and Signer make the master_url of ready videos, as the API
	// shows it; without a ContentURL the event has none (there is no
	// request whose host could stand in).
	ContentURL  string
	Signer      *playback.Signer
	Concurrency int          // deliveries at once (0: 4)
	HTTP        *http.Client // nil: webhook's default (10 s timeout)
	Log         *slog.Logger
	// Observe, if set, is told how each attempt ended (stage "webhook"):
	// succeeded, retried, or failed when the event is given up.
	Observe func(stage string, o jobs.Outcome, d time.Duration, redelivered bool)
}

// webhookEvent is the body of a delivery.
type webhookEvent struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Video     api.Video `json:"video"`
}

// Run delivers until ctx ends. A delivery cut short by the end of ctx goes
// back to the queue at once.
func (wh *Webhooks) Run(ctx context.Context) error {
	if len(wh.Secret) < webhook.MinSecretBytes {
		return fmt.Errorf("gateway: the webhook secret must have at least %d bytes", webhook.MinSecretBytes)
	}
	if wh.Backoff == nil {
		wh.Backoff = DefaultWebhookBackoff
	}
	var cons jetstream.Consumer
	for {
		var err error
		if cons, err = wh.Bus.WebhookConsumer(ctx, len(wh.Backoff)+1); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		wh.Log.Warn("webhook consumer setup failed, retrying", "err", err)
		sleep(ctx, 2*time.Second)
	}
	// Events from before webhooks were first turned on are not announced.
	since := cons.CachedInfo().Created
	client := &webhook.Client{URL: wh.URL, Secret: wh.Secret, HTTP: wh.HTTP}
	n := wh.Concurrency
	if n < 1 {
		n = 4
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
				if err != nil {
					if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
						wh.Log.Warn("fetching webhook events failed", "err", err)
						sleep(ctx, time.Second)
					}
					continue
				}
				wh.deliver(ctx, client, msg, since)
			}
		})
	}
	wg.Wait()
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (wh *Webhooks) deliver(ctx context.Context, client *webhook.Client, msg jetstream.Msg, since time.Time) {
	start := time.Now()
	var e jobs.VideoEvent
	if err := json.Unmarshal(msg.Data(), &e); err != nil || e.ID == "" {
		wh.Log.Error("undecodable video event dropped", "err", err)
		_ = msg.TermWithReason("undecodable event")
		return
	}
	attempt := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		attempt = md.NumDelivered
		if md.Timestamp.Before(since) {
			wh.Log.Debug("event from before webhooks were turned on skipped", "event", e.ID)
			_ = msg.TermWithReason("published before the webhook consumer existed")
			return
		}
	}
	log := wh.Log.With("event", e.ID, "type", e.Type, "video", e.Video.ID, "attempt", attempt)
	observe := func(o jobs.Outcome) {
		if wh.Observe != nil {
			wh.Observe("webhook", o, time.Since(start), attempt > 1)
		}
	}
	body, err := json.Marshal(webhookEvent{Type: e.Type, ID: e.ID, CreatedAt: e.CreatedAt, Video: wh.present(e.Video)})
	if err != nil {
		log.Error("video event could not be encoded; dropped", "err", err)
		_ = msg.Term()
		return
	}
	observe(jobs.OutcomeStarted)
	err = client.Send(ctx, e.ID, body)
	switch {
	case err == nil:
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := msg.DoubleAck(actx); err != nil {
			log.Warn("webhook delivered, but its ack failed: it may be delivered again", "err", err)
		}
		cancel()
		log.Info("webhook delivered", "took", time.Since(start).Round(time.Millisecond))
		observe(jobs.OutcomeSucceeded)
	case ctx.Err() != nil:
		_ = msg.Nak() // shutting down: another gateway takes it
		observe(jobs.OutcomeRetried)
	case attempt > uint64(len(wh.Backoff)):
		log.Error("webhook given up: the receiver did not accept it", "attempts", attempt, "url", RedactURL(wh.URL), "err", err)
		_ = msg.Term()
		observe(jobs.OutcomeFailed)
	default:
		delay := wh.Backoff[attempt-1]
		log.Warn("webhook not accepted, will retry", "retry_in", delay, "err", err)
		_ = msg.NakWithDelay(delay)
		observe(jobs.OutcomeRetried)
	}
}

// present is the video as the API shows it, without a request: the
// stream URLs only once it is ready and the content service's URL is known.
func (wh *Webhooks) present(v jobs.Video) api.Video {
	if v.State != jobs.StateReady || wh.ContentURL == "" {
		return present(v, "", "")
	}
	return present(v, strings.TrimSuffix(wh.ContentURL, "/"), playbackToken(wh.Signer, v.ID, time.Now()))
}

// RedactURL keeps credentials and query strings (often a receiver's token)
// out of the logs.
func RedactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 && at < strings.IndexByte(rest+"/", '/') {
			rest = rest[at+1:]
		}
		u = scheme + "://" + rest
	}
	return u
}
