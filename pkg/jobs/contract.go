// Package jobs is the contract between hlsd's services: the JetStream streams,
// subjects and consumers, the messages they carry, and the video state kept in
// a JetStream key-value bucket. Every service imports it; nothing else defines
// a subject or a message.
package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/profiles"
)

// Streams, subjects and durable consumers. Each stage has a work-queue stream
// (a message is removed once acked) and one durable pull consumer shared by
// all workers of that stage.
const (
	StreamEncode    = "HLSD_ENCODE"
	SubjectEncode   = "hlsd.jobs.encode" // plans and video chunks
	ConsumerEncoder = "encoder"
	// Audio jobs share the encode stream on their own subject and consumer,
	// so a long audio encode never waits behind (or holds up) video chunks.
	SubjectAudio      = "hlsd.jobs.audio"
	ConsumerAudio     = "audio-encoder"
	StreamSegment     = "HLSD_SEGMENT"
	SubjectSegment    = "hlsd.jobs.segment"
	ConsumerSegmenter = "segmenter"
	BucketVideos      = "hlsd_videos"
)

// Chunk is the time range of a video a job covers. A video is planned as
// chunks on segment boundaries (the first one segment long, so the video is
// playable soon, then ChunkSegments each); encoders take any chunk, and the
// playlists grow as chunks land.
type Chunk struct {
	Index    int     `json:"index"`
	Count    int     `json:"count"`
	Start    float64 `json:"start"`    // seconds, on the output frame grid
	Duration float64 `json:"duration"` // seconds; 0 means to the end
	// FirstSegment is the number of the chunk's first segment, and Segments
	// how many it is cut into (0 for the last chunk: as many as it holds).
	FirstSegment int `json:"first_segment"`
	Segments     int `json:"segments"`
	// Frames is the number of video frames of the chunk on the output frame
	// grid (0: to the end); StartFrame the grid number of its first.
	StartFrame int `json:"start_frame"`
	Frames     int `json:"frames"`
	// Boundary is the segment boundary the chunk starts at (FirstSegment
	// times the segment duration); Start is the first frame at or after it.
	Boundary float64 `json:"boundary"`
}

// Last reports whether c is the last chunk of its video.
func (c Chunk) Last() bool { return c.Index == c.Count-1 }

// Parts of a video's encoding, as EncodeJob.Part names them.
const (
	PartPlan  = ""      // probe, plan the renditions and chunks, queue the rest
	PartVideo = "video" // one chunk of every video rendition
	PartAudio = "audio" // the audio rendition, whole, published chunk by chunk
)

// EncodeJob asks an encoder to do one part of a video's encoding. The
// ladder travels with the job, so a video is encoded with the profiles in
// force when it was uploaded, whatever file an encoder has.
type EncodeJob struct {
	VideoID   string            `json:"video_id"`
	SourceKey string            `json:"source_key"`
	Profiles  profiles.Profiles `json:"profiles"`
	Part      string            `json:"part,omitempty"`
	Chunk     Chunk             `json:"chunk"`
	// Chunks is the whole plan, for the audio part (its pieces end where
	// the video chunks do).
	Chunks []Chunk `json:"chunks,omitempty"`
	// Thumbnails is the storyboard interval in seconds (video chunks; 0 for
	// none).
	Thumbnails int `json:"thumbnails,omitempty"`
	// Combed is what the plan found in a source not flagged interlaced
	// (video chunks): "tff" or "bff" if its frames are interlaced all the
	// same (ffmpeg.DetectCombing), so every chunk deinterlaces alike.
	Combed string `json:"combed,omitempty"`
	// Duration is the source's length as the plan measured it from its
	// packets (ffmpeg.ScanPackets), when that is shorter than its
	// container claims: chunk and audio jobs believe it, not the claim.
	Duration float64 `json:"duration,omitempty"`
}

// SegmentJob asks a segmenter to cut one rendition's transport stream.
type SegmentJob struct {
	VideoID         string  `json:"video_id"`
	Rendition       string  `json:"rendition"`
	Key             string  `json:"key"` // work/{id}/{rendition}/{chunk}.ts
	SegmentDuration float64 `json:"segment_duration"`
	Chunk           Chunk   `json:"chunk"`
	// Encryption is the video's profiles.Encryption: "aes-128" makes the
	// segmenter encrypt each segment with the key at EncryptionKeyKey; ""
	// or "none" leaves segments in the clear. The key itself never travels
	// in a message.
	Encryption string `json:"encryption,omitempty"`
}

// MsgID makes publishes idempotent: a retried publish of the same job within
// the stream's duplicate window is dropped by JetStream.
func (j EncodeJob) MsgID() string {
	switch j.Part {
	case PartPlan:
		return "encode." + j.VideoID + ".plan"
	case PartAudio:
		return "encode." + j.VideoID + ".audio"
	}
	return fmt.Sprintf("encode.%s.%s.%d", j.VideoID, j.Part, j.Chunk.Index)
}

// Subject is where the job is published.
func (j EncodeJob) Subject() string {
	if j.Part == PartAudio {
		return SubjectAudio
	}
	return SubjectEncode
}

// MsgID makes publishes idempotent.
func (j SegmentJob) MsgID() string {
	return fmt.Sprintf("segment.%s.%s.%d", j.VideoID, j.Rendition, j.Chunk.Index)
}

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
	// Channels of the audio rendition.
	Channels int `json:"channels,omitempty"`
}

// AudioRendition names the audio rendition: the audio group every video
// rendition plays with, or the only rendition of an audio-only source.
const AudioRendition = "audio"

// Contiguous is how many chunks from the first are segmented, without a gap.
func (r *Rendition) Contiguous() int {
	n := 0
	for n < len(r.Segmented) && r.Segmented[n] {
		n++
	}
	return n
}

// Video is the state of one upload, the value stored in BucketVideos under its id.
type Video struct {
	ID         string      `json:"id"`
	State      State       `json:"state"`
	Progress   float64     `json:"progress"` // 0..1 over the whole pipeline
	Failure    *Failure    `json:"failure,omitempty"`
	Filename   string      `json:"filename,omitempty"` // as the client named it; display only
	Size       int64       `json:"size"`
	Source     *Source     `json:"source,omitempty"`
	Renditions []Rendition `json:"renditions,omitempty"`
	// Thumbnails are set by the encoder when it made a poster or storyboard.
	Thumbnails *Thumbnails `json:"thumbnails,omitempty"`
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

// AllRenditionsDone reports whether every planned rendition is segmented.
func (v *Video) AllRenditionsDone() bool {
	if len(v.Renditions) == 0 {
		return false
	}
	for _, r := range v.Renditions {
		if !r.Done {
			return false
		}
	}
	return true
}

// CleanFilename keeps a user's file name safe to show: printable, short.
func CleanFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return name
}
