// Package jobs is the contract between hlsd's services: the JetStream streams,
// subjects and consumers, and the messages they carry (EncodeJob,
// SegmentJob, VideoEvent). Every service imports it; nothing else defines a
// subject or a message. How the messages travel is pkg/queue; the video
// record they are about is pkg/video.
package jobs

import (
	"fmt"

	"github.com/hlsd/hlsd/pkg/profiles"
)

// Streams, subjects and durable consumers. Each stage has a work-queue stream
// (a message is removed once acked) and one durable pull consumer shared by
// all workers of that stage.
const (
	StreamEncode = "HLSD_ENCODE"
	// Start work — a video's plan and its first chunk — has a subject of
	// its own, which encoders drain before later chunks: a new upload is
	// playable soon however many long videos are encoding. Later chunks
	// are released a few at a time per video (EncodeJob.Window), so videos
	// in progress share the encoders round-robin.
	SubjectEncode        = "hlsd.jobs.encode" // plans and first chunks
	ConsumerEncoder      = "encoder"
	SubjectEncodeShort   = "hlsd.jobs.encode.short" // the other chunks of a short video
	ConsumerEncoderShort = "encoder-short"
	SubjectEncodeLater   = "hlsd.jobs.encode.later" // every other video chunk
	ConsumerEncoderLater = "encoder-later"
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
// chunks on segment boundaries (the first one short segment, so the video
// is playable soon, then several segments each: encoder.PlanChunks);
// encoders take any chunk, and the playlists grow as chunks land.
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
	// Boundary is the segment boundary the chunk starts at; Start is the
	// first frame at or after it.
	Boundary float64 `json:"boundary"`
	// SegmentDuration is the length of the chunk's segments when it is not
	// the profile's: the first seconds of a video are cut into shorter
	// segments, so it is playable sooner (encoder.PlanChunks).
	SegmentDuration float64 `json:"segment_duration,omitempty"`
}

// Last reports whether c is the last chunk of its video.
func (c Chunk) Last() bool { return c.Index == c.Count-1 }

// Parts of a video's encoding, as EncodeJob.Part names them.
const (
	PartPlan  = ""      // probe, plan the renditions and chunks, queue the rest
	PartVideo = "video" // one chunk of every video rendition
	PartAudio = "audio" // the audio rendition, whole, published chunk by chunk
	// PartSubtitles turns the source's text subtitle tracks into WebVTT
	// renditions: demuxing only, so it runs in the audio lane (its own
	// slots, never behind video chunks).
	PartSubtitles = "subtitles"
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
	// Window is how many later chunks of the video are queued at a time
	// (0: DefaultChunkWindow), set by the plan for all its chunks.
	Window int `json:"window,omitempty"`
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
	// Container is the video's profiles.Container: "cmaf" makes the
	// segmenter write fragmented MP4 (an init segment, .m4s segments);
	// "" or "ts" MPEG-TS.
	Container string `json:"container,omitempty"`
	// Revision is, for a master-only job (MasterOnly), the video's
	// subtitles revision that asked for it.
	Revision int `json:"revision,omitempty"`
}

// MasterOnly reports whether the job asks only for the master playlist to
// be written again (the video's subtitles changed), not for a chunk to be
// cut. One for a video still encoding carries its SegmentDuration and
// Encryption: the round that writes the master may grow its media
// playlists too.
func (j SegmentJob) MasterOnly() bool { return j.Rendition == "" }

// MsgID makes publishes idempotent: a retried publish of the same job within
// the stream's duplicate window is dropped by JetStream.
func (j EncodeJob) MsgID() string {
	switch j.Part {
	case PartPlan:
		return "encode." + j.VideoID + ".plan"
	case PartAudio, PartSubtitles:
		return "encode." + j.VideoID + "." + j.Part
	}
	return fmt.Sprintf("encode.%s.%s.%d", j.VideoID, j.Part, j.Chunk.Index)
}

// Subject is where the job is published, in the order encoders take them:
// start work (a plan, a first chunk), then the other chunks of short
// videos (at most ShortVideoChunks: a minute or so, so short uploads finish
// soon beside a long one), then later chunks of longer ones.
func (j EncodeJob) Subject() string {
	switch {
	case j.Part == PartAudio, j.Part == PartSubtitles:
		return SubjectAudio
	case j.Part != PartVideo || j.Chunk.Index == 0:
		return SubjectEncode
	case len(j.Chunks) <= ShortVideoChunks:
		return SubjectEncodeShort
	}
	return SubjectEncodeLater
}

// ShortVideoChunks: a video of at most this many chunks (66 s with the
// default segments: 2 s, 4 s, 30 s, 30 s) is short, and all its chunks are
// taken right after start work.
const ShortVideoChunks = 4

// DefaultChunkWindow is how many later chunks of one video are queued at a
// time (EncodeJob.Window): the plan queues chunks 1 to Window, and each
// later chunk, once encoded, queues the one Window after it (NextChunk). A
// long video thus never has more than Window jobs ahead of another
// video's, and up to Window encoders (plus one on its first chunk) work on
// it at once.
const DefaultChunkWindow = 4

// window is j's chunk window.
func (j EncodeJob) window() int {
	if j.Window > 0 {
		return j.Window
	}
	return DefaultChunkWindow
}

// FirstChunks is how many chunks the plan queues: the first, and a window
// of later ones.
func (j EncodeJob) FirstChunks() int { return min(len(j.Chunks), 1+j.window()) }

// NextChunk is the job an encoded video chunk releases, if any: the chunk
// Window after it (the first chunk releases none: the plan queued chunks 1
// to Window).
func (j EncodeJob) NextChunk() (EncodeJob, bool) {
	next := j.Chunk.Index + j.window()
	if j.Part != PartVideo || j.Chunk.Index == 0 || next >= len(j.Chunks) {
		return EncodeJob{}, false
	}
	n := j
	n.Chunk = j.Chunks[next]
	return n, true
}

// MsgID makes publishes idempotent.
func (j SegmentJob) MsgID() string {
	if j.MasterOnly() {
		return fmt.Sprintf("segment.%s.master.%d", j.VideoID, j.Revision)
	}
	return fmt.Sprintf("segment.%s.%s.%d", j.VideoID, j.Rendition, j.Chunk.Index)
}
