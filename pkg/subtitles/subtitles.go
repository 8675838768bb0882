// Package subtitles reads subtitle files (WebVTT and SubRip, as people
// upload them and as ffmpeg extracts them from a source's text tracks),
// makes them safe to hand to a browser, and cuts them into the WebVTT
// segments of an HLS subtitle rendition (RFC 8216 3.5), on the video's
// segment grid and with the X-TIMESTAMP-MAP that ties them to its MPEG-TS
// clock.
//
// Subtitle files are untrusted input: sizes are bounded, the text must be
// UTF-8 (UTF-16 with a byte order mark is converted; other bytes are read
// as Windows-1252, the Latin-1 superset old SubRip files are written in),
// and only WebVTT's own text markup survives (b, i, u, c, v, lang, ruby,
// rt): anything else, HTML or ASS override tags, is removed.
package subtitles

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Limits on what a subtitle file may hold. A feature film has 1,000–2,000
// cues in 100 KB.
const (
	MaxFileSize = 4 << 20
	MaxCues     = 50_000
	MaxCueText  = 2_000 // bytes of one cue's text
)

// Cue is one subtitle: text shown from Start to End (seconds on the
// video's clock: 0 is its first frame).
type Cue struct {
	Start, End float64
	// Settings are WebVTT cue settings (position, line, align…), kept
	// when they are well formed.
	Settings string
	Text     string // WebVTT cue text, one or more lines, safe markup only
}

// Error is a subtitle file that cannot be used; its text is a sentence for
// the uploader.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// Parse reads a WebVTT or SubRip file (told apart by the WEBVTT header),
// decoding its text first (see Decode). Cues come back sorted by start,
// without empty ones; a file with no cue is an error.
func Parse(b []byte) ([]Cue, error) {
	text, err := Decode(b)
	if err != nil {
		return nil, err
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	cues, err := parseBlocks(text, strings.HasPrefix(text, "WEBVTT"))
	if err != nil {
		return nil, err
	}
	if len(cues) == 0 {
		return nil, refuse("The subtitle file has no cues: it must be WebVTT or SubRip (.srt).")
	}
	slices.SortStableFunc(cues, func(a, b Cue) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	return cues, nil
}

// Decode returns a subtitle file's text as UTF-8: UTF-8 as it is (a byte
// order mark dropped), UTF-16 with a byte order mark converted, anything
// else read as Windows-1252. A file over MaxFileSize, or with NUL bytes
// left (binary data), is refused.
func Decode(b []byte) (string, error) {
	if len(b) > MaxFileSize {
		return "", refuse("The subtitle file is %d bytes; at most %d are allowed.", len(b), MaxFileSize)
	}
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		out, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(b)
		if err != nil {
			return "", refuse("The subtitle file starts as UTF-16 but is not: save it as UTF-8.")
		}
		b = out
	case !utf8.Valid(b):
		out, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err != nil {
			return "", refuse("The subtitle file's text encoding cannot be read: save it as UTF-8.")
		}
		b = out
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", refuse("The subtitle file holds binary data: it must be WebVTT or SubRip text.")
	}
	return string(b), nil
}

// timingRe is a cue's timing line: WebVTT (hh:mm:ss.ttt or mm:ss.ttt) or
// SubRip (hh:mm:ss,ttt), then WebVTT settings.
var timingRe = regexp.MustCompile(`^\s*((?:\d+:)?\d{1,2}:\d{1,2}[.,]\d{1,3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{1,2}[.,]\d{1,3})(.*)$`)

// parseBlocks reads the cue blocks of a file: blank-line separated, each
// with a timing line (after an optional identifier). In WebVTT, the header
// block and NOTE, STYLE and REGION blocks are skipped.
func parseBlocks(text string, vtt bool) ([]Cue, error) {
	var cues []Cue
	for i, block := range strings.Split(text, "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		if vtt && (i == 0 || lines[0] == "NOTE" || strings.HasPrefix(lines[0], "NOTE ") ||
			lines[0] == "STYLE" || lines[0] == "REGION") {
			continue
		}
		t := 0
		for t < len(lines) && t < 2 && !strings.Contains(lines[t], "-->") {
			t++ // an identifier (WebVTT) or a counter (SubRip)
		}
		if t == len(lines) || t == 2 {
			continue // no timing: not a cue
		}
		m := timingRe.FindStringSubmatch(lines[t])
		if m == nil {
			return nil, refuse("The subtitle file has a timing line it cannot read: %q.", clip(lines[t]))
		}
		start, end := seconds(m[1]), seconds(m[2])
		if end <= start {
			continue // shown for no time
		}
		text := cleanText(strings.Join(lines[t+1:], "\n"))
		if strings.TrimSpace(text) == "" {
			continue
		}
		if len(text) > MaxCueText {
			return nil, refuse("A subtitle at %s is %d bytes long; at most %d are allowed.", Timestamp(start), len(text), MaxCueText)
		}
		if len(cues) == MaxCues {
			return nil, refuse("The subtitle file has more than %d cues.", MaxCues)
		}
		settings := ""
		if vtt {
			settings = cleanSettings(m[3])
		}
		cues = append(cues, Cue{Start: start, End: end, Settings: settings, Text: text})
	}
	return cues, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// seconds reads a timestamp the timing pattern matched.
func seconds(ts string) float64 {
	ts = strings.Replace(ts, ",", ".", 1)
	parts := strings.Split(ts, ":")
	t := 0.0
	for _, p := range parts {
		v, _ := strconv.ParseFloat(p, 64)
		t = t*60 + v
	}
	return t
}

// settingRe is one WebVTT cue setting (vertical, line, position, size,
// align, region) with a value of the characters they use.
var settingRe = regexp.MustCompile(`^(vertical|line|position|size|align|region):[A-Za-z0-9.%,:_-]{1,40}$`)

func cleanSettings(s string) string {
	var out []string
	for _, f := range strings.Fields(s) {
		if settingRe.MatchString(f) {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// tagRe matches markup in cue text: HTML-like tags and ASS override blocks.
var (
	tagRe    = regexp.MustCompile(`<[^<>\n]*>|\{\\[^{}\n]*\}`)
	allowed  = regexp.MustCompile(`^</?(b|i|u|ruby|rt)>$|^<(c|v|lang)(\.[A-Za-z0-9_-]+)*( [^<>&"]{1,64})?>$|^</(c|v|lang)>$|^<\d{2,}:\d{2}:\d{2}\.\d{3}>$|^<\d{2}:\d{2}\.\d{3}>$`)
	entityRe = regexp.MustCompile(`^&(amp|lt|gt|lrm|rlm|nbsp|#\d{1,7}|#x[0-9A-Fa-f]{1,6});`)
)

// cleanText keeps a cue's text and WebVTT's own markup, and removes every
// other tag (HTML a browser might honour, SubRip's <font>, ASS overrides);
// a bare & or < becomes an escape, and "-->" cannot end up inside.
func cleanText(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		loc := tagRe.FindStringIndex(s)
		plain := s
		if loc != nil {
			plain = s[:loc[0]]
		}
		escapeText(&b, plain)
		if loc == nil {
			break
		}
		if tag := s[loc[0]:loc[1]]; allowed.MatchString(tag) {
			b.WriteString(tag)
		}
		s = s[loc[1]:]
	}
	// A blank line would end the cue in the WebVTT written: none is kept.
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l = strings.TrimRight(l, " \t"); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func escapeText(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '&' && entityRe.MatchString(s[i:]):
			b.WriteByte('&')
		case c == '&':
			b.WriteString("&amp;")
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c < 0x20 && c != '\n' && c != '\t':
			// control characters: dropped
		default:
			b.WriteByte(c)
		}
	}
}

// Timestamp writes seconds as a WebVTT timestamp, hh:mm:ss.ttt.
func Timestamp(t float64) string {
	ms := int64(math.Round(t * 1000))
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

// Segment is one WebVTT segment of a subtitle rendition: the cues shown
// during [Start, Start+Duration) of the video.
type Segment struct {
	Start, Duration float64
	Body            []byte
}

// Cut cuts cues into WebVTT segments of the given durations (the video's
// segment grid, from 0). A cue goes into every segment it is shown in, as
// RFC 8216 3.5 wants (players drop the repeats); each segment starts with
// an X-TIMESTAMP-MAP tying its cue times (the video's clock) to the
// MPEG-TS timestamp mpegts (90 kHz) of the video's first frame.
func Cut(cues []Cue, durations []float64, mpegts int64) []Segment {
	segs := make([]Segment, len(durations))
	header := fmt.Sprintf("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", mpegts)
	start := 0.0
	for i, d := range durations {
		end := start + d
		var b bytes.Buffer
		b.WriteString(header)
		for _, c := range cues {
			if c.Start >= end {
				break // sorted by start
			}
			if c.End <= start {
				continue
			}
			fmt.Fprintf(&b, "\n%s --> %s", Timestamp(c.Start), Timestamp(c.End))
			if c.Settings != "" {
				b.WriteString(" " + c.Settings)
			}
			b.WriteString("\n" + c.Text + "\n")
		}
		segs[i] = Segment{Start: start, Duration: d, Body: b.Bytes()}
		start = end
	}
	return segs
}
