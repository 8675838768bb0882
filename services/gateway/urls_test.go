package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/video"
)

// A ready video shows the URLs of what it has, all absolute and signed with
// one token; others show none.
func TestPresentStreamURLs(t *testing.T) {
	const id = "abcdefghijklmnopqrstuvwx"
	signer, err := playback.NewSigner(time.Hour, []byte("0123456789abcdef0123456789abcdef-gw"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := signer.Token(id, now)
	full := &video.Thumbnails{Poster: true, Interval: 2, Count: 5, Sprites: 1, Width: 160, Height: 90}
	for _, tc := range []struct {
		name                       string
		d                          *Gateway
		tls                        bool
		v                          video.Video
		master, poster, thumbnails string
	}{
		{"ready with pictures", New(Config{}, Deps{}), false, video.Video{ID: id, State: video.StateReady, Thumbnails: full},
			"http://gw.example/streams/" + id + "/master.m3u8", "http://gw.example/streams/" + id + "/poster.jpg", "http://gw.example/streams/" + id + "/thumbnails.vtt"},
		{"behind TLS, content elsewhere", New(Config{ContentURL: "https://cdn.example.com/"}, Deps{}), true, video.Video{ID: id, State: video.StateReady, Thumbnails: full},
			"https://cdn.example.com/streams/" + id + "/master.m3u8", "https://cdn.example.com/streams/" + id + "/poster.jpg", "https://cdn.example.com/streams/" + id + "/thumbnails.vtt"},
		{"signed", New(Config{}, Deps{Signer: signer, Now: func() time.Time { return now }}), false, video.Video{ID: id, State: video.StateReady, Thumbnails: full},
			"http://gw.example/streams/" + id + "/master.m3u8?token=" + tok, "http://gw.example/streams/" + id + "/poster.jpg?token=" + tok, "http://gw.example/streams/" + id + "/thumbnails.vtt?token=" + tok},
		{"poster only", New(Config{}, Deps{}), false, video.Video{ID: id, State: video.StateReady, Thumbnails: &video.Thumbnails{Poster: true}},
			"http://gw.example/streams/" + id + "/master.m3u8", "http://gw.example/streams/" + id + "/poster.jpg", ""},
		{"storyboard only", New(Config{}, Deps{}), false, video.Video{ID: id, State: video.StateReady, Thumbnails: &video.Thumbnails{Interval: 2, Count: 3, Sprites: 1}},
			"http://gw.example/streams/" + id + "/master.m3u8", "", "http://gw.example/streams/" + id + "/thumbnails.vtt"},
		{"audio only", New(Config{}, Deps{}), false, video.Video{ID: id, State: video.StateReady},
			"http://gw.example/streams/" + id + "/master.m3u8", "", ""},
		{"not ready yet", New(Config{}, Deps{}), false, video.Video{ID: id, State: video.StateSegmenting, Thumbnails: full}, "", "", ""},
		{"failed", New(Config{}, Deps{}), false, video.Video{ID: id, State: video.StateFailed, Thumbnails: full}, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/videos/"+id, nil)
			r.Host = "gw.example"
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			got := tc.d.present(r, tc.v)
			if got.MasterURL != tc.master || got.PosterURL != tc.poster || got.ThumbnailsURL != tc.thumbnails {
				t.Errorf("got\n%s\n%s\n%s\nwant\n%s\n%s\n%s", got.MasterURL, got.PosterURL, got.ThumbnailsURL, tc.master, tc.poster, tc.thumbnails)
			}
		})
	}
	// Webhooks: the same URLs, from the configured content URL.
	wh := &Webhooks{ContentURL: "https://cdn.example.com", Signer: signer}
	got := wh.present(video.Video{ID: id, State: video.StateReady, Thumbnails: full})
	if _, err := signer.VerifyExpiry(id, got.PosterURL[len(got.PosterURL)-playback.TokenLen:], time.Now()); err != nil ||
		got.PosterURL[:len("https://cdn.example.com/streams/"+id+"/poster.jpg?token=")] != "https://cdn.example.com/streams/"+id+"/poster.jpg?token=" ||
		got.ThumbnailsURL == "" {
		t.Errorf("webhook video: %+v (%v)", got, err)
	}
}

// The API's states are the record's, one for one.
func TestAPIStatesAreTheRecords(t *testing.T) {
	for _, s := range []video.State{video.StateUploaded, video.StateEncoding, video.StateSegmenting, video.StateReady, video.StateFailed} {
		got := present(video.Video{ID: "abcdefghijklmnopqrstuvwx", State: s}, "", "").State
		if string(got) != string(s) || got.Final() != s.Final() {
			t.Errorf("record state %q shows as %q (final %v)", s, got, got.Final())
		}
	}
	for _, s := range []api.State{api.StateUploaded, api.StateEncoding, api.StateSegmenting, api.StateReady, api.StateFailed} {
		if video.State(s) != video.StateUploaded && video.State(s) != video.StateEncoding && video.State(s) != video.StateSegmenting &&
			video.State(s) != video.StateReady && video.State(s) != video.StateFailed {
			t.Errorf("API state %q is no record state", s)
		}
	}
}

// POST /api/videos answers the video as GET does, with its real creation
// time (it once answered "0001-01-01T00:00:00Z").
func TestCreateAnswersTheStoredVideo(t *testing.T) {
	t.Parallel()
	bus := startBus(t)
	stubEncoder(t, bus)
	d, _ := newDeps(t, bus, &logBuffer{})
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ct, body := multipartBody(t, "abc")
	resp, err := http.Post(srv.URL+"/api/videos", ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created api.Video
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/videos: %d %v", resp.StatusCode, err)
	}
	stored, err := bus.Videos.Get(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if created.CreatedAt.IsZero() || !created.CreatedAt.Equal(stored.CreatedAt) || created.UpdatedAt.IsZero() {
		t.Fatalf("answered created_at %v, updated_at %v; stored %v", created.CreatedAt, created.UpdatedAt, stored.CreatedAt)
	}
}
