package playlist

import (
	"bytes"
	"fmt"
	"math"
)

// Sheet is one storyboard sheet: a grid of thumbnails, Columns wide, the
// first being thumbnail number First (from 0 at the video's start).
type Sheet struct {
	Name    string // relative to the track, e.g. sprite_3.jpg
	First   int
	Count   int
	Columns int
}

// StoryboardVTT is the WebVTT track of a chunked storyboard: one cue per
// thumbnail, thumbnail k from k*interval for interval seconds (the last
// one until duration), naming its place in its sheet.
func StoryboardVTT(sheets []Sheet, interval, w, h int, duration float64) []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	end := int64(math.Round(duration * 1000))
	total := 0
	for _, s := range sheets {
		total = max(total, s.First+s.Count)
	}
	for _, s := range sheets {
		for j := range s.Count {
			k := s.First + j
			from := int64(k) * int64(interval) * 1000
			if from >= end {
				break
			}
			to := min(from+int64(interval)*1000, end)
			if k == total-1 {
				to = end
			}
			fmt.Fprintf(&b, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", vttTime(from), vttTime(to), s.Name,
				j%s.Columns*w, j/s.Columns*h, w, h)
		}
	}
	return b.Bytes()
}

// vttTime writes milliseconds as HH:MM:SS.mmm.
func vttTime(ms int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
