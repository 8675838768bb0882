package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/hlsd/hlsd/pkg/webhook"
)

const eventsToken = "events-token-0123456789abcdef"

// apiUpload posts a file to POST /api/videos with a bearer token and
// returns the new video's id.
func apiUpload(t *testing.T, base, token, path string) string {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("upload", filepath.Base(path))
		if err == nil {
			var b []byte
			if b, err = os.ReadFile(path); err == nil {
				_, err = part.Write(b)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/videos", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct{ ID string }
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &created) != nil || !layout.ValidVideoID(created.ID) {
		t.Fatalf("POST /api/videos = %d %s", resp.StatusCode, b)
	}
	return created.ID
}

type sse struct{ event, data string }

// follow reads a video's event stream to its end and returns every event.
func follow(t *testing.T, eventsURL, authorization string) []sse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, eventsURL, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %q %s", eventsURL, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out []sse
	var cur sse
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && cur.event != "":
			out = append(out, cur)
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			cur.data += line[len("data: "):]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the stream: %v (after %d events)", err, len(out))
	}
	return out
}

type streamedVideo struct {
	video.Video
	StatusURL string `json:"status_url"`
	MasterURL string `json:"master_url"`
}

// videos decodes the video events of a stream and checks it ends with one
// "end" naming the final state.
func videos(t *testing.T, events []sse, id string, final video.State) []streamedVideo {
	t.Helper()
	if len(events) < 2 || events[len(events)-1].event != "end" {
		t.Fatalf("the stream does not finish with an end event: %+v", events)
	}
	var end struct{ ID, State string }
	if err := json.Unmarshal([]byte(events[len(events)-1].data), &end); err != nil || end.ID != id || end.State != string(final) {
		t.Fatalf("end event %q, want %s %s", events[len(events)-1].data, id, final)
	}
	var out []streamedVideo
	for _, e := range events[:len(events)-1] {
		if e.event != "video" {
			t.Fatalf("event %q before the end", e.event)
		}
		var v streamedVideo
		if err := json.Unmarshal([]byte(e.data), &v); err != nil || v.ID != id {
			t.Fatalf("video event %s: %v", e.data, err)
		}
		out = append(out, v)
	}
	return out
}

var stateRank = map[video.State]int{video.StateUploaded: 0, video.StateEncoding: 1, video.StateSegmenting: 2, video.StateReady: 3, video.StateFailed: 3}

// Follow an upload from POST /api/videos (202) to ready over server-sent
// events, and a text file in disguise to failed; an unknown id is a 404.
func TestSSEFollowsVideosToTheirEnd(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) { c.APITokens = []string{eventsToken} })
	clip := generate(t, "sse.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")

	t.Run("ready", func(t *testing.T) {
		t.Parallel()
		id := apiUpload(t, base, eventsToken, clip)
		// EventSource style: the token in the query.
		vs := videos(t, follow(t, base+"/api/videos/"+id+"/events?access_token="+url.QueryEscape(eventsToken), ""), id, video.StateReady)
		if len(vs) < 2 {
			t.Fatalf("only %d video events: the stream showed no progress", len(vs))
		}
		var states []video.State
		for i, v := range vs {
			if i > 0 && (stateRank[v.State] < stateRank[vs[i-1].State] || v.Progress < vs[i-1].Progress) {
				t.Errorf("event %d went back: %s %.3f after %s %.3f", i, v.State, v.Progress, vs[i-1].State, vs[i-1].Progress)
			}
			if v.State.Final() && i != len(vs)-1 {
				t.Errorf("event %d is final (%s) but the stream went on", i, v.State)
			}
			if len(states) == 0 || states[len(states)-1] != v.State {
				states = append(states, v.State)
			}
		}
		t.Logf("states seen: %v over %d events", states, len(vs))
		last := vs[len(vs)-1]
		if last.State != video.StateReady || last.Progress != 1 || last.MasterURL == "" || len(last.Renditions) == 0 || last.StatusURL != "/api/videos/"+id {
			t.Fatalf("last video event %+v", last)
		}
		for _, r := range last.Renditions {
			if !r.Done || r.Segments == 0 || r.Codecs == "" {
				t.Errorf("rendition %+v not done in the final event", r)
			}
		}
		if !slices.ContainsFunc(vs, func(v streamedVideo) bool { return !v.State.Final() }) {
			t.Error("no event before the final state")
		}
		// The same as the API answers now.
		req, _ := http.NewRequest("GET", base+"/api/videos/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+eventsToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got streamedVideo
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got.State != last.State || got.MasterURL != last.MasterURL || !got.UpdatedAt.Equal(last.UpdatedAt) {
			t.Errorf("GET answers %+v, the stream ended with %+v", got, last)
		}
	})

	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		notes := testutil.WriteFile(t, t.TempDir(), "notes.mp4", []byte("these are my notes, not a video\n"))
		id := apiUpload(t, base, eventsToken, notes)
		vs := videos(t, follow(t, base+"/api/videos/"+id+"/events", "Bearer "+eventsToken), id, video.StateFailed)
		last := vs[len(vs)-1]
		if last.State != video.StateFailed || last.Failure == nil || last.Failure.Code != video.CodeUnsupported || !strings.Contains(last.Failure.Reason, "not a video or audio format") {
			t.Fatalf("last video event %+v", last)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{
			base + "/api/videos/" + layout.NewVideoID() + "/events?access_token=" + eventsToken,
			base + "/api/videos/not-an-id/events?access_token=" + eventsToken,
		} {
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), `"error"`) {
				t.Errorf("GET %s = %d %s", u, resp.StatusCode, b)
			}
		}
		resp, err := http.Get(base + "/api/videos/" + layout.NewVideoID() + "/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("events without a token: %d", resp.StatusCode)
		}
	})
}

// GET /api/videos pages newest first with an opaque cursor.
func TestListPagesThroughTheAPI(t *testing.T) {
	t.Parallel()
	base := startAll(t)
	clip := generate(t, "tiny.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast")
	var ids []string // oldest first
	for range 5 {
		ids = append(ids, apiUpload(t, base, "", clip))
	}
	slices.Reverse(ids)
	var seen []string
	var sizes []int
	cursor := ""
	for page := 0; page < 10; page++ {
		u := base + "/api/videos?limit=2"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		b, _ := get(t, u)
		var p struct {
			Videos     []video.Video `json:"videos"`
			NextCursor *string       `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.Videos))
		for _, v := range p.Videos {
			seen = append(seen, v.ID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) || !slices.Equal(seen, ids) {
		t.Fatalf("pages of %v: %v, want 2,2,1 of %v (newest first)", sizes, seen, ids)
	}
	resp, err := http.Get(base + "/api/videos?limit=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("limit=0: %d, want 400", resp.StatusCode)
	}
}

// The OpenAPI document is served without a token, even when the API needs one.
func TestOpenAPIDocumentIsPublic(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) { c.APITokens = []string{eventsToken} })
	b, hdr := get(t, base+"/api/openapi.json")
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || hdr.Get("Content-Type") != "application/json" || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("GET /api/openapi.json: %v %q %q", err, hdr.Get("Content-Type"), doc.OpenAPI)
	}
	for _, p := range []string{"/api/videos", "/api/videos/{id}/events", "/api/uploads/", "/streams/{id}/master.m3u8", "/metrics"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("the document lacks %s", p)
		}
	}
}

// webhookReceiver fails the first failures deliveries of every event, then accepts.
type webhookReceiver struct {
	mu       sync.Mutex
	failures int
	got      map[string][]webhookDelivery
}

type webhookDelivery struct {
	signature, eventID string
	body               []byte
}

func (rc *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	id := r.Header.Get(webhook.HeaderEventID)
	rc.mu.Lock()
	rc.got[id] = append(rc.got[id], webhookDelivery{r.Header.Get(webhook.HeaderSignature), id, b})
	n := len(rc.got[id])
	rc.mu.Unlock()
	if n <= rc.failures {
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *webhookReceiver) deliveries(id string) []webhookDelivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got[id])
}

// A ready and a failed video each reach the webhook receiver, which turns
// the first two deliveries away: three signed attempts of the same event.
func TestWebhooksAnnounceReadyAndFailedVideos(t *testing.T) {
	t.Parallel()
	secret := []byte("e2e-webhook-secret-0123456789abcdef")
	rc := &webhookReceiver{failures: 2, got: map[string][]webhookDelivery{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	base := startAll(t, func(c *app.Config) {
		c.WebhookURL, c.WebhookSecret = srv.URL+"/hooks", secret
		c.WebhookBackoff = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, time.Second}
	})
	clip := generate(t, "hook.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast")
	good := apiUpload(t, base, "", clip)
	bad := apiUpload(t, base, "", testutil.WriteFile(t, t.TempDir(), "notes.mp4", []byte("not a video at all\n")))

	for _, tc := range []struct {
		video, typ string
		state      video.State
	}{{good, webhook.TypeVideoReady, video.StateReady}, {bad, webhook.TypeVideoFailed, video.StateFailed}} {
		eventID := "evt_" + tc.video + "_" + string(tc.state)
		testutil.WaitFor(t, "three deliveries of "+eventID, 2*time.Minute, func() bool { return len(rc.deliveries(eventID)) >= 3 })
		time.Sleep(time.Second) // an accepted event is not sent again
		ds := rc.deliveries(eventID)
		if len(ds) != 3 {
			t.Fatalf("%s: %d deliveries, want 3", eventID, len(ds))
		}
		for i, d := range ds {
			if err := webhook.Verify(secret, d.signature, d.body, webhook.DefaultTolerance, time.Now()); err != nil {
				t.Errorf("%s delivery %d: %v", eventID, i+1, err)
			}
			var e struct {
				Type      string          `json:"type"`
				ID        string          `json:"id"`
				CreatedAt time.Time       `json:"created_at"`
				Video     streamedVideo   `json:"video"`
				Extra     json.RawMessage `json:"extra"`
			}
			if err := json.Unmarshal(d.body, &e); err != nil || e.Type != tc.typ || e.ID != eventID || e.CreatedAt.IsZero() || e.Video.ID != tc.video || e.Video.State != tc.state {
				t.Errorf("%s delivery %d: %s", eventID, i+1, d.body)
			}
			if tc.state == video.StateFailed && (e.Video.Failure == nil || !strings.Contains(e.Video.Failure.Reason, "not a video or audio format")) {
				t.Errorf("failed event without its reason: %s", d.body)
			}
			if tc.state == video.StateReady && len(e.Video.Renditions) == 0 {
				t.Errorf("ready event without renditions: %s", d.body)
			}
		}
		if err := webhook.Verify([]byte("another-secret-0123456789abcdef-xyz"), ds[0].signature, ds[0].body, webhook.DefaultTolerance, time.Now()); err == nil {
			t.Error("a signature verifies with another secret")
		}
	}
	rc.mu.Lock()
	events := len(rc.got)
	rc.mu.Unlock()
	if events != 2 {
		t.Errorf("%d events delivered, want 2", events)
	}
	metrics, _ := get(t, base+"/metrics")
	for _, want := range []string{`hlsd_jobs_total{outcome="retried",stage="webhook"} 4`, `hlsd_jobs_total{outcome="succeeded",stage="webhook"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
