package app_test

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/video"
)

// apiVideo is what GET /api/videos/{id} says of a video's pictures.
type apiVideo struct {
	State         video.State       `json:"state"`
	MasterURL     string            `json:"master_url"`
	PosterURL     string            `json:"poster_url"`
	ThumbnailsURL string            `json:"thumbnails_url"`
	Thumbnails    *video.Thumbnails `json:"thumbnails"`
}

// uploadReady uploads a clip through POST /upload (which answers once the
// video is ready) and returns its id and what the API says of it.
func uploadReady(t *testing.T, base, clip string) (string, apiVideo) {
	t.Helper()
	status, body, _ := upload(t, base+"/upload", clip)
	if status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	m := regexp.MustCompile(`/streams/([a-z2-7]{24})/master\.m3u8`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("upload answered %q", body)
	}
	b, _ := get(t, base+"/api/videos/"+m[1])
	var v apiVideo
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.State != video.StateReady || v.MasterURL == "" {
		t.Fatalf("video %s: %s", m[1], b)
	}
	return m[1], v
}

// fetchPicture GETs u and returns status, body and Content-Type.
func fetchPicture(t *testing.T, u string) (int, []byte, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header.Get("Content-Type")
}

func jpegSize(t *testing.T, what string, b []byte) (int, int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a JPEG: %v", what, err)
	}
	return cfg.Width, cfg.Height
}

var thumbCueRe = regexp.MustCompile(`(?m)^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)$`)

// checkTrack fetches the storyboard track and every sheet it names
// (resolved against the track's URL, as the web UI and players do), and
// checks the cues: back to back over the video, each inside its sheet. It
// returns the sheet URIs as written in the track.
func checkTrack(t *testing.T, trackURL string, want *video.Thumbnails, duration float64) []string {
	t.Helper()
	status, body, ctype := fetchPicture(t, trackURL)
	if status != 200 || ctype != "text/vtt; charset=utf-8" || !strings.HasPrefix(string(body), "WEBVTT\n") {
		t.Fatalf("GET %s: %d %q\n%s", trackURL, status, ctype, body)
	}
	cues := thumbCueRe.FindAllStringSubmatch(string(body), -1)
	if len(cues) != want.Count {
		t.Fatalf("%d cues, want %d:\n%s", len(cues), want.Count, body)
	}
	base, _ := url.Parse(trackURL)
	sizes := map[string][2]int{}
	var uris []string
	prevEnd := 0.0
	for i, c := range cues {
		n := make([]float64, len(c))
		for j := 1; j < len(c); j++ {
			if j != 9 {
				n[j], _ = strconv.ParseFloat(c[j], 64)
			}
		}
		start := n[1]*3600 + n[2]*60 + n[3] + n[4]/1000
		end := n[5]*3600 + n[6]*60 + n[7] + n[8]/1000
		if start != prevEnd || end <= start || start != float64(i*want.Interval) {
			t.Errorf("cue %d: %g --> %g after %g", i, start, end, prevEnd)
		}
		prevEnd = end
		size, ok := sizes[c[9]]
		if !ok {
			ref, err := base.Parse(c[9])
			if err != nil {
				t.Fatal(err)
			}
			status, b, ctype := fetchPicture(t, ref.String())
			if status != 200 || ctype != "image/jpeg" {
				t.Fatalf("sheet %s: %d %q", ref, status, ctype)
			}
			w, h := jpegSize(t, ref.String(), b)
			size = [2]int{w, h}
			sizes[c[9]] = size
			uris = append(uris, c[9])
		}
		x, y, w, h := int(n[10]), int(n[11]), int(n[12]), int(n[13])
		if w != want.Width || h != want.Height || x+w > size[0] || y+h > size[1] {
			t.Errorf("cue %d: %s#xywh=%d,%d,%d,%d outside the %dx%d sheet", i, c[9], x, y, w, h, size[0], size[1])
		}
	}
	if prevEnd < duration-0.5 || prevEnd > duration+0.5 {
		t.Errorf("the track ends at %g, the video lasts %g", prevEnd, duration)
	}
	if len(sizes) != want.Sprites {
		t.Errorf("%d sheets named, want %d", len(sizes), want.Sprites)
	}
	return uris
}

// An uploaded video gets a poster and a storyboard; the API hands out their
// URLs and the content service serves them (and an audio-only upload has
// none, and is published all the same).
func TestThumbnailsEndToEnd(t *testing.T) {
	t.Parallel()
	base := startAll(t)
	clip := generate(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "11", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	started := time.Now()
	_, v := uploadReady(t, base, clip)
	t.Logf("ready in %s", time.Since(started).Round(time.Millisecond))
	// Three chunks (0–2 s and 2–6 s in 2 s segments, 6–11 s), a sheet each:
	// thumbnails 0; 2, 4; and 6, 8, 10.
	want := video.Thumbnails{Poster: true, Interval: 2, Count: 6, Sprites: 3, Width: 160, Height: 90}
	if v.Thumbnails == nil || *v.Thumbnails != want {
		t.Fatalf("thumbnails %+v, want %+v", v.Thumbnails, want)
	}
	prefix := strings.TrimSuffix(v.MasterURL, "master.m3u8")
	if v.PosterURL != prefix+"poster.jpg" || v.ThumbnailsURL != prefix+"thumbnails.vtt" {
		t.Fatalf("poster_url %q, thumbnails_url %q (master %q)", v.PosterURL, v.ThumbnailsURL, v.MasterURL)
	}
	status, b, ctype := fetchPicture(t, v.PosterURL)
	if status != 200 || ctype != "image/jpeg" {
		t.Fatalf("poster: %d %q", status, ctype)
	}
	if w, h := jpegSize(t, "the poster", b); w != 640 || h != 360 {
		t.Errorf("poster %dx%d, want 640x360", w, h)
	}
	checkTrack(t, v.ThumbnailsURL, &want, 11)

	audio := generate(t, "audio.m4a", "-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "aac")
	id, v := uploadReady(t, base, audio)
	if v.Thumbnails != nil || v.PosterURL != "" || v.ThumbnailsURL != "" {
		t.Errorf("audio-only video: %+v", v)
	}
	for _, name := range []string{"poster.jpg", "thumbnails.vtt", "sprite_0.jpg"} {
		if status, _, _ := fetchPicture(t, base+"/streams/"+id+"/"+name); status != 404 {
			t.Errorf("audio-only %s: %d", name, status)
		}
	}
}

// With signed playback, the pictures need the token like the stream, the
// API's URLs carry it, and so do the sheet URIs in the track.
func TestThumbnailsSigned(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) {
		c.PlaybackSecrets = [][]byte{[]byte("0123456789abcdef0123456789abcdef-thumbs")}
		c.PlaybackTTL = time.Hour
	})
	clip := generate(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "5", "-c:v", "libx264", "-preset", "ultrafast")
	id, v := uploadReady(t, base, clip)
	_, token, ok := strings.Cut(v.MasterURL, "?token=")
	if !ok || token == "" {
		t.Fatalf("master_url %q is not signed", v.MasterURL)
	}
	bare := base + "/streams/" + id + "/"
	if v.PosterURL != bare+"poster.jpg?token="+token || v.ThumbnailsURL != bare+"thumbnails.vtt?token="+token {
		t.Fatalf("poster_url %q, thumbnails_url %q; want them signed like %q", v.PosterURL, v.ThumbnailsURL, v.MasterURL)
	}
	if status, _, ctype := fetchPicture(t, v.PosterURL); status != 200 || ctype != "image/jpeg" {
		t.Errorf("signed poster: %d %q", status, ctype)
	}
	uris := checkTrack(t, v.ThumbnailsURL, &video.Thumbnails{Poster: true, Interval: 2, Count: 3, Sprites: 1, Width: 160, Height: 90}, 5)
	for _, u := range uris {
		if want := "sprite_0.jpg?token=" + token; u != want {
			t.Errorf("sheet URI %q in the track, want %q", u, want)
		}
	}
	for _, name := range []string{"poster.jpg", "thumbnails.vtt", "sprite_0.jpg"} {
		if status, _, _ := fetchPicture(t, bare+name); status != 403 {
			t.Errorf("%s without a token: %d, want 403", name, status)
		}
		if status, _, _ := fetchPicture(t, bare+name+"?token="+strings.Repeat("A", len(token))); status != 403 {
			t.Errorf("%s with a forged token: %d, want 403", name, status)
		}
	}
}
