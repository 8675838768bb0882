package jobs

import (
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

func TestVideoEventIDs(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for state, want := range map[video.State]string{video.StateReady: EventVideoReady, video.StateFailed: EventVideoFailed} {
		e, ok := NewVideoEvent(video.Video{ID: "abc", State: state}, now)
		if !ok || e.Type != want || e.ID != "evt_abc_"+string(state) || !e.CreatedAt.Equal(now) || e.Video.ID != "abc" {
			t.Errorf("%s: %+v %v", state, e, ok)
		}
	}
	for _, s := range []video.State{video.StateUploaded, video.StateEncoding, video.StateSegmenting, ""} {
		if _, ok := NewVideoEvent(video.Video{ID: "abc", State: s}, now); ok {
			t.Errorf("an event for a video in state %q", s)
		}
	}
}

// Plans and first chunks are start work; later chunks go on their own
// subject, released Window at a time.
func TestChunkSubjectsAndWindow(t *testing.T) {
	chunks := make([]Chunk, 6)
	for i := range chunks {
		chunks[i] = Chunk{Index: i, Count: len(chunks)}
	}
	job := func(part string, i int) EncodeJob {
		return EncodeJob{VideoID: "v", Part: part, Chunk: chunks[i], Chunks: chunks, Window: 2}
	}
	for _, tc := range []struct {
		job     EncodeJob
		subject string
		next    int // -1: releases none
	}{
		{job(PartPlan, 0), SubjectEncode, -1},
		{job(PartAudio, 0), SubjectAudio, -1},
		{job(PartVideo, 0), SubjectEncode, -1},
		{job(PartVideo, 1), SubjectEncodeLater, 3},
		{job(PartVideo, 3), SubjectEncodeLater, 5},
		{job(PartVideo, 4), SubjectEncodeLater, -1},
		{job(PartVideo, 5), SubjectEncodeLater, -1},
		// A short video: its first chunk is start work, the others come next.
		{EncodeJob{Part: PartVideo, Chunk: chunks[0], Chunks: chunks[:ShortVideoChunks], Window: 2}, SubjectEncode, -1},
		{EncodeJob{Part: PartVideo, Chunk: chunks[2], Chunks: chunks[:ShortVideoChunks], Window: 2}, SubjectEncodeShort, -1},
	} {
		if got := tc.job.Subject(); got != tc.subject {
			t.Errorf("%s chunk %d: subject %s, want %s", tc.job.Part, tc.job.Chunk.Index, got, tc.subject)
		}
		next, ok := tc.job.NextChunk()
		if ok != (tc.next >= 0) || ok && (next.Chunk.Index != tc.next || next.Part != PartVideo || len(next.Chunks) != len(chunks)) {
			t.Errorf("%s chunk %d releases %+v (%v), want chunk %d", tc.job.Part, tc.job.Chunk.Index, next.Chunk, ok, tc.next)
		}
	}
	if n := job(PartVideo, 0).FirstChunks(); n != 3 {
		t.Errorf("a window of 2 over 6 chunks: the plan queues %d, want 3", n)
	}
	if n := (EncodeJob{Chunks: chunks}).FirstChunks(); n != 1+DefaultChunkWindow {
		t.Errorf("the default window: the plan queues %d, want %d", n, 1+DefaultChunkWindow)
	}
	if n := (EncodeJob{Chunks: chunks[:2]}).FirstChunks(); n != 2 {
		t.Errorf("two chunks: the plan queues %d, want 2", n)
	}
}
