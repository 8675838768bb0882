package content

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playback"
)

func TestObjectKeyPictures(t *testing.T) {
	s := "/streams/" + id + "/"
	for p, want := range map[string]string{
		s + "poster.jpg":       layout.PosterKey(id),
		s + "thumbnails.vtt":   layout.ThumbnailsKey(id),
		s + "sprite_0.jpg":     layout.SpriteKey(id, 0),
		s + "sprite_9999.jpg":  layout.SpriteKey(id, 9999),
		s + "sprite_01.jpg":    "",
		s + "sprite_10000.jpg": "",
		s + "360p/poster.jpg":  "",
		s + "poster.JPG":       "",
	} {
		got, ok := ObjectKey(p)
		if got != want || ok != (want != "") {
			t.Errorf("ObjectKey(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
}

// The poster and sheets are served like segments (immutable), the track
// like a playlist (a day, gzip), each with its type, CORS, ranges and ETags.
func TestServesPictures(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: quietLog()}).Handler())
	defer srv.Close()
	for _, tc := range []struct {
		name, ctype, cache string
	}{
		{"poster.jpg", "image/jpeg", "public, max-age=31536000, immutable"},
		{"sprite_0.jpg", "image/jpeg", "public, max-age=31536000, immutable"},
		{"sprite_12.jpg", "image/jpeg", "public, max-age=31536000, immutable"},
		{"thumbnails.vtt", "text/vtt; charset=utf-8", "public, max-age=86400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := srv.URL + "/streams/" + id + "/" + tc.name
			resp, body := do(t, "GET", u, nil)
			if resp.StatusCode != 200 || len(body) == 0 {
				t.Fatalf("GET: %d", resp.StatusCode)
			}
			for k, want := range map[string]string{
				"Content-Type": tc.ctype, "Cache-Control": tc.cache, "Access-Control-Allow-Origin": "*",
				"X-Content-Type-Options": "nosniff", "Accept-Ranges": "bytes",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			etag := resp.Header.Get("ETag")
			if r, _ := do(t, "GET", u, map[string]string{"If-None-Match": etag}); etag == "" || r.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match %q: %d", etag, r.StatusCode)
			}
			if r, part := do(t, "GET", u, map[string]string{"Range": "bytes=1-4"}); r.StatusCode != http.StatusPartialContent || !bytes.Equal(part, body[1:5]) {
				t.Errorf("Range: %d %q", r.StatusCode, part)
			}
			if r, b := do(t, "HEAD", u, nil); r.StatusCode != 200 || len(b) != 0 {
				t.Errorf("HEAD: %d", r.StatusCode)
			}
		})
	}
	resp, body := do(t, "GET", srv.URL+"/streams/"+id+"/thumbnails.vtt", map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(string(gunzip(t, body)), "WEBVTT\n") {
		t.Errorf("gzip track: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := do(t, "GET", srv.URL+"/streams/"+id+"/sprite_1.jpg", nil); resp.StatusCode != 404 {
		t.Errorf("a sheet that does not exist: %d", resp.StatusCode)
	}
}

// Signed: every picture needs the token, and the track hands it on to the
// sheets it names, which then open with it.
func TestSignedPictures(t *testing.T) {
	f := newFixture(t)
	signer, _ := playback.NewSigner(time.Hour, playSecret)
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: quietLog(), Signer: signer, Now: func() time.Time { return t0 }}).Handler())
	defer srv.Close()
	tok := signer.Token(id, t0)
	base := srv.URL + "/streams/" + id + "/"
	for _, name := range []string{"poster.jpg", "thumbnails.vtt", "sprite_0.jpg"} {
		if resp, body := do(t, "GET", base+name, nil); resp.StatusCode != 403 || string(body) != msgNoToken+"\n" {
			t.Errorf("%s without a token: %d %q", name, resp.StatusCode, body)
		}
		if resp, _ := do(t, "GET", base+name+"?token="+signer.Token(otherID, t0), nil); resp.StatusCode != 403 {
			t.Errorf("%s with another video's token: %d", name, resp.StatusCode)
		}
		resp, _ := do(t, "GET", base+name+"?token="+tok, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private, max-age=") {
			t.Errorf("%s with the token: %d %q", name, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	trackURL := base + "thumbnails.vtt?token=" + tok
	var etags []string
	for _, enc := range []string{"identity", "gzip"} {
		resp, body := do(t, "GET", trackURL, map[string]string{"Accept-Encoding": enc})
		if enc == "gzip" {
			body = gunzip(t, body)
		}
		want := "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite_0.jpg?token=" + tok + "#xywh=0,0,160,90\n"
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("%s track: %d\n%q\nwant %q", enc, resp.StatusCode, body, want)
		}
		etags = append(etags, resp.Header.Get("ETag"))
	}
	open, _ := do(t, "GET", base+"thumbnails.vtt?token="+signer.Token(id, t0.Add(-time.Minute)), nil)
	if etags[0] == etags[1] || open.Header.Get("ETag") == etags[0] {
		t.Errorf("one ETag for different bytes: %v, %s", etags, open.Header.Get("ETag"))
	}
	// The sheet URI, resolved against the track's URL as players do.
	ref, _ := url.Parse(trackURL)
	sheet, _ := ref.Parse("sprite_0.jpg?token=" + tok + "#xywh=0,0,160,90")
	if resp, body := do(t, "GET", sheet.String(), nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != TypeJPEG || !bytes.HasPrefix(body, []byte("\xff\xd8\xff")) {
		t.Errorf("GET %s = %d", sheet, resp.StatusCode)
	}
}
