package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/hlsd/hlsd/pkg/webhook"
)

var hookSecret = []byte("webhook-secret-0123456789abcdef-0123")

// delivery is one request a test receiver got.
type delivery struct {
	EventID, Signature string
	Body               []byte
	Event              webhookEvent
	At                 time.Time
}

// receiver answers fail(n, eventID) for the n-th delivery (from 1) of an event.
type receiver struct {
	mu    sync.Mutex
	got   []delivery
	count map[string]int
	fail  func(n int, eventID string) int
}

func newReceiver(t *testing.T, fail func(n int, eventID string) int) (*receiver, string) {
	rc := &receiver{count: map[string]int{}, fail: fail}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/hooks?key=receiver-secret"
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d := delivery{EventID: r.Header.Get(webhook.HeaderEventID), Signature: r.Header.Get(webhook.HeaderSignature), Body: b, At: time.Now()}
	_ = json.Unmarshal(b, &d.Event)
	rc.mu.Lock()
	rc.got = append(rc.got, d)
	rc.count[d.EventID]++
	n := rc.count[d.EventID]
	rc.mu.Unlock()
	w.WriteHeader(rc.fail(n, d.EventID))
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// outcomes counts what Observe was told.
type outcomes struct {
	mu sync.Mutex
	n  map[queue.Outcome]int
}

func (o *outcomes) observe(stage string, out queue.Outcome, _ time.Duration, _ bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if stage != "webhook" {
		panic(stage)
	}
	if o.n == nil {
		o.n = map[queue.Outcome]int{}
	}
	o.n[out]++
}

func (o *outcomes) get(out queue.Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[out]
}

func runWebhooks(t *testing.T, wh *Webhooks) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wh.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("webhooks stopped with %v", err)
		}
	})
	// Run creates the consumer; events published before it are not announced.
	testutil.WaitFor(t, "the webhook consumer", 5*time.Second, func() bool {
		_, err := wh.Bus.JS.Consumer(context.Background(), jobs.StreamEvents, jobs.ConsumerWebhooks)
		return err == nil
	})
}

func TestWebhooksRetryUntilAccepted(t *testing.T) {
	bus := startBus(t)
	rc, url := newReceiver(t, func(n int, _ string) int {
		if n <= 2 {
			return []int{http.StatusInternalServerError, http.StatusServiceUnavailable}[n-1]
		}
		return http.StatusNoContent
	})
	var obs outcomes
	backoff := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, time.Second, time.Second}
	runWebhooks(t, &Webhooks{Bus: bus, URL: url, Secret: hookSecret, Backoff: backoff, ContentURL: "https://cdn.example.com/",
		Log: slog.New(slog.DiscardHandler), Observe: obs.observe})

	ready := video.Video{ID: layout.NewVideoID(), State: video.StateReady, Progress: 1}
	failed := video.Video{ID: layout.NewVideoID(), State: video.StateFailed, Failure: &video.Failure{Code: video.CodeUnsupported, Reason: "Not a video."}}
	bus.AnnounceFinal(ready, slog.New(slog.DiscardHandler))
	bus.AnnounceFinal(failed, slog.New(slog.DiscardHandler))
	bus.AnnounceFinal(ready, slog.New(slog.DiscardHandler)) // a repeat: dropped by its Nats-Msg-Id

	testutil.WaitFor(t, "both events accepted", 15*time.Second, func() bool { return obs.get(queue.OutcomeSucceeded) == 2 })
	time.Sleep(300 * time.Millisecond) // nothing more arrives
	byEvent := map[string][]delivery{}
	for _, d := range rc.deliveries() {
		byEvent[d.EventID] = append(byEvent[d.EventID], d)
	}
	want := map[string]video.Video{"evt_" + ready.ID + "_ready": ready, "evt_" + failed.ID + "_failed": failed}
	if len(byEvent) != 2 {
		t.Fatalf("deliveries for %d events, want 2: %v", len(byEvent), byEvent)
	}
	for id, ds := range byEvent {
		v, ok := want[id]
		if !ok || len(ds) != 3 {
			t.Fatalf("event %q: %d deliveries, want 3", id, len(ds))
		}
		for i, d := range ds {
			if err := webhook.Verify(hookSecret, d.Signature, d.Body, webhook.DefaultTolerance, time.Now()); err != nil {
				t.Errorf("event %s delivery %d: %v", id, i+1, err)
			}
			e := d.Event
			if e.ID != id || e.Video.ID != v.ID || e.Video.State != api.State(v.State) || e.CreatedAt.IsZero() || !e.CreatedAt.Equal(ds[0].Event.CreatedAt) {
				t.Errorf("event %s delivery %d: %s", id, i+1, d.Body)
			}
			if i > 0 && d.At.Sub(ds[i-1].At) < backoff[i-1]-20*time.Millisecond {
				t.Errorf("event %s: retry %d after %v, back-off %v", id, i, d.At.Sub(ds[i-1].At), backoff[i-1])
			}
		}
		switch v.State {
		case video.StateReady:
			if ds[0].Event.Type != webhook.TypeVideoReady || ds[0].Event.Video.MasterURL != "https://cdn.example.com/streams/"+v.ID+"/master.m3u8" {
				t.Errorf("ready event %s", ds[0].Body)
			}
		case video.StateFailed:
			if ds[0].Event.Type != webhook.TypeVideoFailed || ds[0].Event.Video.Failure == nil || ds[0].Event.Video.Failure.Reason != "Not a video." || ds[0].Event.Video.MasterURL != "" {
				t.Errorf("failed event %s", ds[0].Body)
			}
		}
	}
	if n := obs.get(queue.OutcomeRetried); n != 4 {
		t.Errorf("%d retries observed, want 4", n)
	}
}

func TestWebhooksGiveUp(t *testing.T) {
	bus := startBus(t)
	var logs logBuffer
	rc, url := newReceiver(t, func(int, string) int { return http.StatusBadGateway })
	var obs outcomes
	runWebhooks(t, &Webhooks{Bus: bus, URL: url, Secret: hookSecret, Backoff: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond},
		Log: slog.New(slog.NewTextHandler(&logs, nil)), Observe: obs.observe})
	bus.AnnounceFinal(video.Video{ID: layout.NewVideoID(), State: video.StateReady}, slog.New(slog.DiscardHandler))
	testutil.WaitFor(t, "the event given up", 10*time.Second, func() bool { return obs.get(queue.OutcomeFailed) == 1 })
	time.Sleep(500 * time.Millisecond)
	if n := len(rc.deliveries()); n != 3 {
		t.Fatalf("%d attempts, want 3 (1 + 2 retries)", n)
	}
	if l := logs.String(); !containsAll(l, "level=ERROR", "webhook given up", "/hooks") || strings.Contains(l, "receiver-secret") {
		t.Fatalf("log:\n%s", l)
	}
}

// Several gateways share the work: each event is delivered by one of them.
func TestWebhooksEachEventOnceAcrossGateways(t *testing.T) {
	bus := startBus(t)
	rc, url := newReceiver(t, func(int, string) int { return http.StatusOK })
	var obs outcomes
	for range 3 {
		runWebhooks(t, &Webhooks{Bus: bus, URL: url, Secret: hookSecret, Concurrency: 2, Log: slog.New(slog.DiscardHandler), Observe: obs.observe})
	}
	const n = 30
	for range n {
		bus.AnnounceFinal(video.Video{ID: layout.NewVideoID(), State: video.StateReady}, slog.New(slog.DiscardHandler))
	}
	testutil.WaitFor(t, "every event", 15*time.Second, func() bool { return obs.get(queue.OutcomeSucceeded) >= n })
	time.Sleep(300 * time.Millisecond)
	seen := map[string]int{}
	for _, d := range rc.deliveries() {
		seen[d.EventID]++
	}
	if len(seen) != n || len(rc.deliveries()) != n {
		t.Fatalf("%d deliveries of %d events, want %d of %d", len(rc.deliveries()), len(seen), n, n)
	}
}

// Events from before webhooks were first turned on are not announced.
func TestWebhooksSkipTheEarlierEvents(t *testing.T) {
	bus := startBus(t)
	bus.AnnounceFinal(video.Video{ID: layout.NewVideoID(), State: video.StateReady}, slog.New(slog.DiscardHandler))
	time.Sleep(10 * time.Millisecond)
	rc, url := newReceiver(t, func(int, string) int { return http.StatusOK })
	var obs outcomes
	runWebhooks(t, &Webhooks{Bus: bus, URL: url, Secret: hookSecret, Log: slog.New(slog.DiscardHandler), Observe: obs.observe})
	later := video.Video{ID: layout.NewVideoID(), State: video.StateReady}
	bus.AnnounceFinal(later, slog.New(slog.DiscardHandler))
	testutil.WaitFor(t, "the later event", 10*time.Second, func() bool { return obs.get(queue.OutcomeSucceeded) == 1 })
	if ds := rc.deliveries(); len(ds) != 1 || ds[0].Event.Video.ID != later.ID {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestWebhooksNeedALongSecret(t *testing.T) {
	wh := &Webhooks{URL: "http://127.0.0.1:1/", Secret: []byte("short"), Log: slog.New(slog.DiscardHandler)}
	if err := wh.Run(context.Background()); err == nil {
		t.Fatal("a short secret accepted")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
