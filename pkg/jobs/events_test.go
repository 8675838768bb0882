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
