package video

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// The state machine: every legal step, every forbidden one, and progress
// that only moves forward and reaches 1 with ready only.
func TestVideoStateMachine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &Video{ID: "abcdefghijklmnopqrstuvwx", State: StateUploaded}
	step := func(name string, err error, want error, state State) {
		t.Helper()
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		if v.State != state {
			t.Fatalf("%s: state %s, want %s", name, v.State, state)
		}
	}
	last := 0.0
	moved := func(name string) {
		t.Helper()
		if v.Progress < last {
			t.Fatalf("%s: progress went back from %g to %g", name, last, v.Progress)
		}
		last = v.Progress
	}
	step("ready before anything", v.BecomeReady(now), ErrTransition, StateUploaded)
	step("plan", v.StartEncoding(), nil, StateEncoding)
	step("plan again (redelivered)", v.StartEncoding(), ErrNoChange, StateEncoding)
	step("planned", v.Planned(3, []Rendition{{Name: "360p"}, {Name: "audio"}}, &Source{Format: "mov"}), nil, StateEncoding)
	moved("planned")
	step("progress within a chunk", v.EncodingProgress(0.5), nil, StateEncoding)
	moved("progress within a chunk")
	step("chunk 1", v.ChunkEncoded(1), nil, StateEncoding)
	moved("chunk 1")
	step("chunk 1 again", v.ChunkEncoded(1), ErrNoChange, StateEncoding)
	if err := v.ChunkEncoded(7); err == nil {
		t.Fatal("a chunk that is not planned was marked encoded")
	}
	step("ready while chunks are missing", v.BecomeReady(now), ErrTransition, StateEncoding)
	step("chunk 0", v.ChunkEncoded(0), nil, StateEncoding)
	step("chunk 2, the last", v.ChunkEncoded(2), nil, StateSegmenting)
	moved("chunk 2")
	step("a plan redelivered now", v.StartEncoding(), ErrTransition, StateSegmenting)
	step("planned again now", v.Planned(3, nil, nil), ErrTransition, StateSegmenting)
	v.Renditions[0].Published, v.Renditions[1].Published = 3, 3
	step("published", v.SegmentsPublished(), nil, StateSegmenting)
	moved("published")
	if v.Progress >= 1 {
		t.Fatalf("progress %g before ready", v.Progress)
	}
	step("ready", v.BecomeReady(now), nil, StateReady)
	if v.Progress != 1 || v.ReadyAt == nil || v.PlayableAt == nil || v.Publisher != nil {
		t.Fatalf("ready: %+v", v)
	}
	step("ready again", v.BecomeReady(now), ErrNoChange, StateReady)
	v.Fail(CodeInternal, "late failure")
	step("a ready video does not fail", nil, nil, StateReady)
	step("nor go back to encoding", v.StartEncoding(), ErrTransition, StateReady)
}

func TestFailedIsFinal(t *testing.T) {
	v := &Video{State: StateEncoding, Encoded: make([]bool, 2), Chunks: 2}
	v.Fail(CodeUnsupported, "Not a video.")
	if v.State != StateFailed || v.Failure.Reason != "Not a video." {
		t.Fatalf("%+v", v)
	}
	for name, err := range map[string]error{
		"plan": v.StartEncoding(), "ready": v.BecomeReady(time.Now()),
	} {
		if !errors.Is(err, ErrTransition) || v.State != StateFailed {
			t.Errorf("%s after failing: %v, state %s", name, err, v.State)
		}
	}
	if err := v.ChunkEncoded(0); !errors.Is(err, ErrNoChange) || v.Encoded[0] {
		t.Errorf("a chunk landing after the failure: %v, encoded %v", err, v.Encoded)
	}
	v.Fail(CodeInternal, "again")
	if v.Failure.Reason != "Not a video." {
		t.Errorf("a second failure replaced the first: %q", v.Failure.Reason)
	}
}

// An audio-only video has no video chunks: it is ready from encoding.
func TestAudioOnlyReadyFromEncoding(t *testing.T) {
	v := &Video{State: StateUploaded}
	if err := v.StartEncoding(); err != nil {
		t.Fatal(err)
	}
	// Planned in chunks (the audio's pieces end where chunks would), none
	// of which is ever a video chunk to encode.
	if err := v.Planned(3, []Rendition{{Name: AudioRendition}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.BecomeReady(time.Now()); err != nil || v.State != StateReady {
		t.Fatalf("%v, %s", err, v.State)
	}
}

// A video with video renditions is not ready from encoding, even if its
// renditions say they are done.
func TestVideoNotReadyFromEncoding(t *testing.T) {
	v := &Video{State: StateUploaded}
	_ = v.StartEncoding()
	_ = v.Planned(2, []Rendition{{Name: "360p"}, {Name: AudioRendition}}, nil)
	if err := v.BecomeReady(time.Now()); !errors.Is(err, ErrTransition) {
		t.Fatalf("ready from encoding with video chunks left: %v", err)
	}
}

func TestLabels(t *testing.T) {
	for tag, want := range map[string]string{"en": "English", "fr": "Français", "de": "Deutsch", "pt-BR": "Português", "": ""} {
		if got := LanguageName(tag); got != want {
			t.Errorf("LanguageName(%q) = %q, want %q", tag, got, want)
		}
	}
	used := map[string]bool{}
	var got []string
	for _, l := range []string{"English", "English", "Français", "English"} {
		got = append(got, UniqueLabel(l, used))
	}
	if want := []string{"English", "English 2", "Français", "English 3"}; !slices.Equal(got, want) {
		t.Errorf("UniqueLabel gave %q, want %q", got, want)
	}
}
