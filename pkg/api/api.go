// Package api is the JSON of hlsd's HTTP API: what /api/videos answers,
// what webhooks carry and what the command line client reads. It is not the
// record the workers keep (pkg/video): the gateway maps one to the other in
// one place (gateway.present), so no internal field (leases, per-chunk
// bookkeeping) is published, and the OpenAPI document is tested against
// these types. It imports nothing of hlsd, so a client needs nothing else.
package api

import "time"

// Video is a video as the API shows it.
type Video struct {
	ID       string   `json:"id"`
	State    State    `json:"state"`
	Progress float64  `json:"progress"` // 0..1 over the whole pipeline
	Failure  *Failure `json:"failure,omitempty"`
	Filename string   `json:"filename,omitempty"` // as the client named it; display only
	Size     int64    `json:"size"`               // of the upload, bytes
	Source   *Source  `json:"source,omitempty"`
	// Renditions are the video's renditions, audio included, once planned.
	Renditions []Rendition `json:"renditions,omitempty"`
	// Subtitles are the video's WebVTT subtitle renditions: the source's
	// text tracks, and files added with POST /api/videos/{id}/subtitles.
	Subtitles  []Subtitle  `json:"subtitles,omitempty"`
	Thumbnails *Thumbnails `json:"thumbnails,omitempty"`
	// Chunks is how many pieces the video is encoded in (encoders take
	// them in parallel).
	Chunks int `json:"chunks,omitempty"`
	// QueuePosition, while the video waits to start (uploaded), is its
	// place among the uploads waiting: 1 when none is ahead of it. Start
	// work (a plan, a first chunk) goes before every later chunk of the
	// videos already encoding, so it says how soon encoding begins.
	QueuePosition int `json:"queue_position,omitempty"`
	// PlayableAt is when the master playlist first appeared: players could
	// start while the rest was encoded.
	PlayableAt *time.Time `json:"playable_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ReadyAt    *time.Time `json:"ready_at,omitempty"`

	StatusURL     string `json:"status_url"`
	MasterURL     string `json:"master_url,omitempty"` // once playable, signed when playback is
	DASHURL       string `json:"dash_url,omitempty"`   // CMAF videos, once ready: the same segments as DASH
	PosterURL     string `json:"poster_url,omitempty"`
	ThumbnailsURL string `json:"thumbnails_url,omitempty"` // a WebVTT storyboard track
}

// State is where a video is in the pipeline.
type State string

// The states of a video, in order; ready and failed are final.
const (
	StateUploaded   State = "uploaded"
	StateEncoding   State = "encoding"
	StateSegmenting State = "segmenting"
	StateReady      State = "ready"
	StateFailed     State = "failed"
)

// Final reports whether the video's processing has ended.
func (s State) Final() bool { return s == StateReady || s == StateFailed }

// Failure says why a video failed, in one sentence for the uploader.
type Failure struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Source holds facts about the uploaded file.
type Source struct {
	Format     string  `json:"format"`
	Duration   float64 `json:"duration"`
	Width      int     `json:"width,omitempty"` // display size, after rotation and aspect ratio
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	VideoCodec string  `json:"video_codec,omitempty"`
	AudioCodec string  `json:"audio_codec,omitempty"`
	// Interlaced: the source's frames are interlaced; the renditions are
	// deinterlaced.
	Interlaced bool `json:"interlaced,omitempty"`
	// HDR names the source's HDR transfer, "pq" or "hlg" ("" for SDR); the
	// renditions are tone-mapped to SDR.
	HDR string `json:"hdr,omitempty"`
	// Captions: the source carries CEA-608/708 closed captions, kept in
	// every video rendition (CLOSED-CAPTIONS in the master).
	Captions bool `json:"captions,omitempty"`
	// AudioTracks is how many audio tracks the video keeps, each an audio
	// rendition.
	AudioTracks int `json:"audio_tracks,omitempty"`
	// Notes say what the video left out of the source, one sentence each.
	Notes []string `json:"notes,omitempty"`
}

// Rendition is one rendition of the ladder, or of the audio group.
type Rendition struct {
	Name      string  `json:"name"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	FrameRate float64 `json:"frame_rate,omitempty"`
	// Filled in when the rendition is segmented:
	Done             bool    `json:"done"`
	Codecs           string  `json:"codecs,omitempty"`
	Bandwidth        int     `json:"bandwidth,omitempty"` // peak segment bit rate, bits/s
	AverageBandwidth int     `json:"average_bandwidth,omitempty"`
	Segments         int     `json:"segments,omitempty"`
	Duration         float64 `json:"duration,omitempty"`
	// The I-frame playlist's bit rates; 0 when it has none (audio-only).
	IFrameBandwidth        int `json:"iframe_bandwidth,omitempty"`
	IFrameAverageBandwidth int `json:"iframe_average_bandwidth,omitempty"`
	Channels               int `json:"channels,omitempty"` // of an audio rendition
	// An audio rendition's language (BCP 47), the name players show, and
	// whether players start with it; characteristics as Apple names them
	// ("public.accessibility.describes-video" for an audio description).
	Language        string `json:"language,omitempty"`
	Label           string `json:"label,omitempty"`
	Default         bool   `json:"default,omitempty"`
	Characteristics string `json:"characteristics,omitempty"`
}

// Subtitle is one subtitle rendition of a video.
type Subtitle struct {
	// ID names it in the API (DELETE /api/videos/{id}/subtitles/{sid})
	// and in the stream's paths; a replaced file gets a new one.
	ID       string `json:"id"`
	Language string `json:"language,omitempty"` // BCP 47
	Label    string `json:"label"`              // the name players show
	Default  bool   `json:"default,omitempty"`  // shown unless the viewer turns it off
	// Forced subtitles translate only what the audio does not; players
	// show them without being asked.
	Forced          bool   `json:"forced,omitempty"`
	HearingImpaired bool   `json:"hearing_impaired,omitempty"` // SDH: sounds described too
	Origin          string `json:"origin"`                     // "source" (a track of the upload) or "upload" (added)
	Cues            int    `json:"cues"`
	// PlaylistURL is its media playlist, signed when playback is; set
	// once the video is playable.
	PlaylistURL string `json:"playlist_url,omitempty"`
}

// Thumbnails says which pictures a video has.
type Thumbnails struct {
	Poster   bool `json:"poster"`
	Interval int  `json:"interval,omitempty"` // seconds between storyboard thumbnails
	Count    int  `json:"count,omitempty"`
	Sprites  int  `json:"sprites,omitempty"`
	Width    int  `json:"width,omitempty"` // of one thumbnail, pixels
	Height   int  `json:"height,omitempty"`
}

// Page is a page of GET /api/videos, newest first.
type Page struct {
	Videos     []Video `json:"videos"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// Error is every error answer of the JSON API: one sentence.
type Error struct {
	Error string `json:"error"`
}
