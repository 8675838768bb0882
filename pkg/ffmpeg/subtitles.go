package ffmpeg

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"
)

// SubtitleStream is a subtitle track of a source.
type SubtitleStream struct {
	Index int
	Codec string // as ffprobe names it: "subrip", "ass", "mov_text", "hdmv_pgs_subtitle"…
	Start float64
	// What the file says of the track (see AudioStream).
	Language, Title string
	Default         bool
	// Forced: shown without being asked (foreign dialogue only).
	Forced bool
	// HearingImpaired: subtitles for the deaf and hard of hearing (SDH).
	HearingImpaired bool
}

// textSubtitleCodecs are the subtitle codecs FFmpeg decodes to text, and
// so can write as WebVTT: the text formats, a QuickTime closed-caption
// track (eia_608, a c608 track of a .mov), and broadcast DVB teletext (its
// subtitle pages, read as text by libzvbi). The others (PGS, DVB
// subtitles, VobSub) are pictures.
var textSubtitleCodecs = map[string]bool{
	"subrip": true, "srt": true, "ass": true, "ssa": true, "mov_text": true, "webvtt": true, "text": true,
	"microdvd": true, "subviewer": true, "subviewer1": true, "realtext": true, "sami": true, "mpl2": true,
	"pjs": true, "vplayer": true, "jacosub": true, "stl": true, "eia_608": true, "dvb_teletext": true,
}

// Text reports whether the track is text, which hlsd turns into WebVTT.
func (s SubtitleStream) Text() bool { return textSubtitleCodecs[s.Codec] }

// VideoClockOrigin is the source timestamp (seconds) that is the video's
// time 0: the file's first timestamp, which ffmpeg subtracts from what it
// reads, unless the chunks read a remux of the kept tracks (remuxed), whose
// clock starts at the first of those. 0 if unknown.
func (s Source) VideoClockOrigin(remuxed bool) float64 {
	origin := s.Start
	if remuxed && !s.ClockFromTracks() {
		origin = math.Inf(1)
		if s.Video != nil {
			origin = s.Video.Start
		}
		for _, a := range s.Audios {
			origin = min(origin, a.Start)
		}
	}
	if math.IsNaN(origin) || math.IsInf(origin, 0) {
		return 0
	}
	return origin
}

// ExtractSubtitles writes each of the source's text subtitle tracks as a
// WebVTT file in dir ("subtitles-<i>.vtt" for tracks[i]), reading the file
// once, with the source's own timestamps (-copyts: the caller moves them
// to the video's clock, see VideoClockOrigin). If one track cannot be
// converted, the others are tried alone; the paths of the failed ones
// are "" and their errors are returned beside.
func ExtractSubtitles(ctx context.Context, input string, src Source, tracks []SubtitleStream, dir string, timeout time.Duration) ([]string, []error) {
	paths := make([]string, len(tracks))
	errs := make([]error, len(tracks))
	for i := range tracks {
		paths[i] = filepath.Join(dir, fmt.Sprintf("subtitles-%d.vtt", i))
	}
	args := func(which []int) []string {
		a := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-copyts"}
		a = append(a, inputArgs(src)...)
		for _, i := range which {
			if tracks[i].Codec == "dvb_teletext" {
				// libzvbi's decoder: text, not pictures, and only the
				// pages the broadcaster marks as subtitles (not the
				// magazine's news and weather).
				a = append(a, "-txt_format", "text", "-txt_page", "subtitle")
				break
			}
		}
		if src.Format != "" {
			a = append(a, "-f", src.Format)
		}
		a = append(a, "-i", "file:"+input)
		for _, i := range which {
			a = append(a, "-map", fmt.Sprintf("0:%d", tracks[i].Index), "-c:s", "webvtt", "-f", "webvtt", "file:"+paths[i])
		}
		return a
	}
	all := make([]int, len(tracks))
	for i := range all {
		all[i] = i
	}
	if len(tracks) == 0 || run(ctx, orDefault(timeout), "ffmpeg", args(all), nil) == nil {
		return paths, errs
	}
	for i := range tracks {
		if err := run(ctx, orDefault(timeout), "ffmpeg", args([]int{i}), nil); err != nil {
			paths[i], errs[i] = "", fmt.Errorf("subtitle track %d (%s): %w", tracks[i].Index, tracks[i].Codec, err)
		}
	}
	return paths, errs
}
