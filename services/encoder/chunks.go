package encoder

import (
	"math"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
)

// Chunk sizes, in segments. The first chunk is one segment, so a video is
// playable as soon as its first seconds are encoded; the others are
// ChunkSegments long, which keeps each encode's fixed costs (ffmpeg start,
// seeking, the encoder's lookahead) small beside its work.
const (
	FirstChunkSegments = 1
	ChunkSegments      = 5
)

// minLastChunk is the shortest stretch a last chunk may cover: a shorter
// tail joins the chunk before it, which is then the last.
const minLastChunk = 0.5 // seconds

// PlanChunks cuts a video of duration seconds into chunks on segment
// boundaries. num/den is the output frame rate (0/0 for audio only): a chunk
// then starts at the first frame at or after its boundary, so the chunks'
// frames are exactly those of one encode of the whole video.
//
// With early > 0 (the keyframe interval, dividing segmentDuration at least
// twice) and a video longer than one segment, the first segmentDuration of
// the video is cut into segments of
// early seconds on the keyframe grid — 2, 2, 2, then 6, 6… — and the first
// chunk is the first of them: a third of the work before the video is
// playable. The second chunk holds the other early segments; every chunk
// after it starts on the regular grid. Each chunk's segments are all of one
// length (Chunk.SegmentDuration for the early ones).
func PlanChunks(duration, segmentDuration, early float64, num, den int64) []jobs.Chunk {
	nEarly := 0 // early segments; none for a video of one segment, which is quick anyway
	if n := segmentDuration / early; early > 0 && n >= 2 && math.Abs(n-math.Round(n)) < 1e-9 && duration > segmentDuration+minLastChunk {
		nEarly = int(math.Round(n))
	}
	start := func(s int) float64 { // where segment s starts
		if s <= nEarly {
			return float64(s) * early
		}
		return float64(s-nEarly+min(nEarly, 1)) * segmentDuration
	}
	var firsts []int // first segment of each chunk
	for s := 0; ; {
		firsts = append(firsts, s)
		switch {
		case s == 0:
			s = FirstChunkSegments
		case s < nEarly:
			s = nEarly
		default:
			s += ChunkSegments
		}
		if start(s) >= duration-minLastChunk {
			break
		}
	}
	chunks := make([]jobs.Chunk, len(firsts))
	for i, s := range firsts {
		b := start(s)
		c := jobs.Chunk{Index: i, Count: len(firsts), FirstSegment: s, Boundary: b, Start: b}
		if s < nEarly {
			c.SegmentDuration = early
		}
		if num > 0 && den > 0 {
			c.StartFrame = firstFrameAt(b, num, den)
			c.Start = float64(c.StartFrame) * float64(den) / float64(num)
		}
		chunks[i] = c
	}
	for i := range len(chunks) - 1 {
		c, next := &chunks[i], chunks[i+1]
		c.Segments = next.FirstSegment - c.FirstSegment
		c.Duration = next.Start - c.Start
		if num > 0 && den > 0 {
			c.Frames = next.StartFrame - c.StartFrame
		}
	}
	return chunks
}

// firstFrameAt is the number of the first frame at or after t seconds at
// num/den frames per second.
func firstFrameAt(t float64, num, den int64) int {
	return int(math.Ceil(t*float64(num)/float64(den) - 1e-6))
}

// thumbnailsIn says which storyboard thumbnails (one at every multiple of
// interval seconds of a video of duration seconds) fall in chunk c: the
// first one's number, and how many.
func thumbnailsIn(c, next jobs.Chunk, last bool, interval int, duration float64) (first, count int) {
	first = int(math.Ceil(c.Boundary/float64(interval) - 1e-9))
	if last {
		return first, max(ffmpeg.ThumbnailCount(duration, interval)-first, 0)
	}
	return first, int(math.Ceil(next.Boundary/float64(interval)-1e-9)) - first
}
