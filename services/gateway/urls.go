package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/playback"
)

// contentBase is where players reach the content service: ContentURL, or
// the origin the request came to.
func (d Deps) contentBase(r *http.Request) string {
	if base := strings.TrimSuffix(d.ContentURL, "/"); base != "" {
		return base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// playbackToken is a fresh token for video id, or "" when playback is not
// signed.
func playbackToken(s *playback.Signer, id string, now time.Time) string {
	if s == nil {
		return ""
	}
	return s.Token(id, now)
}

func (d Deps) playbackToken(id string) string {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	return playbackToken(d.Signer, id, now())
}

// streamURL is the absolute URL of a video's file under /streams/{id}/,
// carrying token if there is one.
func streamURL(base, id, name, token string) string {
	u := base + "/streams/" + id + "/" + name
	if token != "" {
		u = playback.AddToken(u, token)
	}
	return u
}

// setStreamURLs gives a video the URLs of what it has published: the master
// playlist once it is playable (its later chunks may still be encoding),
// and the poster and storyboard track when it has them, all signed with the
// one token.
func (out *videoJSON) setStreamURLs(base, token string) {
	v := &out.Video
	if !v.Playable() {
		return
	}
	out.MasterURL = streamURL(base, v.ID, "master.m3u8", token)
	if v.Thumbnails.HasPoster() {
		out.PosterURL = streamURL(base, v.ID, jobs.PosterName, token)
	}
	if v.Thumbnails.HasStoryboard() {
		out.ThumbnailsURL = streamURL(base, v.ID, jobs.ThumbnailsName, token)
	}
}
