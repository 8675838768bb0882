// Package video is a video's record: what hlsd knows of one upload (its
// state, source facts, renditions, failure), the state machine every change
// goes through (state.go), and the key-value bucket the records live in
// (records.go). Every service that reads or changes a video imports it.
package video

import (
	"strconv"
	"strings"
	"time"
)

// Bucket is the JetStream key-value bucket of the records, one per video id.
const Bucket = "hlsd_videos"

// State is where a video is in the pipeline.
type State string

const (
	StateUploaded   State = "uploaded"
	StateEncoding   State = "encoding"
	StateSegmenting State = "segmenting"
	StateReady      State = "ready"
	StateFailed     State = "failed"
)

// Final reports whether no further work will change the state.
func (s State) Final() bool { return s == StateReady || s == StateFailed }

// Failure codes tell clients what kind of problem ended a video.
const (
	CodeTooLarge      = "too_large"
	CodeUnsupported   = "unsupported_format"
	CodeNoMedia       = "no_media"
	CodeLimitExceeded = "limit_exceeded"
	CodeEncodeFailed  = "encode_failed"
	CodeInternal      = "internal"
)

// Failure explains a failed video in one sentence for the person who uploaded it.
type Failure struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Source holds facts about the uploaded file, from ffprobe.
type Source struct {
	Format     string  `json:"format"`
	Duration   float64 `json:"duration"`
	Width      int     `json:"width,omitempty"` // display size, after rotation and aspect ratio
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	VideoCodec string  `json:"video_codec,omitempty"`
	AudioCodec string  `json:"audio_codec,omitempty"`
	// Interlaced: the source's frames are interlaced (flagged, or found
	// combed); the renditions are deinterlaced.
	Interlaced bool `json:"interlaced,omitempty"`
	// HDR names the source's HDR transfer, "pq" or "hlg" ("" for SDR); the
	// renditions are tone-mapped to SDR.
	HDR string `json:"hdr,omitempty"`
	// Notes are sentences for the uploader about what the video left out
	// of the source (tracks past a limit, say).
	Notes []string `json:"notes,omitempty"`
}

// Rendition is one variant of a video, planned by the encoder and completed
// by the segmenter.
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
	// Segmented marks the chunks the segmenter finished; Published is how
	// many chunks (from the first, without a gap) the media playlist lists.
	Segmented []bool `json:"segmented,omitempty"`
	Published int    `json:"published,omitempty"`
	// Channels of an audio rendition.
	Channels int `json:"channels,omitempty"`
	// An audio rendition's place in the audio group, from the source's
	// track (set by the plan): Language is a BCP 47 tag ("" if the track
	// has none), Label the name people read ("English", "Français", or the
	// track's title), Default the one a player starts with, Characteristics
	// Apple's media characteristics ("public.accessibility.describes-video"
	// for an audio description).
	Language        string `json:"language,omitempty"`
	Label           string `json:"label,omitempty"`
	Default         bool   `json:"default,omitempty"`
	Characteristics string `json:"characteristics,omitempty"`
	// Captions: the segmenter found CEA-608/708 closed captions in the
	// rendition's video (pkg/mpegts Info.Captions), kept from the source.
	Captions bool `json:"captions,omitempty"`
	// VideoRange: "PQ" or "HLG" for an HDR rendition (an HDR source's
	// HEVC or AV1), as its bitstream says; "" is SDR.
	VideoRange string `json:"video_range,omitempty"`
}

// Subtitle is one WebVTT subtitle rendition of a video: a text track of
// the source, or a file added through the API. Its playlist and segments
// are under streams/{id}/{ID}/; they are written whole before the record
// lists it, so a master that lists it never points at a partial one.
type Subtitle struct {
	// ID names the rendition and its directory, "subtitles-N", N never
	// used twice in a video (Video.SubtitlesRevision): a replaced file
	// gets a new one, so a player holding the old master still finds
	// what it lists until it is deleted.
	ID       string `json:"id"`
	Language string `json:"language,omitempty"` // BCP 47, "" if unknown
	Label    string `json:"label"`              // what a player's menu shows; unique in the video
	Default  bool   `json:"default,omitempty"`
	// Forced subtitles translate only what the audio does not (foreign
	// dialogue, signs): players show them without being asked.
	Forced bool `json:"forced,omitempty"`
	// HearingImpaired (SDH) subtitles also describe sounds.
	HearingImpaired bool `json:"hearing_impaired,omitempty"`
	// Origin is "source" (a text track of the upload) or "upload" (added
	// through the API).
	Origin string `json:"origin"`
	Cues   int    `json:"cues"`
}

// Subtitle origins.
const (
	SubtitlesFromSource = "source"
	SubtitlesUploaded   = "upload"
)

// SubtitleID names the subtitle rendition made at revision n.
func SubtitleID(n int) string { return "subtitles-" + strconv.Itoa(n) }

// IsSubtitle reports whether a name is a subtitle rendition's.
func IsSubtitle(name string) bool { return strings.HasPrefix(name, "subtitles-") }

// MasterStale reports whether the subtitles changed since the master
// playlist was last written: a publisher must write it again.
func (v *Video) MasterStale() bool { return v.MasterRevision < v.SubtitlesRevision }

// AudioTracks is how many audio renditions the video has: one per audio
// track of the source it keeps.
func (v *Video) AudioTracks() int {
	n := 0
	for _, r := range v.Renditions {
		if IsAudio(r.Name) {
			n++
		}
	}
	return n
}

// HasCaptions reports whether the video renditions carry closed captions.
func (v *Video) HasCaptions() bool {
	for _, r := range v.Renditions {
		if r.Captions && !IsAudio(r.Name) {
			return true
		}
	}
	return false
}

// AudioRendition names the first audio rendition: with the others
// (AudioRenditionName), the audio group every video rendition plays with,
// or an audio-only source's renditions.
const AudioRendition = "audio"

// AudioRenditionName names the audio rendition of the source's i-th kept
// audio track (from 0): "audio", "audio-2", "audio-3"…
func AudioRenditionName(i int) string {
	if i == 0 {
		return AudioRendition
	}
	return AudioRendition + "-" + strconv.Itoa(i+1)
}

// IsAudio reports whether a rendition name is an audio rendition's.
func IsAudio(name string) bool {
	return name == AudioRendition || strings.HasPrefix(name, AudioRendition+"-")
}

// Contiguous is how many chunks from the first are segmented, without a gap.
func (r *Rendition) Contiguous() int {
	n := 0
	for n < len(r.Segmented) && r.Segmented[n] {
		n++
	}
	return n
}

// Video is the state of one upload, the value stored in Bucket under its id.
type Video struct {
	ID         string      `json:"id"`
	State      State       `json:"state"`
	Progress   float64     `json:"progress"` // 0..1 over the whole pipeline
	Failure    *Failure    `json:"failure,omitempty"`
	Filename   string      `json:"filename,omitempty"` // as the client named it; display only
	Size       int64       `json:"size"`
	Source     *Source     `json:"source,omitempty"`
	Renditions []Rendition `json:"renditions,omitempty"`
	// Subtitles are the video's subtitle renditions. SubtitlesRevision
	// counts their changes (and numbers their IDs); MasterRevision is the
	// revision the published master lists (MasterStale).
	Subtitles         []Subtitle `json:"subtitles,omitempty"`
	SubtitlesRevision int        `json:"subtitles_revision,omitempty"`
	MasterRevision    int        `json:"master_revision,omitempty"`
	// PendingSubtitles are files sent with the upload (their IDs taken
	// already), kept under uploads/{id}/ until the encoder's subtitles job
	// cuts them beside the source's tracks, on the video's segment grid.
	PendingSubtitles []Subtitle `json:"pending_subtitles,omitempty"`
	// SubtitlesPending: the plan found text subtitle tracks in the source,
	// and the job turning them into renditions has not finished; the video
	// becomes ready only after it.
	SubtitlesPending bool `json:"subtitles_pending,omitempty"`
	// Thumbnails are set by the encoder when it made a poster or storyboard.
	Thumbnails *Thumbnails `json:"thumbnails,omitempty"`
	// DASH: the segmenter wrote a DASH manifest (layout.DASHManifestKey)
	// beside the final master: the video's segments are CMAF.
	DASH bool `json:"dash,omitempty"`
	// Chunks is how many chunks the video is encoded in; Encoded marks the
	// video chunks encoded so far.
	Chunks  int    `json:"chunks,omitempty"`
	Encoded []bool `json:"encoded,omitempty"`
	// PlayableAt is when the master playlist first appeared: every
	// rendition had its first chunk, and players could start while the
	// rest was encoded.
	PlayableAt *time.Time `json:"playable_at,omitempty"`
	// Publisher is the lease of the one segmenter that writes the video's
	// playlists at a time (see segmenter.publish); nil when none does.
	Publisher *Lease     `json:"publisher,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ReadyAt   *time.Time `json:"ready_at,omitempty"`
}

// Lease is held by Owner until Until, unless renewed or released.
type Lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// Held reports whether l is held by someone other than owner at now.
func (l *Lease) Held(owner string, now time.Time) bool {
	return l != nil && l.Owner != owner && now.Before(l.Until)
}

// Playable reports whether the master playlist is published (the video may
// still be encoding its later chunks).
func (v *Video) Playable() bool {
	return v.State == StateReady || v.PlayableAt != nil && v.State != StateFailed
}

// AllRenditionsDone reports whether every planned rendition is segmented,
// and the source's subtitles (if any) are written: the final master can be.
func (v *Video) AllRenditionsDone() bool {
	if len(v.Renditions) == 0 || v.SubtitlesPending {
		return false
	}
	for _, r := range v.Renditions {
		if !r.Done {
			return false
		}
	}
	return true
}
