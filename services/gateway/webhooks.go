package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/video"
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
	Bus    *queue.Bus
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
	Observe func(stage string, o queue.Outcome, d time.Duration, redelivered bool)
}

// webhookEvent is the body of a delivery.
type webhookEvent struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Video     api.Video `json:"video"`
}

// Run delivers until ctx ends, as a queue.Worker with a retry policy: a
// delivery is acknowledged once the receiver answered 2xx, retried after
// each Backoff step, and dropped (logged) after the last. A delivery cut
// short by the end of ctx goes back to the queue at once.
func (wh *Webhooks) Run(ctx context.Context) error {
	if len(wh.Secret) < webhook.MinSecretBytes {
		return fmt.Errorf("gateway: the webhook secret must have at least %d bytes", webhook.MinSecretBytes)
	}
	backoff := wh.Backoff
	if backoff == nil {
		backoff = DefaultWebhookBackoff
	}
	var cons jetstream.Consumer
	for {
		var err error
		if cons, err = wh.Bus.WebhookConsumer(ctx, len(backoff)+1); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		wh.Log.Warn("webhook consumer setup failed, retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	// Events from before webhooks were first turned on are not announced.
	since := cons.CachedInfo().Created
	client := &webhook.Client{URL: wh.URL, Secret: wh.Secret, HTTP: wh.HTTP}
	w := &queue.Worker[jobs.VideoEvent]{
		Stage: "webhook", Stream: jobs.StreamEvents, Consumer: cons, Bus: wh.Bus,
		Concurrency: cmp.Or(wh.Concurrency, 4),
		VideoID:     func(e jobs.VideoEvent) string { return e.Video.ID },
		Log:         wh.Log, Observe: wh.Observe,
		Skip: func(e jobs.VideoEvent, published time.Time) string {
			if e.ID == "" {
				return "an event without an id"
			}
			if published.Before(since) {
				return "published before webhooks were turned on"
			}
			return ""
		},
		Retry: &queue.Retry{Backoff: backoff, GiveUp: func(log *slog.Logger, attempts uint64, err error) {
			log.Error("webhook given up: the receiver did not accept it", "attempts", attempts, "url", webhook.RedactURL(wh.URL), "err", err)
		}},
		Handle: func(ctx context.Context, e jobs.VideoEvent, _ queue.Attempt) error {
			body, err := json.Marshal(webhookEvent{Type: e.Type, ID: e.ID, CreatedAt: e.CreatedAt, Video: wh.present(e.Video)})
			if err != nil {
				return queue.Permanent(video.CodeInternal, "the event could not be encoded", err)
			}
			return client.Send(ctx, e.ID, body)
		},
	}
	return w.Run(ctx)
}

// present is the video as the API shows it, without a request: the
// stream URLs only once it is ready and the content service's URL is known.
func (wh *Webhooks) present(v video.Video) api.Video {
	if v.State != video.StateReady || wh.ContentURL == "" {
		return present(v, "", "")
	}
	return present(v, strings.TrimSuffix(wh.ContentURL, "/"), playbackToken(wh.Signer, v.ID, time.Now()))
}
