package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

// SSEHeartbeat is how often an idle event stream gets a comment line, so
// proxies and load balancers do not close it for inactivity.
const SSEHeartbeat = 15 * time.Second

// requireOrQueryToken is guard.require for the one route browsers open with
// EventSource, which cannot send headers: the token may also come as
// ?access_token=TOKEN. It goes through the same constant-time check as the
// header (a header, when sent, wins), and is taken out of the URL before the
// handler sees it. Query strings end up in proxy access logs: clients that
// can send headers should.
func (g guard) requireOrQueryToken(h http.HandlerFunc) http.Handler {
	inner := g.require(true, h)
	if g.tokens.open() {
		return inner
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("access_token") {
			tok := q.Get("access_token")
			r = r.Clone(r.Context())
			q.Del("access_token")
			r.URL.RawQuery = q.Encode()
			if r.Header.Get("Authorization") == "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		}
		inner.ServeHTTP(w, r)
	})
}

// events streams a video's state as server-sent events: "video" with the
// whole video (as GET /api/videos/{id} shows it) at once and after every
// change, a comment every heartbeat, and "end" once the video is ready,
// failed or deleted, after which the stream closes. A client that goes away
// ends the KV watcher with the request's context; a server shutdown (Done)
// ends the stream without "end", so the client reconnects.
// eventWriteTimeout bounds each write of an event stream.
const eventWriteTimeout = 30 * time.Second

func (gw *Gateway) events(heartbeat time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel() // stops the watcher
		_, err := gw.Records.Get(ctx, id)
		var updates <-chan video.Video
		if err == nil {
			updates, err = gw.Records.Watch(ctx, id)
		}
		if errors.Is(err, video.ErrNotFound) {
			jsonError(w, http.StatusNotFound, "No video has that id.")
			return
		}
		if err != nil {
			gw.Log.Error("watch video failed", "video", id, "err", err)
			jsonError(w, http.StatusServiceUnavailable, "Video state is unavailable; try again shortly.")
			return
		}

		rc := http.NewResponseController(w)
		// The stream lasts; the server's read deadline would end it.
		_ = rc.SetReadDeadline(time.Time{})
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // nginx: don't buffer the stream
		w.WriteHeader(http.StatusOK)
		// The stream outlives the server's write timeout; each write gets
		// its own, so a client that stops reading is dropped.
		writeBy := func() { _ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)) }
		send := func(event string, v any) error {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			writeBy()
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
				return err
			}
			return rc.Flush()
		}
		end := func(state string) { _ = send("end", map[string]string{"id": id, "state": state}) }
		writeBy()
		if rc.Flush() != nil {
			return
		}
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-gw.Done: // nil: never
				return
			case <-tick.C:
				writeBy()
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case v, ok := <-updates:
				if !ok {
					// The watcher ends on its own when the video is deleted,
					// or on a broker hiccup: then the stream just closes and
					// the client reconnects.
					if ctx.Err() == nil {
						if _, err := gw.Records.Get(ctx, id); errors.Is(err, video.ErrNotFound) {
							end("deleted")
						}
					}
					return
				}
				out := gw.present(r, v)
				out.QueuePosition = gw.queuePosition(r.Context(), v, nil)
				if send("video", out) != nil {
					return
				}
				if v.State.Final() {
					end(string(v.State))
					return
				}
			}
		}
	}
}
