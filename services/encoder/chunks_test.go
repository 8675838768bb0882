package encoder

import (
	"math"
	"testing"

	"github.com/hlsd/hlsd/pkg/jobs"
)

func TestPlanChunks(t *testing.T) {
	for _, tt := range []struct {
		name     string
		duration float64
		early    float64
		num, den int64
		want     []jobs.Chunk
	}{
		{"shorter than a segment", 2.5, 0, 30, 1, []jobs.Chunk{{Index: 0, Count: 1}}},
		{"a tail under half a second joins", 6.4, 0, 30, 1, []jobs.Chunk{{Index: 0, Count: 1}}},
		{"20 s at 30 fps", 20, 0, 30, 1, []jobs.Chunk{
			{Index: 0, Count: 2, Start: 0, Duration: 6, FirstSegment: 0, Segments: 1, StartFrame: 0, Frames: 180, Boundary: 0},
			{Index: 1, Count: 2, Start: 6, FirstSegment: 1, StartFrame: 180, Boundary: 6},
		}},
		// 29.97: a chunk starts at the first frame at or after its boundary.
		{"60 s at 29.97", 60, 0, 30000, 1001, []jobs.Chunk{
			{Index: 0, Count: 3, Start: 0, Duration: 180 * 1.001 / 30, FirstSegment: 0, Segments: 1, Frames: 180},
			{Index: 1, Count: 3, Start: 180 * 1.001 / 30, Duration: (1079 - 180) * 1.001 / 30, FirstSegment: 1, Segments: 5, StartFrame: 180, Frames: 1079 - 180, Boundary: 6},
			{Index: 2, Count: 3, Start: 1079 * 1.001 / 30, FirstSegment: 6, StartFrame: 1079, Boundary: 36},
		}},
		{"audio only", 40, 0, 0, 0, []jobs.Chunk{
			{Index: 0, Count: 3, Duration: 6, Segments: 1},
			{Index: 1, Count: 3, Start: 6, Duration: 30, FirstSegment: 1, Segments: 5, Boundary: 6},
			{Index: 2, Count: 3, Start: 36, FirstSegment: 6, Boundary: 36},
		}},
		// Early segments of 2 s: 2, 2, 2, then 6, 6…; the first chunk is the
		// first 2 s, the second the other early segments.
		{"60 s at 30 fps, early 2 s", 60, 2, 30, 1, []jobs.Chunk{
			{Index: 0, Count: 4, Duration: 2, Segments: 1, Frames: 60, SegmentDuration: 2},
			{Index: 1, Count: 4, Start: 2, Duration: 4, FirstSegment: 1, Segments: 2, StartFrame: 60, Frames: 120, Boundary: 2, SegmentDuration: 2},
			{Index: 2, Count: 4, Start: 6, Duration: 30, FirstSegment: 3, Segments: 5, StartFrame: 180, Frames: 900, Boundary: 6},
			{Index: 3, Count: 4, Start: 36, FirstSegment: 8, StartFrame: 1080, Boundary: 36},
		}},
		{"8 s, early 2 s", 8, 2, 30, 1, []jobs.Chunk{
			{Index: 0, Count: 3, Duration: 2, Segments: 1, Frames: 60, SegmentDuration: 2},
			{Index: 1, Count: 3, Start: 2, Duration: 4, FirstSegment: 1, Segments: 2, StartFrame: 60, Frames: 120, Boundary: 2, SegmentDuration: 2},
			{Index: 2, Count: 3, Start: 6, FirstSegment: 3, StartFrame: 180, Boundary: 6},
		}},
		{"one segment long: no early segments", 6.4, 2, 30, 1, []jobs.Chunk{{Index: 0, Count: 1}}},
		{"early 4 s does not divide 6: none", 20, 4, 30, 1, []jobs.Chunk{
			{Index: 0, Count: 2, Start: 0, Duration: 6, FirstSegment: 0, Segments: 1, StartFrame: 0, Frames: 180, Boundary: 0},
			{Index: 1, Count: 2, Start: 6, FirstSegment: 1, StartFrame: 180, Boundary: 6},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanChunks(tt.duration, 6, tt.early, tt.num, tt.den)
			if len(got) != len(tt.want) {
				t.Fatalf("%d chunks: %+v", len(got), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if math.Abs(g.Start-w.Start) > 1e-9 || math.Abs(g.Duration-w.Duration) > 1e-9 {
					t.Errorf("chunk %d: start %g duration %g, want %g %g", i, g.Start, g.Duration, w.Start, w.Duration)
				}
				g.Start, g.Duration = w.Start, w.Duration
				if g != w {
					t.Errorf("chunk %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestThumbnailsIn(t *testing.T) {
	chunks := PlanChunks(60, 6, 0, 30000, 1001)
	for _, tt := range []struct {
		chunk, interval, first, count int
	}{
		{0, 2, 0, 3},   // 0 2 4
		{1, 2, 3, 15},  // 6 ... 34
		{2, 2, 18, 12}, // 36 ... 58
		{0, 4, 0, 2},   // 0 4
		{1, 4, 2, 7},   // 8 ... 32
		{2, 4, 9, 6},   // 36 ... 56
	} {
		c := chunks[tt.chunk]
		var next jobs.Chunk
		if !c.Last() {
			next = chunks[tt.chunk+1]
		}
		if first, count := thumbnailsIn(c, next, c.Last(), tt.interval, 60); first != tt.first || count != tt.count {
			t.Errorf("chunk %d every %d s: %d from %d, want %d from %d", tt.chunk, tt.interval, count, first, tt.count, tt.first)
		}
	}
}
