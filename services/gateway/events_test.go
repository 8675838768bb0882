package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
)

// sseEvent is one server-sent event, or a comment (Event "", Comment set).
type sseEvent struct {
	Event, Data, Comment string
}

// readSSE sends the stream's events and comments on a channel, closed at its end.
func readSSE(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.Data += line[len("data: "):]
			}
		}
	}()
	return out
}

func next(t *testing.T, events <-chan sseEvent) (sseEvent, bool) {
	t.Helper()
	select {
	case e, ok := <-events:
		return e, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return sseEvent{}, false
	}
}

func nextVideo(t *testing.T, events <-chan sseEvent) api.Video {
	t.Helper()
	e, ok := next(t, events)
	if !ok || e.Event != "video" {
		t.Fatalf("got %+v (open: %v), want a video event", e, ok)
	}
	var v api.Video
	if err := json.Unmarshal([]byte(e.Data), &v); err != nil {
		t.Fatalf("video event data %q: %v", e.Data, err)
	}
	return v
}

func openEvents(t *testing.T, url, authorization string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEventsFollowAVideoToTheEnd(t *testing.T) {
	bus := startBus(t)
	var logs logBuffer
	d, _ := newDeps(t, bus, &logs, token1)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx := context.Background()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(ctx, &video.Video{ID: id, State: video.StateUploaded, Size: 42}); err != nil {
		t.Fatal(err)
	}

	resp := openEvents(t, srv.URL+"/api/videos/"+id+"/events?access_token="+token1, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET events: %d %v", resp.StatusCode, resp.Header)
	}
	events := readSSE(resp.Body)
	if v := nextVideo(t, events); v.ID != id || v.State != api.StateUploaded || v.Size != 42 || v.StatusURL != "/api/videos/"+id {
		t.Fatalf("first event %+v", v)
	}
	update := func(fn func(v *video.Video)) {
		if _, err := bus.Videos.Update(ctx, id, func(v *video.Video) error { fn(v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	update(func(v *video.Video) {
		v.State, v.Progress = video.StateEncoding, 0.3
		v.Renditions = []video.Rendition{{Name: "360p"}, {Name: "540p"}}
	})
	if v := nextVideo(t, events); v.State != api.StateEncoding || v.Progress != 0.3 || len(v.Renditions) != 2 {
		t.Fatalf("second event %+v", v)
	}
	update(func(v *video.Video) { v.State, v.Renditions[0].Done = video.StateSegmenting, true })
	if v := nextVideo(t, events); v.State != api.StateSegmenting || !v.Renditions[0].Done || v.Renditions[1].Done {
		t.Fatalf("third event %+v", v)
	}
	update(func(v *video.Video) { v.State, v.Progress = video.StateReady, 1 })
	if v := nextVideo(t, events); v.State != api.StateReady || v.MasterURL != "https://media.example.com/streams/"+id+"/master.m3u8" {
		t.Fatalf("last event %+v", v)
	}
	if e, _ := next(t, events); e.Event != "end" || e.Data != `{"id":"`+id+`","state":"ready"}` {
		t.Fatalf("got %+v, want the end", e)
	}
	if e, open := next(t, events); open {
		t.Fatalf("the stream goes on after the end: %+v", e)
	}
}

func TestEventsOfAFinishedVideoEndAtOnce(t *testing.T) {
	bus := startBus(t)
	d, _ := newDeps(t, bus, &logBuffer{})
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	id := layout.NewVideoID()
	failed := video.Video{ID: id, State: video.StateFailed, Failure: &video.Failure{Code: video.CodeUnsupported, Reason: "Not a video."}}
	if err := bus.Videos.Create(context.Background(), &failed); err != nil {
		t.Fatal(err)
	}
	events := readSSE(openEvents(t, srv.URL+"/api/videos/"+id+"/events", "").Body)
	if v := nextVideo(t, events); v.State != api.StateFailed || v.Failure == nil || v.Failure.Reason != "Not a video." {
		t.Fatalf("event %+v", v)
	}
	if e, _ := next(t, events); e.Event != "end" || !strings.Contains(e.Data, `"state":"failed"`) {
		t.Fatalf("got %+v, want the end", e)
	}
}

func TestEventsEndWhenTheVideoIsDeleted(t *testing.T) {
	bus := startBus(t)
	d, _ := newDeps(t, bus, &logBuffer{})
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateEncoding}); err != nil {
		t.Fatal(err)
	}
	events := readSSE(openEvents(t, srv.URL+"/api/videos/"+id+"/events", "").Body)
	nextVideo(t, events)
	if err := bus.Videos.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if e, _ := next(t, events); e.Event != "end" || !strings.Contains(e.Data, `"state":"deleted"`) {
		t.Fatalf("got %+v, want the end", e)
	}
}

// Heartbeats keep an idle stream alive; a client that leaves takes its KV
// watcher (a NATS subscription) with it.
func TestEventsHeartbeatAndDisconnect(t *testing.T) {
	bus := startBus(t)
	d, _ := newDeps(t, bus, &logBuffer{})
	mux := http.NewServeMux()
	mux.Handle("GET /api/videos/{id}/events", d.events(50*time.Millisecond))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateEncoding}); err != nil {
		t.Fatal(err)
	}
	nc := bus.JS.Conn()
	before := nc.NumSubscriptions()
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/videos/"+id+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		events := readSSE(resp.Body)
		nextVideo(t, events)
		for range 2 {
			if e, _ := next(t, events); e.Comment != "keep-alive" || e.Event != "" {
				t.Fatalf("got %+v, want a heartbeat comment", e)
			}
		}
		if nc.NumSubscriptions() <= before {
			t.Fatalf("no watcher subscription while streaming (%d, %d before)", nc.NumSubscriptions(), before)
		}
		cancel()
		resp.Body.Close()
	}
	testutil.WaitFor(t, "every watcher to stop", 5*time.Second, func() bool { return nc.NumSubscriptions() == before })
}

func TestEventsRefusals(t *testing.T) {
	bus := startBus(t)
	var logs logBuffer
	d, _ := newDeps(t, bus, &logs, token1, token2)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateReady}); err != nil {
		t.Fatal(err)
	}
	events := srv.URL + "/api/videos/" + id + "/events"
	for _, tc := range []struct {
		name, url, authorization string
		status                   int
		challenge                string
	}{
		{"no token", events, "", http.StatusUnauthorized, `Bearer realm="hlsd"`},
		{"wrong query token", events + "?access_token=not-" + token1, "", http.StatusUnauthorized, `Bearer realm="hlsd", error="invalid_token"`},
		{"empty query token", events + "?access_token=", "", http.StatusUnauthorized, `Bearer realm="hlsd"`},
		{"query token prefix", events + "?access_token=" + token1[:10], "", http.StatusUnauthorized, `Bearer realm="hlsd", error="invalid_token"`},
		{"header wins over the query", events + "?access_token=" + token1, "Bearer wrong-token-0123456789", http.StatusUnauthorized, `Bearer realm="hlsd", error="invalid_token"`},
		{"header token", events, "Bearer " + token2, http.StatusOK, ""},
		{"second query token", events + "?access_token=" + token2, "", http.StatusOK, ""},
		{"query token on another route", srv.URL + "/api/videos/" + id + "?access_token=" + token1, "", http.StatusUnauthorized, `Bearer realm="hlsd"`},
		{"query token on the list", srv.URL + "/api/videos?access_token=" + token1, "", http.StatusUnauthorized, `Bearer realm="hlsd"`},
		{"unknown id", srv.URL + "/api/videos/" + layout.NewVideoID() + "/events", "Bearer " + token1, http.StatusNotFound, ""},
		{"not an id", srv.URL + "/api/videos/..%2F..%2Fetc/events", "Bearer " + token1, http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := openEvents(t, tc.url, tc.authorization)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("got %d %q %s, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, tc.status, tc.challenge)
			}
			if tc.status != http.StatusOK {
				var e struct{ Error string }
				if json.Unmarshal(body, &e) != nil || e.Error == "" {
					t.Fatalf("not a JSON error: %s", body)
				}
			}
		})
	}
	if strings.Contains(logs.String(), token1) || strings.Contains(logs.String(), token1[:10]) {
		t.Fatalf("a token reached the log:\n%s", logs.String())
	}
}

// A shutting-down gateway closes its streams without "end": the video is
// not finished, and the client reconnects (to another gateway).
func TestEventsCloseAtShutdown(t *testing.T) {
	bus := startBus(t)
	d, _ := newDeps(t, bus, &logBuffer{})
	done := make(chan struct{})
	d.Done = done
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	id := layout.NewVideoID()
	if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateEncoding}); err != nil {
		t.Fatal(err)
	}
	events := readSSE(openEvents(t, srv.URL+"/api/videos/"+id+"/events", "").Body)
	nextVideo(t, events)
	close(done)
	if e, open := next(t, events); open {
		t.Fatalf("got %+v, want the stream closed", e)
	}
}
