package jobs

import (
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

// Video events: one message when a video reaches a final state, published by
// whichever worker put it there, consumed by the gateways that deliver
// webhooks. The stream is a work queue with one durable consumer, so each
// event is delivered by exactly one gateway however many run.
const (
	StreamEvents      = "HLSD_EVENTS"
	SubjectVideoEvent = "hlsd.events.video"
	ConsumerWebhooks  = "webhooks"
	// EventsMaxAge is how long an event waits for a gateway that delivers
	// webhooks (none configured, all down) before it is dropped.
	EventsMaxAge = 72 * time.Hour
)

// Event types (the "type" of a webhook).
const (
	EventVideoReady  = "video.ready"
	EventVideoFailed = "video.failed"
)

// VideoEvent says a video reached a final state.
type VideoEvent struct {
	// ID is the same for every publish of one event and different for every
	// event: a video reaches one final state once.
	ID        string      `json:"id"`
	Type      string      `json:"type"`
	CreatedAt time.Time   `json:"created_at"`
	Video     video.Video `json:"video"` // the state that made it final
}

// NewVideoEvent describes v's final state; ok is false for a video that is
// not in one.
func NewVideoEvent(v video.Video, now time.Time) (e VideoEvent, ok bool) {
	var typ, short string
	switch v.State {
	case video.StateReady:
		typ, short = EventVideoReady, "ready"
	case video.StateFailed:
		typ, short = EventVideoFailed, "failed"
	default:
		return VideoEvent{}, false
	}
	return VideoEvent{ID: "evt_" + v.ID + "_" + short, Type: typ, CreatedAt: now.UTC(), Video: v}, true
}

// MsgID drops a repeated publish of the same event.
func (e VideoEvent) MsgID() string { return e.ID }
