package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/video"
)

// contentBase is where players reach the content service: ContentURL, or
// the origin the request came to.
func (gw *Gateway) contentBase(r *http.Request) string {
	if base := strings.TrimSuffix(gw.ContentURL, "/"); base != "" {
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

func (gw *Gateway) playbackToken(id string) string {
	now := time.Now
	if gw.Now != nil {
		now = gw.Now
	}
	return playbackToken(gw.Signer, id, now())
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

// present is a video as the API shows it (GET /api/videos, webhooks): the
// record's public facts, and the URLs of what it has published (see
// streamURLs), under base and signed with token. The one place a record
// becomes an answer.
func present(v video.Video, base, token string) api.Video {
	out := api.Video{
		ID: v.ID, State: api.State(v.State), Progress: v.Progress, Filename: v.Filename, Size: v.Size,
		Chunks: v.Chunks, PlayableAt: v.PlayableAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, ReadyAt: v.ReadyAt,
		StatusURL: "/api/videos/" + v.ID,
	}
	if f := v.Failure; f != nil {
		out.Failure = &api.Failure{Code: f.Code, Reason: f.Reason}
	}
	if s := v.Source; s != nil {
		out.Source = &api.Source{Format: s.Format, Duration: s.Duration, Width: s.Width, Height: s.Height, FrameRate: s.FrameRate,
			VideoCodec: s.VideoCodec, AudioCodec: s.AudioCodec, Interlaced: s.Interlaced, HDR: s.HDR, Captions: v.HasCaptions(), AudioTracks: v.AudioTracks(), Notes: s.Notes}
	}
	for _, r := range v.Renditions {
		out.Renditions = append(out.Renditions, api.Rendition{Name: r.Name, Width: r.Width, Height: r.Height, FrameRate: r.FrameRate,
			Done: r.Done, Codecs: r.Codecs, Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth, Segments: r.Segments,
			Duration: r.Duration, IFrameBandwidth: r.IFrameBandwidth, IFrameAverageBandwidth: r.IFrameAverageBandwidth, Channels: r.Channels,
			Language: r.Language, Label: r.Label, Default: r.Default, Characteristics: r.Characteristics})
	}
	for _, st := range v.Subtitles {
		out.Subtitles = append(out.Subtitles, presentSubtitle(v, st, base, token))
	}
	if t := v.Thumbnails; t != nil {
		out.Thumbnails = &api.Thumbnails{Poster: t.Poster, Interval: t.Interval, Count: t.Count, Sprites: t.Sprites, Width: t.Width, Height: t.Height}
	}
	if base != "" {
		out.MasterURL, out.PosterURL, out.ThumbnailsURL = streamURLs(v, base, token)
		if v.DASH && v.State == video.StateReady {
			out.DASHURL = streamURL(base, v.ID, layout.DASHManifestName, token)
		}
	}
	return out
}

// presentSubtitle is a subtitle rendition as the API shows it.
func presentSubtitle(v video.Video, st video.Subtitle, base, token string) api.Subtitle {
	out := api.Subtitle{ID: st.ID, Language: st.Language, Label: st.Label, Default: st.Default, Forced: st.Forced,
		HearingImpaired: st.HearingImpaired, Origin: st.Origin, Cues: st.Cues}
	if base != "" && v.Playable() {
		out.PlaylistURL = streamURL(base, v.ID, st.ID+"/index.m3u8", token)
	}
	return out
}

// streamURLs are the URLs of what a video has published: the master
// playlist once it is playable (its later chunks may still be encoding),
// and the poster and storyboard track when it has them, all signed with the
// one token.
func streamURLs(v video.Video, base, token string) (master, poster, thumbnails string) {
	if !v.Playable() {
		return "", "", ""
	}
	master = streamURL(base, v.ID, "master.m3u8", token)
	if v.Thumbnails.HasPoster() {
		poster = streamURL(base, v.ID, layout.PosterName, token)
	}
	if v.Thumbnails.HasStoryboard() {
		thumbnails = streamURL(base, v.ID, layout.ThumbnailsName, token)
	}
	return master, poster, thumbnails
}
