package conformance

import (
	"bytes"
	"context"
	"math"
	"mime"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// WebVTT segment parsing: the X-TIMESTAMP-MAP header (RFC 8216 3.5) and
// cue timings (hh:mm:ss.ttt or mm:ss.ttt).
var (
	timestampMapRe = regexp.MustCompile(`(?m)^X-TIMESTAMP-MAP=(.*)$`)
	vttTimingRe    = regexp.MustCompile(`(?m)^\s*((?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{2}:\d{2}\.\d{3})`)
)

// subtitles checks every SUBTITLES rendition of the master: its media
// playlist (MIME, syntax, VOD and ENDLIST as the others), each segment
// WebVTT with an X-TIMESTAMP-MAP, every cue within its segment's time, and
// the whole as long as the video. video is the first video variant (nil
// if none was measured): its first timestamp is the playlist's time 0.
func (c *checker) subtitles(ctx context.Context, master *url.URL, gs *renditionGroups, video *variant) error {
	seen := map[string]bool{}
	for _, k := range gs.order {
		for _, r := range gs.byKey[k] {
			if r.typ != "SUBTITLES" || r.uri == "" {
				continue
			}
			if seen[r.uri] {
				continue
			}
			seen[r.uri] = true
			if err := c.subtitlePlaylist(ctx, master, r.uri, video); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) subtitlePlaylist(ctx context.Context, master *url.URL, ref string, video *variant) error {
	f, err := c.mediaPlaylist(ctx, master, ref)
	if f == nil {
		return err
	}
	u, mp, segs := f.u, f.mp, f.segs
	uri := u.String()
	c.durations(uri, mp, segs)
	start := 0.0
	for i, s := range segs {
		ref, err := url.Parse(s.URI)
		if err != nil {
			c.add(RuleSyntax, uri, "segment URI %q: %v", s.URI, err)
			return nil
		}
		su := u.ResolveReference(ref).String()
		b, hdr, err := c.get(ctx, su, "", "", 1<<20)
		if err != nil {
			if err := ignoreSkip(err); err != nil {
				return err
			}
			start += s.Duration
			continue
		}
		if ct, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); ct != "text/vtt" {
			c.add(RuleMIME, su, "Content-Type is %q, want text/vtt", hdr.Get("Content-Type"))
		}
		c.webVTTSegment(su, i, bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), start, s.Duration, video)
		start += s.Duration
	}
	if video != nil && len(video.durs) > 0 {
		total := 0.0
		for _, d := range video.durs {
			total += d
		}
		if math.Abs(start-total) > float64(mp.TargetDuration) {
			c.add(RuleSubtitleDuration, uri, "the subtitles last %.3f s, the video %.3f s", start, total)
		}
	}
	return nil
}

// webVTTSegment checks one segment shown during [start, start+dur) of the
// playlist's time.
func (c *checker) webVTTSegment(uri string, i int, b []byte, start, dur float64, video *variant) {
	if !bytes.HasPrefix(b, []byte("WEBVTT")) || len(b) > 6 && !strings.ContainsRune(" \t\r\n", rune(b[6])) {
		c.add(RuleWebVTT, uri, "segment %d does not start with the WEBVTT header", i)
		return
	}
	header, _, _ := bytes.Cut(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	m := timestampMapRe.FindSubmatch(header)
	if m == nil {
		c.add(RuleWebVTT, uri, "segment %d has no X-TIMESTAMP-MAP: its cues cannot be placed on the MPEG-TS clock", i)
		return
	}
	var mpegts int64 = -1
	local := math.NaN()
	for _, kv := range strings.Split(string(m[1]), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), ":")
		switch k {
		case "MPEGTS":
			mpegts, _ = strconv.ParseInt(v, 10, 64)
		case "LOCAL":
			local = vttSeconds(v)
		}
	}
	if mpegts < 0 || math.IsNaN(local) {
		c.add(RuleWebVTT, uri, "segment %d: X-TIMESTAMP-MAP=%s lacks MPEGTS or LOCAL", i, m[1])
		return
	}
	// A cue at LOCAL is shown at MPEGTS; the playlist's time 0 is the
	// video's first timestamp.
	offset := 0.0
	if video != nil && len(video.starts) > 0 {
		offset = float64(mpegts)/90000 - video.starts[0]
	}
	for _, t := range vttTimingRe.FindAllSubmatch(b, -1) {
		from := vttSeconds(string(t[1])) - local + offset
		to := vttSeconds(string(t[2])) - local + offset
		if to <= start+0.001 || from >= start+dur-0.001 {
			c.add(RuleWebVTT, uri, "segment %d (%.3f–%.3f s) has a cue shown at %.3f–%.3f s, outside its time", i, start, start+dur, from, to)
		}
	}
}

// vttSeconds reads a WebVTT timestamp; NaN if it is not one.
func vttSeconds(s string) float64 {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return math.NaN()
	}
	t := 0.0
	for _, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return math.NaN()
		}
		t = t*60 + v
	}
	return t
}
