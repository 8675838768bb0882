package video

import (
	"errors"
	"fmt"
	"time"
)

// A video's life, and the only ways its state changes. Every service
// changes a video through these methods, inside Records.Update (which
// retries them on a compare-and-set conflict), so the rules live here:
//
//	           StartEncoding          ChunkEncoded (the last)        BecomeReady
//	uploaded ───────────────▶ encoding ──────────────────▶ segmenting ───────────▶ ready
//	    │                        │ └──────────── BecomeReady (audio only: no chunks) ───▲
//	    └────────────────────────┴──── Fail ───────────────────┴──────────────────▶ failed
//
// ready and failed are final: nothing changes a final video but its
// deletion. A change that is already done (a redelivered job) returns
// ErrNoChange, which Update takes as "leave it"; a change the machine
// forbids (a plan redelivered after the chunks were encoded would have set
// the video back to encoding) returns ErrTransition.

// ErrTransition is a state change the state machine forbids.
var ErrTransition = errors.New("illegal video state change")

func forbidden(from State, to State) error {
	return fmt.Errorf("%w: %s to %s", ErrTransition, from, to)
}

// StartEncoding is the plan taking the video up: uploaded → encoding.
func (v *Video) StartEncoding() error {
	switch v.State {
	case StateUploaded:
		v.State = StateEncoding
		v.updateProgress(0)
		return nil
	case StateEncoding:
		return ErrNoChange // a redelivered plan: plan again, the same
	default:
		return forbidden(v.State, StateEncoding)
	}
}

// Planned records the plan: its chunks (every one still to encode) and
// renditions. Only while encoding.
func (v *Video) Planned(chunks int, renditions []Rendition, source *Source) error {
	if v.State != StateEncoding {
		return forbidden(v.State, StateEncoding)
	}
	v.Source, v.Renditions = source, renditions
	if v.Chunks != chunks {
		v.Chunks, v.Encoded = chunks, make([]bool, chunks)
	}
	v.updateProgress(0)
	return nil
}

// ChunkEncoded marks chunk i encoded; with the last one the video moves
// on: encoding → segmenting. A chunk encoded again, or for a video that
// has ended (failed meanwhile), changes nothing.
func (v *Video) ChunkEncoded(i int) error {
	switch {
	case v.State.Final():
		return ErrNoChange
	case i < 0 || i >= len(v.Encoded):
		return fmt.Errorf("chunk %d of a video planned in %d", i, len(v.Encoded))
	case v.Encoded[i]:
		return ErrNoChange
	}
	v.Encoded[i] = true
	if v.State == StateEncoding && v.encodedChunks() == len(v.Encoded) {
		v.State = StateSegmenting
	}
	v.updateProgress(0)
	return nil
}

// EncodingProgress records how far the chunk being encoded is (0..1): the
// video's progress moves with it, never back.
func (v *Video) EncodingProgress(fraction float64) error {
	if v.State != StateEncoding {
		return ErrNoChange
	}
	before := v.Progress
	v.updateProgress(fraction)
	if v.Progress == before {
		return ErrNoChange
	}
	return nil
}

// SegmentsPublished moves the progress on after a segmenter published
// more of the video's playlists (Rendition.Published).
func (v *Video) SegmentsPublished() error {
	if v.State.Final() {
		return ErrNoChange
	}
	v.updateProgress(0)
	return nil
}

// BecomeReady is the last step, when every playlist and the final master
// are written: segmenting → ready.
func (v *Video) BecomeReady(now time.Time) error {
	switch {
	case v.State == StateReady:
		return ErrNoChange
	case v.State == StateSegmenting, v.State == StateEncoding && v.audioOnly():
		// (an audio-only video has no video chunks to encode: it goes from
		// encoding to ready once its audio is segmented)
	default:
		return forbidden(v.State, StateReady)
	}
	v.State, v.ReadyAt = StateReady, &now
	if v.PlayableAt == nil {
		v.PlayableAt = &now
	}
	v.Publisher = nil
	v.updateProgress(0)
	return nil
}

// Fail moves v to failed unless it already reached a final state.
func (v *Video) Fail(code, reason string) {
	if v.State.Final() {
		return
	}
	v.State = StateFailed
	v.Failure = &Failure{Code: code, Reason: reason}
}

// audioOnly tells whether the video's renditions are all audio.
func (v *Video) audioOnly() bool {
	return len(v.Renditions) > 0 && v.AudioTracks() == len(v.Renditions)
}

func (v *Video) encodedChunks() int {
	n := 0
	for _, e := range v.Encoded {
		if e {
			n++
		}
	}
	return n
}

// Shares of the progress bar: the plan, the encoding of the chunks, and
// the publishing of their segments; ready is 1.
const (
	progressPlanned   = 0.05
	progressEncoded   = 0.75
	progressPublished = 0.20
)

// updateProgress is the one place progress is worked out: the plan done,
// then the chunks encoded (current: how far the chunk being encoded is),
// then the renditions' chunks published. It never goes back.
func (v *Video) updateProgress(current float64) {
	p := 0.0
	switch {
	case v.State == StateReady:
		p = 1
	case v.Chunks > 0:
		enc := min((float64(v.encodedChunks())+current)/float64(v.Chunks), 1)
		published := 0
		for _, r := range v.Renditions {
			published += r.Published
		}
		pub := 0.0
		if n := v.Chunks * len(v.Renditions); n > 0 {
			pub = min(float64(published)/float64(n), 1)
		}
		// 1 is for ready only: the final master is still to come.
		p = min(progressPlanned+progressEncoded*enc+progressPublished*pub, 0.99)
	}
	v.Progress = max(v.Progress, min(p, 1))
}
