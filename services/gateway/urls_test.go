package gateway

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/playback"
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
	full := &jobs.Thumbnails{Poster: true, Interval: 2, Count: 5, Sprites: 1, Width: 160, Height: 90}
	for _, tc := range []struct {
		name                       string
		d                          Deps
		tls                        bool
		v                          jobs.Video
		master, poster, thumbnails string
	}{
		{"ready with pictures", Deps{}, false, jobs.Video{ID: id, State: jobs.StateReady, Thumbnails: full},
			"http://gw.example/streams/" + id + "/master.m3u8", "http://gw.example/streams/" + id + "/poster.jpg", "http://gw.example/streams/" + id + "/thumbnails.vtt"},
		{"behind TLS, content elsewhere", Deps{ContentURL: "https://cdn.example.com/"}, true, jobs.Video{ID: id, State: jobs.StateReady, Thumbnails: full},
			"https://cdn.example.com/streams/" + id + "/master.m3u8", "https://cdn.example.com/streams/" + id + "/poster.jpg", "https://cdn.example.com/streams/" + id + "/thumbnails.vtt"},
		{"signed", Deps{Signer: signer, Now: func() time.Time { return now }}, false, jobs.Video{ID: id, State: jobs.StateReady, Thumbnails: full},
			"http://gw.example/streams/" + id + "/master.m3u8?token=" + tok, "http://gw.example/streams/" + id + "/poster.jpg?token=" + tok, "http://gw.example/streams/" + id + "/thumbnails.vtt?token=" + tok},
		{"poster only", Deps{}, false, jobs.Video{ID: id, State: jobs.StateReady, Thumbnails: &jobs.Thumbnails{Poster: true}},
			"http://gw.example/streams/" + id + "/master.m3u8", "http://gw.example/streams/" + id + "/poster.jpg", ""},
		{"storyboard only", Deps{}, false, jobs.Video{ID: id, State: jobs.StateReady, Thumbnails: &jobs.Thumbnails{Interval: 2, Count: 3, Sprites: 1}},
			"http://gw.example/streams/" + id + "/master.m3u8", "", "http://gw.example/streams/" + id + "/thumbnails.vtt"},
		{"audio only", Deps{}, false, jobs.Video{ID: id, State: jobs.StateReady},
			"http://gw.example/streams/" + id + "/master.m3u8", "", ""},
		{"not ready yet", Deps{}, false, jobs.Video{ID: id, State: jobs.StateSegmenting, Thumbnails: full}, "", "", ""},
		{"failed", Deps{}, false, jobs.Video{ID: id, State: jobs.StateFailed, Thumbnails: full}, "", "", ""},
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
	got := wh.present(jobs.Video{ID: id, State: jobs.StateReady, Thumbnails: full})
	if _, err := signer.VerifyExpiry(id, got.PosterURL[len(got.PosterURL)-playback.TokenLen:], time.Now()); err != nil ||
		got.PosterURL[:len("https://cdn.example.com/streams/"+id+"/poster.jpg?token=")] != "https://cdn.example.com/streams/"+id+"/poster.jpg?token=" ||
		got.ThumbnailsURL == "" {
		t.Errorf("webhook video: %+v (%v)", got, err)
	}
}
