// Package playlist writes hlsd's HLS playlists with grafov/m3u8, adding what
// the library leaves to the caller: target durations rounded as RFC 8216
// requires, INDEPENDENT-SEGMENTS on media playlists, measured bandwidths.
package playlist

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/grafov/m3u8"
)

// Segment is one media segment of a rendition.
type Segment struct {
	URI      string
	Duration float64 // seconds, from PTS
	Size     int64   // bytes
}

// TargetDuration is the largest segment duration rounded to the nearest
// integer (RFC 8216 4.3.3.1), never below 1.
func TargetDuration(segs []Segment) int {
	t := 1
	for _, s := range segs {
		t = max(t, int(math.Round(s.Duration)))
	}
	return t
}

// independentSegments is a media-playlist EXT-X-INDEPENDENT-SEGMENTS tag,
// which grafov/m3u8 only writes on master playlists.
type independentSegments struct{}

func (independentSegments) TagName() string { return "#EXT-X-INDEPENDENT-SEGMENTS" }
func (independentSegments) Encode() *bytes.Buffer {
	return bytes.NewBufferString("#EXT-X-INDEPENDENT-SEGMENTS")
}
func (independentSegments) String() string                          { return "#EXT-X-INDEPENDENT-SEGMENTS" }
func (t independentSegments) Decode(string) (m3u8.CustomTag, error) { return t, nil }

// Media renders a finished (VOD) media playlist.
func Media(segs []Segment) ([]byte, error) {
	if len(segs) == 0 {
		return nil, fmt.Errorf("playlist: no segments")
	}
	p, err := m3u8.NewMediaPlaylist(0, uint(len(segs)))
	if err != nil {
		return nil, fmt.Errorf("playlist: %w", err)
	}
	p.SetVersion(3) // floating-point EXTINF
	p.MediaType = m3u8.VOD
	p.SetCustomTag(independentSegments{})
	for _, s := range segs {
		if s.Duration <= 0 {
			return nil, fmt.Errorf("playlist: segment %s has duration %g", s.URI, s.Duration)
		}
		if err := p.Append(s.URI, s.Duration, ""); err != nil {
			return nil, fmt.Errorf("playlist: %w", err)
		}
	}
	// grafov ceils the target; RFC 8216 wants the rounded maximum.
	p.TargetDuration = float64(TargetDuration(segs))
	p.Close()
	return p.Encode().Bytes(), nil
}

// Bandwidth measures a rendition as Apple's authoring spec defines it: the
// peak is the largest bit rate of any one segment, the average is total bits
// over total duration. Both in bits per second, rounded up.
func Bandwidth(segs []Segment) (peak, average int) {
	var bits, dur float64
	for _, s := range segs {
		if s.Duration <= 0 {
			continue
		}
		b := float64(s.Size) * 8
		peak = max(peak, int(math.Ceil(b/s.Duration)))
		bits += b
		dur += s.Duration
	}
	if dur > 0 {
		average = int(math.Ceil(bits / dur))
	}
	return peak, average
}

// Variant is one rendition as the master playlist lists it.
type Variant struct {
	URI              string
	Bandwidth        int
	AverageBandwidth int
	Codecs           string // "avc1.64001f,mp4a.40.2"
	Width, Height    int    // 0 for audio-only
	FrameRate        float64
}

// Master renders the master playlist. Variants are listed with the one a
// player should start with first (the best under ~2.5 Mbit/s, a sound start
// on most connections, per Apple's authoring guidance), then the rest by
// ascending bandwidth.
func Master(vs []Variant) ([]byte, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("playlist: no variants")
	}
	ordered := startFirst(vs)
	p := m3u8.NewMasterPlaylist()
	p.SetVersion(3)
	p.SetIndependentSegments(true)
	for _, v := range ordered {
		if v.Bandwidth <= 0 || v.Codecs == "" {
			return nil, fmt.Errorf("playlist: variant %s lacks BANDWIDTH or CODECS", v.URI)
		}
		params := m3u8.VariantParams{
			ProgramId:        1,
			Bandwidth:        uint32(v.Bandwidth),
			AverageBandwidth: uint32(v.AverageBandwidth),
			Codecs:           v.Codecs,
		}
		if v.Width > 0 && v.Height > 0 {
			params.Resolution = strconv.Itoa(v.Width) + "x" + strconv.Itoa(v.Height)
			params.FrameRate = math.Round(v.FrameRate*1000) / 1000
		}
		p.Append(v.URI, nil, params)
	}
	return p.Encode().Bytes(), nil
}

func startFirst(vs []Variant) []Variant {
	sorted := append([]Variant(nil), vs...)
	for i := 1; i < len(sorted); i++ { // insertion sort: a handful of variants
		for j := i; j > 0 && sorted[j].Bandwidth < sorted[j-1].Bandwidth; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	start := 0
	for i, v := range sorted {
		if v.Bandwidth <= 2_500_000 {
			start = i
		}
	}
	return append([]Variant{sorted[start]}, append(sorted[:start:start], sorted[start+1:]...)...)
}
