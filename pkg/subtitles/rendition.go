package subtitles

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
)

// VideoClock90k is the MPEG-TS timestamp (90 kHz) of a video's time 0 in
// every hlsd rendition: the encoder's 1 s offset (ffmpeg.TimestampOffset)
// plus the 1.4 s FFmpeg's mpegts muxer puts before the first frame. The
// X-TIMESTAMP-MAP of every WebVTT segment names it, so cue times on the
// video's clock land on the right frames; `hlsd check` holds the first
// video segment to it.
const VideoClock90k = 216000

// WriteRendition writes subtitle rendition name of video id: a WebVTT
// segment for each duration of the grid (the video's segments), then its
// media playlist (VOD: the whole file is known), with the video's target
// duration. Nothing lists the rendition until the caller records it, after
// this returned, and the master is written again.
func WriteRendition(ctx context.Context, st store.Store, id, name string, cues []Cue, grid []float64, target int) error {
	segs := Cut(cues, grid, VideoClock90k)
	list := make([]playlist.Segment, 0, len(segs))
	for i, s := range segs {
		if err := st.Put(ctx, layout.SubtitleSegmentKey(id, name, i), bytes.NewReader(s.Body), int64(len(s.Body))); err != nil {
			return fmt.Errorf("subtitles: segment %d of %s: %w", i, name, err)
		}
		list = append(list, playlist.Segment{URI: layout.SubtitleSegmentName(i), Duration: s.Duration, Size: int64(len(s.Body))})
	}
	body, err := playlist.Media(list, target, playlist.Header{})
	if err != nil {
		return fmt.Errorf("subtitles: playlist of %s: %w", name, err)
	}
	if err := st.Put(ctx, layout.MediaPlaylistKey(id, name), bytes.NewReader(body), int64(len(body))); err != nil {
		return fmt.Errorf("subtitles: playlist of %s: %w", name, err)
	}
	return nil
}

// WebVTT writes cues as one WebVTT file (Parse reads it back as they are).
func WebVTT(cues []Cue) []byte {
	return Cut(cues, []float64{math.MaxFloat64}, 0)[0].Body
}

// Shift moves every cue by d seconds (a source's clock to the video's),
// dropping cues that end before 0 and clamping starts to 0.
func Shift(cues []Cue, d float64) []Cue {
	out := cues[:0:0]
	for _, c := range cues {
		c.Start += d
		c.End += d
		if c.End <= 0 {
			continue
		}
		c.Start = max(c.Start, 0)
		out = append(out, c)
	}
	return out
}
