// Package playlist writes hlsd's HLS playlists with grafov/m3u8, adding what
// the library leaves to the caller: target durations rounded as RFC 8216
// requires, INDEPENDENT-SEGMENTS on media playlists, measured bandwidths.
package playlist

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

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

// mapTag is EXT-X-INDEPENDENT-SEGMENTS followed by an EXT-X-MAP, with a
// quoted BYTERANGE if it has one (grafov leaves it unquoted, which RFC 8216
// 4.3.2.5 does not allow). One tag for both: grafov keeps custom tags in a
// map, and two would come out in random order, so a rewritten playlist
// would differ. A Size of 0 is a whole file: a CMAF init segment.
type mapTag struct{ f IFrame }

func (m mapTag) TagName() string { return "#EXT-X-INDEPENDENT-SEGMENTS" }
func (m mapTag) String() string {
	if m.f.Size == 0 {
		return fmt.Sprintf("#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"%s\"", m.f.URI)
	}
	return fmt.Sprintf("#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"%s\",BYTERANGE=\"%d@%d\"", m.f.URI, m.f.Size, m.f.Offset)
}
func (m mapTag) Encode() *bytes.Buffer                 { return bytes.NewBufferString(m.String()) }
func (m mapTag) Decode(string) (m3u8.CustomTag, error) { return m, nil }

// Key is the one EXT-X-KEY of a media playlist whose every segment is
// encrypted whole with AES-128-CBC and PKCS#7 padding under one key.
//
// The tag has no IV attribute, on purpose: each segment's IV is then its
// media sequence number as a 128-bit big-endian integer (RFC 8216 5.2),
// which is what the segmenter encrypts with (SegmentIV). One tag covers the
// whole playlist, no two segments share an IV, and a playlist that grows
// (EVENT) needs no new tag per segment.
type Key struct {
	// URI of the key, relative to the playlist, so that a server rewriting
	// URIs (signed playback tokens) reaches it like any segment URI.
	URI string
}

// SegmentIV is the IV of the segment with media sequence number seq when
// its EXT-X-KEY has no IV attribute (RFC 8216 5.2). Our media playlists
// start at sequence 0, so a segment's sequence number is its index.
func SegmentIV(seq uint64) [16]byte {
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], seq)
	return iv
}

// Header is what a media playlist says before its segments.
type Header struct {
	// Key, if set, adds #EXT-X-KEY:METHOD=AES-128.
	Key *Key
	// Map, if set, is the URI of the segments' initialization segment
	// (CMAF: fragmented MP4), written as EXT-X-MAP; the playlist then says
	// version 7 (EXT-X-MAP needs 6).
	Map string
}

// Media renders a finished (VOD) media playlist. Its target duration is
// target (the configured segment duration), raised if a segment needs it:
// so a video shorter than one target still says the same target as every
// other (Apple's authoring spec wants 6 s throughout).
func Media(segs []Segment, target int, h Header) ([]byte, error) {
	return media(segs, target, h, m3u8.VOD)
}

// Event renders the media playlist of a video still being encoded: an
// EVENT playlist (RFC 8216 4.3.3.5) without EXT-X-ENDLIST, to which later
// versions only append, until Media writes the finished one.
func Event(segs []Segment, target int, h Header) ([]byte, error) {
	return media(segs, target, h, m3u8.EVENT)
}

func media(segs []Segment, target int, h Header, typ m3u8.MediaType) ([]byte, error) {
	key := h.Key
	if len(segs) == 0 {
		return nil, fmt.Errorf("playlist: no segments")
	}
	p, err := m3u8.NewMediaPlaylist(0, uint(len(segs)))
	if err != nil {
		return nil, fmt.Errorf("playlist: %w", err)
	}
	p.SetVersion(3) // floating-point EXTINF
	p.MediaType = typ
	p.SetCustomTag(independentSegments{})
	if h.Map != "" {
		if strings.ContainsAny(h.Map, "\"\r\n") {
			return nil, fmt.Errorf("playlist: map URI %q cannot be written in a quoted attribute", h.Map)
		}
		p.SetCustomTag(mapTag{IFrame{URI: h.Map}})
		p.SetVersion(7)
	}
	if key != nil {
		if key.URI == "" || strings.ContainsAny(key.URI, "\"\r\n") {
			return nil, fmt.Errorf("playlist: key URI %q cannot be written in a quoted attribute", key.URI)
		}
		// With no IV and no KEYFORMAT, version 1 would do; we say 3.
		if err := p.SetDefaultKey("AES-128", key.URI, "", "", ""); err != nil {
			return nil, fmt.Errorf("playlist: %w", err)
		}
	}
	for _, s := range segs {
		if s.Duration <= 0 {
			return nil, fmt.Errorf("playlist: segment %s has duration %g", s.URI, s.Duration)
		}
		if err := p.Append(s.URI, s.Duration, ""); err != nil {
			return nil, fmt.Errorf("playlist: %w", err)
		}
	}
	// grafov ceils the target; RFC 8216 wants at least the rounded maximum.
	p.TargetDuration = float64(max(target, TargetDuration(segs)))
	if typ == m3u8.VOD {
		p.Close()
	}
	// grafov follows EVENT with EXT-X-ALLOW-CACHE, which RFC 8216 removed.
	return bytes.Replace(p.Encode().Bytes(), []byte("#EXT-X-ALLOW-CACHE:NO\n"), nil, 1), nil
}

// Durations reads the segment durations (EXTINF) and the target duration
// of a media playlist: the segment grid a subtitle rendition added later is
// cut on, and the target it says too.
func Durations(body []byte) ([]float64, int, error) {
	p, typ, err := m3u8.DecodeFrom(bytes.NewReader(body), true)
	if err != nil {
		return nil, 0, fmt.Errorf("playlist: %w", err)
	}
	media, ok := p.(*m3u8.MediaPlaylist)
	if !ok || typ != m3u8.MEDIA {
		return nil, 0, fmt.Errorf("playlist: not a media playlist")
	}
	var ds []float64
	for _, s := range media.Segments {
		if s != nil {
			ds = append(ds, s.Duration)
		}
	}
	if len(ds) == 0 {
		return nil, 0, fmt.Errorf("playlist: no segments")
	}
	return ds, int(math.Round(media.TargetDuration)), nil
}

// Written is a duration as an EXTINF of ours shows it: grafov/m3u8 prints
// three decimals of a float32. Bit rates are computed from this value, so
// a player (or checker) dividing a segment's size by its EXTINF never finds
// more than the BANDWIDTH we declare.
func Written(d float64) float64 {
	w, err := strconv.ParseFloat(strconv.FormatFloat(d, 'f', 3, 32), 64)
	if err != nil {
		return d
	}
	return w
}

// Bandwidth measures a rendition as Apple's authoring spec defines it: the
// peak is the largest bit rate of any one segment, the average is total bits
// over total duration. Both in bits per second, rounded up.
func Bandwidth(segs []Segment) (peak, average int) {
	var bits, dur float64
	for _, s := range segs {
		d := Written(s.Duration)
		if d <= 0 {
			continue
		}
		b := float64(s.Size) * 8
		peak = max(peak, int(math.Ceil(b/d)))
		bits += b
		dur += d
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
	// VideoRange is "PQ" or "HLG" for an HDR variant; "" says SDR.
	VideoRange string
	// The rendition's I-frame playlist, if it has one (video only).
	IFrames *IFrameVariant
}

// AudioGroupID names the one audio group of our masters.
const AudioGroupID = "audio"

// AudioRendition is one rendition of the audio group every variant plays
// with (one per audio track of the source). The variants' BANDWIDTH,
// AVERAGE-BANDWIDTH and CODECS must already include the group's largest
// (RFC 8216 4.3.4.2).
type AudioRendition struct {
	// URI is its media playlist; "" for audio carried in the variants
	// themselves (an audio-only video's first track).
	URI      string
	Name     string // what a player's menu shows; unique in the group
	Language string // BCP 47, or ""
	Channels int
	Default  bool // exactly one in the group
	// Autoselect lets a player pick it by the viewer's language; at most
	// one rendition per LANGUAGE and CHARACTERISTICS should have it.
	Autoselect      bool
	Characteristics string
}

// CaptionsGroupID names the closed-captions group of our masters.
const CaptionsGroupID = "cc"

// Captions are CEA-608 closed captions carried in the video itself (SEI of
// every H.264 rendition), on one channel.
type Captions struct {
	Name       string // what a player's menu shows
	Language   string // BCP 47, or "" if unknown
	InstreamID string // "CC1".."CC4" (CEA-608) or "SERVICE1".. (CEA-708)
}

// SubtitlesGroupID names the subtitles group of our masters.
const SubtitlesGroupID = "subs"

// SubtitleRendition is one WebVTT subtitle rendition (RFC 8216 3.5) of the
// subtitles group every video variant names.
type SubtitleRendition struct {
	URI      string // its media playlist
	Name     string // what a player's menu shows; unique in the group
	Language string // BCP 47, or ""
	Default  bool   // at most one in the group
	// Autoselect lets a player pick it by the viewer's language; Forced
	// marks subtitles meant to show with no choice made (foreign dialogue
	// only), which RFC 8216 lets only subtitles be.
	Autoselect, Forced bool
	Characteristics    string
}

// mediaTags are the master's EXT-X-MEDIA tags, written by us rather than
// grafov/m3u8, which has no CHANNELS attribute (Apple's authoring spec
// wants it on every audio rendition). grafov keeps one custom tag per
// name, so this one writes them all, a line each.
type mediaTags struct {
	audio     []AudioRendition
	captions  *Captions
	subtitles []SubtitleRendition
}

func (t mediaTags) TagName() string { return "#EXT-X-MEDIA" }
func (t mediaTags) String() string {
	lines := make([]string, 0, len(t.audio)+1)
	for _, r := range t.audio {
		var b strings.Builder
		fmt.Fprintf(&b, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="%s"`, AudioGroupID)
		if r.Language != "" {
			fmt.Fprintf(&b, `,LANGUAGE="%s"`, r.Language)
		}
		fmt.Fprintf(&b, `,NAME="%s",DEFAULT=%s,AUTOSELECT=%s`, r.Name, yesNo(r.Default), yesNo(r.Autoselect || r.Default))
		if r.Characteristics != "" {
			fmt.Fprintf(&b, `,CHARACTERISTICS="%s"`, r.Characteristics)
		}
		fmt.Fprintf(&b, `,CHANNELS="%d"`, r.Channels)
		if r.URI != "" {
			fmt.Fprintf(&b, `,URI="%s"`, r.URI)
		}
		lines = append(lines, b.String())
	}
	if c := t.captions; c != nil {
		var b strings.Builder
		fmt.Fprintf(&b, `#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="%s"`, CaptionsGroupID)
		if c.Language != "" {
			fmt.Fprintf(&b, `,LANGUAGE="%s"`, c.Language)
		}
		fmt.Fprintf(&b, `,NAME="%s",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="%s"`, c.Name, c.InstreamID)
		lines = append(lines, b.String())
	}
	for _, r := range t.subtitles {
		var b strings.Builder
		fmt.Fprintf(&b, `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="%s"`, SubtitlesGroupID)
		if r.Language != "" {
			fmt.Fprintf(&b, `,LANGUAGE="%s"`, r.Language)
		}
		// RFC 8216 4.3.4.1: AUTOSELECT must be YES where DEFAULT is.
		fmt.Fprintf(&b, `,NAME="%s",DEFAULT=%s,AUTOSELECT=%s,FORCED=%s`, r.Name, yesNo(r.Default), yesNo(r.Autoselect || r.Default), yesNo(r.Forced))
		if r.Characteristics != "" {
			fmt.Fprintf(&b, `,CHARACTERISTICS="%s"`, r.Characteristics)
		}
		fmt.Fprintf(&b, `,URI="%s"`, r.URI)
		lines = append(lines, b.String())
	}
	return strings.Join(lines, "\n")
}

func (t mediaTags) Encode() *bytes.Buffer                 { return bytes.NewBufferString(t.String()) }
func (t mediaTags) Decode(string) (m3u8.CustomTag, error) { return t, nil }

// instreamIDRe: CEA-608 channels and CEA-708 services (RFC 8216 4.3.4.1).
var instreamIDRe = regexp.MustCompile(`^(CC[1-4]|SERVICE([1-9]|[1-5][0-9]|6[0-3]))$`)

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// checkAudio refuses a group that would make a wrong master: values that
// cannot be quoted, NAMEs used twice, not exactly one DEFAULT.
func checkAudio(rs []AudioRendition) error {
	names := map[string]bool{}
	defaults := 0
	for _, r := range rs {
		for _, v := range []string{r.URI, r.Name, r.Language, r.Characteristics} {
			if strings.ContainsAny(v, "\"\r\n") {
				return fmt.Errorf("playlist: audio rendition value %q cannot be quoted", v)
			}
		}
		if r.Name == "" || names[r.Name] || r.Channels <= 0 {
			return fmt.Errorf("playlist: audio rendition %q (%s, %d channels): a NAME must be set and unique, CHANNELS positive", r.Name, r.URI, r.Channels)
		}
		names[r.Name] = true
		if r.Default {
			defaults++
		}
	}
	if len(rs) > 0 && defaults != 1 {
		return fmt.Errorf("playlist: %d audio renditions are DEFAULT=YES; want one", defaults)
	}
	return nil
}

// checkSubtitles refuses a group that would make a wrong master: values
// that cannot be quoted, NAMEs used twice, no URI, more than one DEFAULT.
func checkSubtitles(rs []SubtitleRendition) error {
	names := map[string]bool{}
	defaults := 0
	for _, r := range rs {
		for _, v := range []string{r.URI, r.Name, r.Language, r.Characteristics} {
			if strings.ContainsAny(v, "\"\r\n") {
				return fmt.Errorf("playlist: subtitle rendition value %q cannot be quoted", v)
			}
		}
		if r.Name == "" || names[r.Name] || r.URI == "" {
			return fmt.Errorf("playlist: subtitle rendition %q (%s): a NAME must be set and unique, and a URI given", r.Name, r.URI)
		}
		names[r.Name] = true
		if r.Default {
			defaults++
		}
	}
	if defaults > 1 {
		return fmt.Errorf("playlist: %d subtitle renditions are DEFAULT=YES; want at most one", defaults)
	}
	return nil
}

// IFrameVariant is a rendition's I-frame playlist as the master lists it.
type IFrameVariant struct {
	URI                         string
	Bandwidth, AverageBandwidth int
	Codecs                      string // the video codec only
}

// Master renders the master playlist. Variants are listed with the one a
// player should start with first (the best under ~2.5 Mbit/s, a sound start
// on most connections, per Apple's authoring guidance), then the rest by
// ascending bandwidth.
//
// The audio renditions, if any, are listed with EXT-X-MEDIA, and every
// variant names their group. Video variants name the closed-captions
// group, or say CLOSED-CAPTIONS=NONE when cc is nil (Apple's authoring spec:
// a player need not look for captions that are not there).
//
// Subtitle renditions, if any, are listed too, and every video variant
// names their group (an audio-only video lists none: there is no picture
// to show them on, and the players we test show none).
func Master(vs []Variant, audio []AudioRendition, cc *Captions, subs ...SubtitleRendition) ([]byte, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("playlist: no variants")
	}
	ordered := startFirst(vs)
	p := m3u8.NewMasterPlaylist()
	p.SetVersion(3)
	p.SetIndependentSegments(true)
	if err := checkAudio(audio); err != nil {
		return nil, err
	}
	if c := cc; c != nil && (c.Name == "" || !instreamIDRe.MatchString(c.InstreamID) || strings.ContainsAny(c.Name+c.Language, "\"\r\n")) {
		return nil, fmt.Errorf("playlist: closed captions %+v cannot be written", *c)
	}
	if err := checkSubtitles(subs); err != nil {
		return nil, err
	}
	if len(audio) > 0 || cc != nil || len(subs) > 0 {
		p.SetCustomTag(mediaTags{audio, cc, subs})
	}
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
			// Said, though SDR is the default, so players need not guess.
			params.VideoRange = cmp.Or(v.VideoRange, "SDR")
			params.Captions = "NONE"
			if cc != nil {
				params.Captions = CaptionsGroupID
			}
		}
		if len(audio) > 0 {
			params.Audio = AudioGroupID
		}
		if len(subs) > 0 && v.Width > 0 {
			params.Subtitles = SubtitlesGroupID
		}
		p.Append(v.URI, nil, params)
	}
	// EXT-X-I-FRAME-STREAM-INF lines follow, in the same order.
	for _, v := range ordered {
		if v.IFrames == nil {
			continue
		}
		if v.IFrames.Bandwidth <= 0 || v.IFrames.Codecs == "" || v.Width <= 0 {
			return nil, fmt.Errorf("playlist: I-frame variant %s lacks BANDWIDTH, CODECS or RESOLUTION", v.IFrames.URI)
		}
		p.Append(v.IFrames.URI, nil, m3u8.VariantParams{
			ProgramId:        1,
			Iframe:           true,
			Bandwidth:        uint32(v.IFrames.Bandwidth),
			AverageBandwidth: uint32(v.IFrames.AverageBandwidth),
			Codecs:           v.IFrames.Codecs,
			Resolution:       strconv.Itoa(v.Width) + "x" + strconv.Itoa(v.Height),
			VideoRange:       cmp.Or(v.VideoRange, "SDR"),
		})
	}
	return p.Encode().Bytes(), nil
}

// IFrame is one keyframe of a rendition: a byte range of a segment.
type IFrame struct {
	URI          string  // the segment holding it
	Offset, Size int64   // its bytes in the segment
	Duration     float64 // until the next keyframe (or the end of the video)
}

// IFrames renders an I-frame playlist (RFC 8216 4.3.3.6). header names the
// MPEG-TS header (PAT/PMT) that must precede any of the ranges, as an
// EXT-X-MAP; every segment of ours starts with the same one. For CMAF it is
// the init segment, a whole file (Size 0), and each range a fragment
// holding one keyframe.
func IFrames(frames []IFrame, header IFrame) ([]byte, error) {
	if len(frames) == 0 {
		return nil, fmt.Errorf("playlist: no I-frames")
	}
	p, err := m3u8.NewMediaPlaylist(0, uint(len(frames)))
	if err != nil {
		return nil, fmt.Errorf("playlist: %w", err)
	}
	p.SetIframeOnly()
	p.SetCustomTag(mapTag{header})
	p.SetVersion(5) // a map in an I-frame playlist needs version 5
	if header.Size == 0 {
		p.SetVersion(7) // as the CMAF media playlist says
	}
	p.MediaType = m3u8.VOD
	segs := make([]Segment, 0, len(frames))
	for _, f := range frames {
		if f.Duration <= 0 || f.Size <= 0 {
			return nil, fmt.Errorf("playlist: I-frame at %s@%d has duration %g, size %d", f.URI, f.Offset, f.Duration, f.Size)
		}
		if err := p.Append(f.URI, f.Duration, ""); err != nil {
			return nil, fmt.Errorf("playlist: %w", err)
		}
		if err := p.SetRange(f.Size, f.Offset); err != nil {
			return nil, fmt.Errorf("playlist: %w", err)
		}
		segs = append(segs, Segment{URI: f.URI, Duration: f.Duration, Size: f.Size})
	}
	p.TargetDuration = float64(TargetDuration(segs))
	p.Close()
	return p.Encode().Bytes(), nil
}

// IFrameBandwidth measures an I-frame playlist like Bandwidth does a
// rendition: each I-frame's bytes over its duration.
func IFrameBandwidth(frames []IFrame) (peak, average int) {
	segs := make([]Segment, len(frames))
	for i, f := range frames {
		segs[i] = Segment{URI: f.URI, Duration: f.Duration, Size: f.Size}
	}
	return Bandwidth(segs)
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

// inProgressComment ends a master playlist written while its renditions are
// still growing (EVENT playlists). Players ignore comments; the content
// service reads it to cache the master briefly, as it will be rewritten
// with the final bit rates and I-frame playlists.
const inProgressComment = "# hlsd: in progress, rewritten when the video is ready\n"

// MarkInProgress marks a master playlist as written before the video is
// complete.
func MarkInProgress(master []byte) []byte {
	return append(bytes.Clone(master), inProgressComment...)
}

// InProgress reports whether a playlist will still change: an EVENT media
// playlist, or a master marked by MarkInProgress.
func InProgress(body []byte) bool {
	return bytes.Contains(body, []byte("\n#EXT-X-PLAYLIST-TYPE:EVENT\n")) || bytes.HasSuffix(body, []byte(inProgressComment))
}
