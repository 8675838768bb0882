package conformance

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/grafov/m3u8"
	"golang.org/x/sync/errgroup"
)

// Options tunes a check. The zero value checks against the defaults.
type Options struct {
	Client         *http.Client // nil: a default client
	TargetDuration int          // the expected EXT-X-TARGETDURATION; 0 means 6
	FFprobe        string       // ffprobe binary; "" means "ffprobe" on PATH
	FFmpeg         string       // ffmpeg binary; "" means "ffmpeg" on PATH
	Concurrency    int          // segments measured at once; 0 means the number of CPUs
	// MaxSegmentBytes bounds what is downloaded per segment; 0 means 256 MiB.
	MaxSegmentBytes int64
}

// Report is the outcome of a check.
type Report struct {
	Master     string
	Findings   []Finding
	Variants   int // EXT-X-STREAM-INF entries checked
	Renditions int // EXT-X-MEDIA audio and video playlists checked besides the variants'
	IFrames    int // I-frame playlists checked
	Segments   int // media segments measured
}

// Failed reports whether any rule was broken.
func (r Report) Failed() bool { return len(r.Findings) > 0 }

// MustFindings returns the findings of MUST-level rules.
func (r Report) MustFindings() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Rule.Level == Must {
			out = append(out, f)
		}
	}
	return out
}

// Check fetches the master playlist at masterURL, every playlist it names
// and every segment, and returns what breaks the rules. The error is only
// for a check that could not run (bad URL, ffprobe missing, ctx ended);
// everything wrong with the stream itself is a finding.
func Check(ctx context.Context, masterURL string, o Options) (Report, error) {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.TargetDuration <= 0 {
		o.TargetDuration = 6
	}
	if o.FFprobe == "" {
		o.FFprobe = "ffprobe"
	}
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.NumCPU()
	}
	if o.MaxSegmentBytes <= 0 {
		o.MaxSegmentBytes = 256 << 20
	}
	for _, bin := range []string{o.FFprobe, o.FFmpeg} {
		if _, err := exec.LookPath(bin); err != nil {
			return Report{}, fmt.Errorf("conformance: %s is needed to measure segments: %w", bin, err)
		}
	}
	u, err := url.Parse(masterURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return Report{}, fmt.Errorf("conformance: %q is not an http(s) URL", masterURL)
	}
	c := &checker{o: o, report: Report{Master: masterURL}}
	err = c.master(ctx, u)
	sort.SliceStable(c.report.Findings, func(i, j int) bool {
		return c.report.Findings[i].Rule.Level == Must && c.report.Findings[j].Rule.Level != Must
	})
	return c.report, err
}

type checker struct {
	o      Options
	mu     sync.Mutex
	report Report
}

func (c *checker) add(r Rule, uri, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.report.Findings = append(c.report.Findings, Finding{Rule: r, URI: uri, Message: fmt.Sprintf(format, args...)})
}

// errSkip stops checking one resource after a finding that makes the rest meaningless.
var errSkip = errors.New("skip")

// fetchPlaylist GETs a playlist twice: plainly (checking status, MIME and
// syntax) and with Accept-Encoding: gzip (checking it is compressed and
// says the same).
func (c *checker) fetchPlaylist(ctx context.Context, u *url.URL) ([]byte, error) {
	uri := u.String()
	body, hdr, err := c.get(ctx, uri, "", "identity", 1<<24)
	if err != nil {
		return nil, err
	}
	if ct, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); ct != "application/vnd.apple.mpegurl" && ct != "audio/mpegurl" {
		c.add(RuleMIME, uri, "Content-Type is %q", hdr.Get("Content-Type"))
	}
	if !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		c.add(RuleEXTM3U, uri, "the first line is not #EXTM3U")
		return nil, errSkip
	}
	gzBody, gzHdr, err := c.get(ctx, uri, "", "gzip", 1<<24)
	switch {
	case err != nil:
		return nil, err
	case !strings.EqualFold(gzHdr.Get("Content-Encoding"), "gzip"):
		c.add(RuleGzip, uri, "not gzip-compressed for Accept-Encoding: gzip (Content-Encoding %q)", gzHdr.Get("Content-Encoding"))
	default:
		zr, err := gzip.NewReader(bytes.NewReader(gzBody))
		var plain []byte
		if err == nil {
			plain, err = io.ReadAll(io.LimitReader(zr, 1<<24))
		}
		if err != nil || !bytes.Equal(plain, body) {
			c.add(RuleGzip, uri, "the gzip representation does not decompress to the playlist (%v)", err)
		}
	}
	return body, nil
}

// get fetches uri (a byte range if rng is set) and reports HTTP trouble as
// a finding, returning errSkip.
func (c *checker) get(ctx context.Context, uri, rng, encoding string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		c.add(RuleHTTP, uri, "bad URI: %v", err)
		return nil, nil, errSkip
	}
	// Setting Accept-Encoding ourselves stops net/http from transparently
	// decompressing, so we see what the server really sent.
	req.Header.Set("Accept-Encoding", encoding)
	want := http.StatusOK
	if rng != "" {
		req.Header.Set("Range", rng)
		want = http.StatusPartialContent
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		c.add(RuleHTTP, uri, "request failed: %v", err)
		return nil, nil, errSkip
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		c.add(RuleHTTP, uri, "status %d, want %d", resp.StatusCode, want)
		return nil, nil, errSkip
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		c.add(RuleHTTP, uri, "reading the body: %v", err)
		return nil, nil, errSkip
	}
	if int64(len(body)) > limit {
		c.add(RuleHTTP, uri, "larger than %d bytes", limit)
		return nil, nil, errSkip
	}
	return body, resp.Header, nil
}

// variant is a media playlist, an EXT-X-STREAM-INF's or an EXT-X-MEDIA
// rendition's, with what the master claims about it and what was measured.
type variant struct {
	uri       string        // as the master names it
	url       string        // resolved against the master
	claim     *m3u8.Variant // nil for EXT-X-MEDIA renditions
	video     bool          // carries video (by measurement)
	encrypted bool          // its segments are AES-128 encrypted
	starts    []float64     // measured first timestamp of each segment
	durs      []float64     // EXTINF values
	bits      []float64     // size of each segment in bits
	first     segMeasure    // what segment 0 holds; first.ok once every segment was measured
}

func (c *checker) master(ctx context.Context, u *url.URL) error {
	uri := u.String()
	body, err := c.fetchPlaylist(ctx, u)
	if err != nil {
		return ignoreSkip(err)
	}
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(body), true)
	if err != nil {
		c.add(RuleSyntax, uri, "not a strictly valid master playlist: %v", err)
		return nil
	}
	if typ != m3u8.MASTER {
		c.add(RuleSyntax, uri, "a media playlist, not a master playlist")
		return nil
	}
	mp := pl.(*m3u8.MasterPlaylist)
	if !mp.IndependentSegments() {
		c.add(RuleIndependent, uri, "the master lacks EXT-X-INDEPENDENT-SEGMENTS")
	}
	var streams, iframes []*m3u8.Variant
	for _, v := range mp.Variants {
		if v.Iframe {
			iframes = append(iframes, v)
		} else {
			streams = append(streams, v)
		}
	}
	if len(streams) == 0 {
		c.add(RuleSyntax, uri, "the master lists no EXT-X-STREAM-INF")
		return nil
	}
	// EXT-X-MEDIA renditions are read from the master's text, not from
	// Variant.Alternatives: grafov hands every EXT-X-MEDIA read before an
	// EXT-X-I-FRAME-STREAM-INF to that I-frame variant alone, so the
	// EXT-X-STREAM-INF variants of a master with I-frame playlists after
	// its renditions would have none.
	groups := c.renditions(uri, body, streams)

	resolve := func(s string) string {
		ref, err := url.Parse(s)
		if err != nil {
			return s // media reports it
		}
		return u.ResolveReference(ref).String()
	}
	var variants []*variant
	byURL := map[string]*variant{}
	for _, v := range streams {
		c.claims(uri, v)
		mv := &variant{uri: v.URI, url: resolve(v.URI), claim: v}
		variants = append(variants, mv)
		if byURL[mv.url] == nil {
			byURL[mv.url] = mv
		}
	}
	// Audio and video renditions with a URI are media playlists too: each
	// is checked once, and shares the measurement of a variant with the
	// same URI. (SUBTITLES playlists hold WebVTT, which is not measured.)
	renditions := 0
	for _, g := range groups.order {
		for _, r := range groups.byKey[g] {
			if r.uri == "" || (r.typ != "AUDIO" && r.typ != "VIDEO") {
				continue
			}
			ru := resolve(r.uri)
			if byURL[ru] == nil {
				byURL[ru] = &variant{uri: r.uri, url: ru}
				variants = append(variants, byURL[ru])
				renditions++
			}
			r.pl = byURL[ru]
		}
	}
	for _, v := range variants {
		if err := c.media(ctx, u, v); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.report.Variants = len(streams)
	c.report.Renditions = renditions
	c.mu.Unlock()
	c.alternates(uri, variants)
	c.aligned(variants)
	c.renditionContent(groups)
	var firstVideo *variant
	for _, v := range variants {
		if v.claim != nil && v.video {
			firstVideo = v
			break
		}
	}
	if err := c.subtitles(ctx, u, groups, firstVideo); err != nil {
		return err
	}
	for _, v := range variants {
		if v.claim != nil {
			audio := groups.byKey[groupKey("AUDIO", v.claim.Audio)]
			if v.claim.Audio == "" {
				audio = nil
			}
			c.claimed(v, audio)
			c.avAligned(v, audio)
		}
	}

	// I-frame playlists: every video variant in the clear should have one.
	// An encrypted variant cannot: its segments are encrypted whole, and a
	// byte range inside one cannot be decrypted on its own.
	byRes := map[string]bool{}
	for _, iv := range iframes {
		byRes[iv.Resolution] = true
		if err := c.iframes(ctx, u, iv, streams); err != nil {
			return err
		}
	}
	for _, v := range variants {
		if v.claim != nil && v.video && !v.encrypted && !byRes[v.claim.Resolution] {
			c.add(RuleIFrames, uri, "no EXT-X-I-FRAME-STREAM-INF for variant %s (%s)", v.uri, v.claim.Resolution)
		}
	}
	c.mu.Lock()
	c.report.IFrames = len(iframes)
	c.mu.Unlock()
	return nil
}

// alternates checks that a video tall enough to step down from has a
// variant to step down to. The source is at least as large as the largest
// variant: players are never sent an upscaled picture.
func (c *checker) alternates(uri string, vs []*variant) {
	sizes := map[[2]int]bool{}
	lines := 0
	for _, v := range vs {
		if v.claim == nil || !v.first.ok || !v.video {
			continue
		}
		sizes[[2]int{v.first.width, v.first.height}] = true
		lines = max(lines, min(v.first.width, v.first.height))
	}
	if lines >= 240 && len(sizes) < 2 {
		c.add(RuleAlternates, uri, "one video variant size for a %d-line video", lines)
	}
}

// claims checks the attributes of one EXT-X-STREAM-INF on their own.
func (c *checker) claims(masterURI string, v *m3u8.Variant) {
	where := masterURI + " → " + v.URI
	if v.Bandwidth == 0 {
		c.add(RuleBandwidth, where, "no BANDWIDTH")
	}
	if v.Codecs == "" {
		c.add(RuleCodecsPresent, where, "no CODECS")
	}
	if v.AverageBandwidth == 0 {
		c.add(RuleAverageBandwidth, where, "no AVERAGE-BANDWIDTH")
	}
	if hasVideoCodec(v.Codecs) {
		if v.Resolution == "" {
			c.add(RuleResolution, where, "no RESOLUTION")
		}
		if v.FrameRate == 0 {
			c.add(RuleFrameRate, where, "no FRAME-RATE")
		}
	}
}

func hasVideoCodec(codecs string) bool {
	for _, c := range strings.Split(codecs, ",") {
		c = strings.TrimSpace(c)
		if strings.HasPrefix(c, "avc") || strings.HasPrefix(c, "hvc") || strings.HasPrefix(c, "hev") || strings.HasPrefix(c, "av01") {
			return true
		}
	}
	return false
}

// mediaPlaylist fetches and parses the media playlist at ref (relative to
// base), with its segments; nil (and the findings made) if it cannot be
// checked further.
func (c *checker) mediaPlaylist(ctx context.Context, base *url.URL, ref string) (*fetchedMedia, error) {
	r, err := url.Parse(ref)
	if err != nil {
		c.add(RuleSyntax, base.String(), "media playlist URI %q: %v", ref, err)
		return nil, nil
	}
	u := base.ResolveReference(r)
	body, err := c.fetchPlaylist(ctx, u)
	if err != nil {
		return nil, ignoreSkip(err)
	}
	mp, ok := c.parseMedia(u.String(), body)
	if !ok {
		return nil, nil
	}
	segs := mp.GetAllSegments()
	if len(segs) == 0 {
		c.add(RuleSyntax, u.String(), "no segments")
		return nil, nil
	}
	return &fetchedMedia{u, body, mp, segs}, nil
}

// fetchedMedia is a media playlist as mediaPlaylist read it.
type fetchedMedia struct {
	u    *url.URL
	body []byte
	mp   *m3u8.MediaPlaylist
	segs []*m3u8.MediaSegment
}

// media checks one media playlist and all its segments.
func (c *checker) media(ctx context.Context, base *url.URL, v *variant) error {
	f, err := c.mediaPlaylist(ctx, base, v.uri)
	if f == nil {
		return err
	}
	u, body, mp, segs := f.u, f.body, f.mp, f.segs
	uri := u.String()
	if mp.Iframe {
		c.add(RuleSyntax, uri, "a variant's media playlist is I-frames-only")
		return nil
	}
	if !strings.Contains(string(body), "\n#EXT-X-INDEPENDENT-SEGMENTS") {
		c.add(RuleIndependent, uri, "the media playlist lacks EXT-X-INDEPENDENT-SEGMENTS")
	}
	c.durations(uri, mp, segs)
	keys, ok, err := c.segmentKeys(ctx, u, mp, segs)
	if err != nil || !ok {
		return ignoreSkip(err)
	}
	for _, k := range keys {
		v.encrypted = v.encrypted || k != nil
	}
	// Fragmented MP4: the map is the initialization segment every segment
	// is read with.
	var init *fmp4Init
	if mp.Map != nil {
		if init, err = c.initSegment(ctx, u, &mapRef{mp.Map.URI, mp.Map.Limit, mp.Map.Offset}); init == nil {
			return err
		}
		for i, s := range segs {
			if s.Map != nil && s.Map.URI != mp.Map.URI {
				c.add(RuleFMP4Init, uri, "segment %d names another EXT-X-MAP (%s); hlsd check reads one per playlist", i, s.Map.URI)
				return nil
			}
		}
	}

	// Measure every segment, a few at a time. Interlacing is looked for in
	// the first full-length segment and the middle one (decoding every frame
	// of every variant would cost too much; a short first segment, 2 s of a
	// faster start, is too few frames for idet's statistics).
	firstFull := 0
	for i, s := range segs {
		if s.Duration >= 0.9*mp.TargetDuration {
			firstFull = i
			break
		}
	}
	ms := make([]segMeasure, len(segs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Concurrency)
	for i, s := range segs {
		g.Go(func() error {
			su := u.ResolveReference(mustParse(s.URI))
			m, err := c.segment(gctx, su.String(), s, keys[i], init, i == firstFull || i == len(segs)/2)
			if err != nil {
				return err
			}
			ms[i] = m
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ignoreSkip(err)
	}
	c.mu.Lock()
	c.report.Segments += len(segs)
	c.mu.Unlock()

	for _, m := range ms {
		if !m.ok {
			return nil // already reported; the totals below would mislead
		}
	}
	c.measured(uri, v, segs, ms)
	return nil
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{Path: "invalid"}
	}
	return u
}

func ignoreSkip(err error) error {
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// parseMedia parses a media playlist strictly and checks the tags every
// media playlist of a finished video must have.
func (c *checker) parseMedia(uri string, body []byte) (*m3u8.MediaPlaylist, bool) {
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(body), true)
	if err != nil {
		c.add(RuleSyntax, uri, "not a strictly valid media playlist: %v", err)
		return nil, false
	}
	if typ != m3u8.MEDIA {
		c.add(RuleSyntax, uri, "a master playlist where a media playlist belongs")
		return nil, false
	}
	mp := pl.(*m3u8.MediaPlaylist)
	text := "\n" + string(body)
	if !strings.Contains(text, "\n#EXT-X-PLAYLIST-TYPE:VOD") {
		c.add(RuleVOD, uri, "no EXT-X-PLAYLIST-TYPE:VOD")
	}
	if !strings.Contains(text, "\n#EXT-X-ENDLIST") {
		c.add(RuleEndlist, uri, "no EXT-X-ENDLIST")
	}
	// grafov raises TargetDuration to fit the segments it reads, so take
	// the tag's own value.
	mp.TargetDuration = 0
	if _, v, ok := strings.Cut(text, "\n#EXT-X-TARGETDURATION:"); !ok {
		c.add(RuleTargetDuration, uri, "no EXT-X-TARGETDURATION")
	} else if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])); err != nil || n <= 0 {
		c.add(RuleSyntax, uri, "EXT-X-TARGETDURATION is not a positive integer")
	} else {
		mp.TargetDuration = float64(n)
	}
	need, why := 1, ""
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#EXT-X-KEY:") && ivAttr.MatchString(line[len("#EXT-X-KEY:"):]) && need < 2:
			need, why = 2, "the IV attribute"
		case strings.HasPrefix(line, "#EXTINF:") && strings.Contains(strings.SplitN(line[8:], ",", 2)[0], ".") && need < 3:
			need, why = 3, "decimal EXTINF"
		case (strings.HasPrefix(line, "#EXT-X-BYTERANGE:") || line == "#EXT-X-I-FRAMES-ONLY") && need < 4:
			need, why = 4, strings.SplitN(line, ":", 2)[0]
		case strings.HasPrefix(line, "#EXT-X-MAP:") && mp.Iframe && need < 5:
			need, why = 5, "EXT-X-MAP in an I-frame playlist"
		case strings.HasPrefix(line, "#EXT-X-MAP:") && !mp.Iframe && need < 6:
			need, why = 6, "EXT-X-MAP"
		}
	}
	if ver := int(mp.Version()); ver < need {
		c.add(RuleVersion, uri, "EXT-X-VERSION %d, but %s needs %d", ver, why, need)
	}
	return mp, true
}

// ivAttr finds an IV attribute in an attribute list (not inside a quoted URI).
var ivAttr = regexp.MustCompile(`(^|,)\s*IV\s*=\s*0[xX]`)

// durations checks EXTINF against the target duration.
func (c *checker) durations(uri string, mp *m3u8.MediaPlaylist, segs []*m3u8.MediaSegment) {
	target := mp.TargetDuration
	if int(target) != c.o.TargetDuration && !mp.Iframe {
		c.add(RuleTarget6, uri, "EXT-X-TARGETDURATION is %g, want %d", target, c.o.TargetDuration)
	}
	for i, s := range segs {
		if math.Round(s.Duration) > target {
			c.add(RuleTargetDuration, uri, "segment %d (%s): EXTINF %.3f rounds above EXT-X-TARGETDURATION %g", i, s.URI, s.Duration, target)
		}
		if s.Duration <= 0 {
			c.add(RuleSyntax, uri, "segment %d (%s): EXTINF %.3f is not positive", i, s.URI, s.Duration)
		}
		if !mp.Iframe && s.Duration > float64(c.o.TargetDuration)+0.5 {
			c.add(RuleSegmentLength, uri, "segment %d (%s) lasts %.3f s, more than %d.5 s", i, s.URI, s.Duration, c.o.TargetDuration)
		}
	}
}

// segMeasure is what ffprobe and ffmpeg found in one segment.
type segMeasure struct {
	ok           bool
	size         int64
	start, end   float64 // first timestamp and end of the main stream, seconds
	frame        float64 // one frame (or audio packet) in seconds
	videoCodec   string  // RFC 6381, from the SPS (AV1: the sequence header)
	videoName    string  // ffprobe's name of the video codec: h264, hevc, av1
	audioCodec   string
	width        int
	height       int
	frameRate    float64
	hasVideo     bool
	hasAudio     bool
	firstIsIDR   bool
	videoProfile string
	idrErr       error     // the first picture could not be extracted
	colour       [3]string // video colour primaries, transfer, matrix as ffprobe names them
	fieldOrder   string
	captions     bool                // CEA-608/708 captions in the first access unit (A/53 cc_data)
	idet         [2]int              // frames idet found interlaced, of those it saw (if asked)
	cc           map[uint16][2]uint8 // first and last continuity counter of each PID
	// Fragmented MP4: the first decode time (tfdt) and the sum of the
	// sample durations, in the track's timescale.
	fmp4       bool
	tfdt, tdur uint64
}

// segment fetches and measures one media segment, decrypting it first if
// key is set. Its size, for bit rates, is what was downloaded.
func (c *checker) segment(ctx context.Context, uri string, s *m3u8.MediaSegment, key *segKey, init *fmp4Init, idet bool) (segMeasure, error) {
	rng := ""
	if s.Limit > 0 {
		rng = fmt.Sprintf("bytes=%d-%d", s.Offset, s.Offset+s.Limit-1)
	}
	data, hdr, err := c.get(ctx, uri, rng, "identity", c.o.MaxSegmentBytes)
	if err != nil {
		return segMeasure{}, ignoreSkip(err)
	}
	if init != nil {
		return c.fmp4Segment(ctx, uri, data, hdr, init, idet)
	}
	if ct, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); strings.HasSuffix(strings.ToLower(mustParse(uri).Path), ".ts") && !strings.EqualFold(ct, "video/mp2t") {
		c.add(RuleMIME, uri, "Content-Type is %q, want video/mp2t", hdr.Get("Content-Type"))
	}
	plain := data
	if key != nil {
		if plain, err = decrypt(key, data); err != nil {
			c.add(RuleDecrypt, uri, "%v", err)
			return segMeasure{}, nil
		}
	}
	m, err := c.probe(ctx, plain, "mpegts", idet)
	if err != nil {
		if ctx.Err() != nil {
			return segMeasure{}, ctx.Err()
		}
		c.add(RuleSyntax, uri, "not a readable MPEG-TS segment: %v", err)
		return segMeasure{}, nil
	}
	m.size = int64(len(data))
	var broken string
	if m.cc, broken = continuity(plain); broken != "" {
		c.add(RuleContinuity, uri, "inside the segment: %s", broken)
	}
	c.startsWithIDR(uri, m)
	m.ok = true
	return m, nil
}

// startsWithIDR checks that a measured segment's video starts with an IDR
// picture that can be read on its own, and reports whether it does.
func (c *checker) startsWithIDR(uri string, m segMeasure) bool {
	switch {
	case m.hasVideo && m.idrErr != nil:
		c.add(RuleIDR, uri, "the first video picture cannot be read on its own: %v", m.idrErr)
	case m.hasVideo && !m.firstIsIDR:
		c.add(RuleIDR, uri, "the first video picture is not an IDR")
	default:
		return true
	}
	return false
}

// fmp4Segment measures a fragmented MP4 segment: read with its init
// segment by ffprobe and ffmpeg as an MPEG-TS segment is alone, and its
// boxes for the decode times.
func (c *checker) fmp4Segment(ctx context.Context, uri string, data []byte, hdr http.Header, init *fmp4Init, idet bool) (segMeasure, error) {
	c.mp4Type(uri, hdr.Get("Content-Type"))
	whole := append(append(make([]byte, 0, len(init.data)+len(data)), init.data...), data...)
	m, err := c.probe(ctx, whole, "mp4", idet)
	if err != nil {
		if ctx.Err() != nil {
			return segMeasure{}, ctx.Err()
		}
		c.add(RuleSyntax, uri, "not a readable fragmented MP4 segment with its init segment: %v", err)
		return segMeasure{}, nil
	}
	m.size = int64(len(data))
	m.fmp4 = true
	var firstSync bool
	if m.tfdt, m.tdur, firstSync, err = fragments(init, data); err != nil {
		c.add(RuleTFDT, uri, "%v", err)
		return segMeasure{}, nil
	}
	if c.startsWithIDR(uri, m) && m.hasVideo && !firstSync {
		c.add(RuleTFDT, uri, "the first sample is not flagged a sync sample")
	}
	m.ok = true
	return m, nil
}

// measured checks what a media playlist says against what its segments
// hold, and keeps what the master's claims are checked against later.
func (c *checker) measured(uri string, v *variant, segs []*m3u8.MediaSegment, ms []segMeasure) {
	v.video = ms[0].hasVideo
	for i, s := range segs {
		m := ms[i]
		v.starts = append(v.starts, m.start)
		v.durs = append(v.durs, s.Duration)
		v.bits = append(v.bits, float64(m.size)*8)
		// EXTINF against the timestamps: the next segment's start, or for
		// the last one the end of its last frame.
		real := m.end - m.start
		if i+1 < len(segs) {
			real = ms[i+1].start - m.start
			if gap := ms[i+1].start - m.end; math.Abs(gap) > m.frame+0.001 {
				c.add(RuleContinuous, uri, "segment %d ends at %.3f s but segment %d starts at %.3f s", i, m.end, i+1, ms[i+1].start)
			}
		}
		if math.Abs(real-s.Duration) > m.frame+0.001 {
			c.add(RuleEXTINFAccurate, uri, "segment %d (%s): EXTINF %.3f, timestamps say %.3f", i, s.URI, s.Duration, real)
		}
		if m.hasVideo != ms[0].hasVideo || m.hasAudio != ms[0].hasAudio {
			c.add(RuleCodecsMatch, uri, "segment %d carries different streams from segment 0", i)
		}
		if i > 0 && !s.Discontinuity {
			c.continuous(uri, i, ms[i-1].cc, m.cc)
			if p := ms[i-1]; m.fmp4 && m.tfdt != p.tfdt+p.tdur {
				c.add(RuleTFDT, uri, "segment %d (%s): tfdt %d, but segment %d ends at %d", i, s.URI, m.tfdt, i-1, p.tfdt+p.tdur)
			}
		}
		if m.hasVideo && strings.HasPrefix(m.videoCodec, "avc") {
			for j, what := range []string{"colour primaries", "transfer characteristics", "matrix"} {
				if tag := m.colour[j]; tag != "" && tag != "unknown" && tag != "bt709" {
					c.add(RuleColour, uri, "segment %d (%s): H.264 with %s %s", i, s.URI, what, tag)
				}
			}
		}
		if fieldOrders[m.fieldOrder] {
			c.add(RuleProgressive, uri, "segment %d (%s): the stream is flagged interlaced (field order %s)", i, s.URI, m.fieldOrder)
		}
		if n := m.idet; n[1] > 0 && 20*n[0] > n[1] {
			c.add(RuleProgressive, uri, "segment %d (%s): idet finds %d of %d frames interlaced", i, s.URI, n[0], n[1])
		}
	}
	v.first = ms[0]
	if ms[0].hasVideo && ms[0].videoName == "h264" {
		if p := ms[0].videoProfile; p != "64" && p != "4d" {
			c.add(RuleH264Profile, uri, "H.264 profile_idc 0x%s is neither High nor Main", p)
		}
	}
	if ms[0].hasAudio && ms[0].audioCodec != "mp4a.40.2" {
		c.add(RuleAACLC, uri, "audio is %s", ms[0].audioCodec)
	}
}

// fieldOrders are ffprobe's names for interlaced scans.
var fieldOrders = map[string]bool{"tt": true, "bb": true, "tb": true, "bt": true}

// continuous checks that every PID of a segment continues the counter where
// the segment before left it.
func (c *checker) continuous(uri string, i int, prev, cur map[uint16][2]uint8) {
	pids := make([]int, 0, len(cur))
	for pid := range cur {
		pids = append(pids, int(pid))
	}
	sort.Ints(pids)
	for _, pid := range pids {
		p, ok := prev[uint16(pid)]
		if first := cur[uint16(pid)][0]; ok && first != (p[1]+1)&0x0f {
			c.add(RuleContinuity, uri, "segment %d: PID %#x starts at counter %d, segment %d ended at %d", i, pid, first, i-1, p[1])
			return // one finding per boundary
		}
	}
}

// codecs returns the RFC 6381 codecs a measured media playlist holds.
func (v *variant) codecs() []string {
	var out []string
	if v.first.hasVideo {
		out = append(out, v.first.videoCodec)
	}
	if v.first.hasAudio {
		out = append(out, v.first.audioCodec)
	}
	return out
}

// companions returns the media playlists of the audio renditions a variant
// plays with (those with a URI of their own), and false if one of them
// could not be measured: that is reported already, and checking the
// variant's claims without it would mislead.
func (v *variant) companions(audio []*rendition) ([]*variant, bool) {
	var out []*variant
	for _, r := range audio {
		if r.pl == nil || r.pl == v {
			continue
		}
		if !r.pl.first.ok {
			return nil, false
		}
		out = append(out, r.pl)
	}
	return out, true
}

// rates returns the peak and average bit rates of v played together with
// the rendition a (nil: v alone). The peak is the sum of the two peak
// segment bit rates, as RFC 8216 4.3.4.2 defines BANDWIDTH ("the largest
// sum of peak segment bit rates that is produced by any playable
// combination of Renditions"): audio segments need not line up with the
// video's, so a player may fetch the peaks of both at once. The average is
// all their bits over the variant's duration.
func (v *variant) rates(a *variant) (peak, avg float64) {
	var bits, dur float64
	for i, d := range v.durs {
		bits += v.bits[i]
		dur += d
		if d > 0 {
			peak = max(peak, v.bits[i]/d)
		}
	}
	if a != nil {
		var apeak float64
		for i, b := range a.bits {
			bits += b
			if d := a.durs[i]; d > 0 {
				apeak = max(apeak, b/d)
			}
		}
		peak += apeak
	}
	if dur > 0 {
		avg = bits / dur
	}
	return peak, avg
}

// claimed compares what the master claims about a variant with what its
// segments, and those of the audio renditions it names, hold.
func (c *checker) claimed(v *variant, audio []*rendition) {
	if !v.first.ok {
		return // already reported
	}
	where, m := v.url, v.first
	if m.hasVideo && v.claim.Resolution != "" {
		if got := fmt.Sprintf("%dx%d", m.width, m.height); got != v.claim.Resolution {
			c.add(RuleResolutionMatch, where, "RESOLUTION %s, the video is %s", v.claim.Resolution, got)
		}
	}
	if m.hasVideo && strings.HasPrefix(m.videoCodec, "avc") && v.claim.VideoRange != "" && v.claim.VideoRange != "SDR" {
		c.add(RuleColour, where, "VIDEO-RANGE=%s on H.264 video", v.claim.VideoRange)
	}
	if m.hasVideo && v.claim.Resolution != "" {
		// The transfer of the bitstream decides: PQ, HLG, else SDR.
		want := map[string]string{"smpte2084": "PQ", "arib-std-b67": "HLG"}[m.colour[1]]
		if want == "" {
			want = "SDR"
		}
		switch got := v.claim.VideoRange; {
		case got == "" && want != "SDR":
			c.add(RuleVideoRange, where, "no VIDEO-RANGE, but the video's transfer is %s (%s)", m.colour[1], want)
		case got == "":
			c.add(RuleVideoRangePresent, where, "no VIDEO-RANGE")
		case got != want:
			c.add(RuleVideoRange, where, "VIDEO-RANGE=%s, but the video's transfer is %q (%s)", got, m.colour[1], want)
		}
	}
	if cc := v.claim.Captions; m.hasVideo && m.captions && (cc == "" || cc == "NONE") {
		c.add(RuleCaptions, where, "the video carries CEA-608/708 captions, but CLOSED-CAPTIONS is %q", cc)
	} else if m.hasVideo && !m.captions && cc != "" && cc != "NONE" {
		c.add(RuleCaptions, where, "CLOSED-CAPTIONS=%q, but the video's first segment carries no captions", cc)
	}
	if m.hasVideo && v.claim.FrameRate > 0 && math.Abs(v.claim.FrameRate-m.frameRate) > 0.01 {
		c.add(RuleFrameRate, where, "FRAME-RATE %.3f, the video runs at %.3f", v.claim.FrameRate, m.frameRate)
	}
	with, ok := v.companions(audio)
	if !ok {
		return
	}
	// CODECS: exactly the codecs found, with the real profile and level,
	// in the variant and in the renditions of its audio group.
	found := v.codecs()
	for _, a := range with {
		for _, cc := range a.codecs() {
			if !slices.ContainsFunc(found, func(f string) bool { return strings.EqualFold(f, cc) }) {
				found = append(found, cc)
			}
		}
	}
	if !sameCodecs(v.claim.Codecs, found) && v.claim.Codecs != "" {
		what := "the segments hold"
		if len(with) > 0 {
			what = "the segments and the audio group's hold"
		}
		c.add(RuleCodecsMatch, where, "CODECS %q, %s %q", v.claim.Codecs, what, strings.Join(found, ","))
	}
	// BANDWIDTH and AVERAGE-BANDWIDTH: the largest of the variant with
	// each of its renditions.
	peak, avg := v.rates(nil)
	peakWith, avgWith := "", ""
	for _, a := range with {
		p, av := v.rates(a)
		if p > peak {
			peak, peakWith = p, " with "+a.url
		}
		if av > avg {
			avg, avgWith = av, " with "+a.url
		}
	}
	if avg > 0 && v.claim.AverageBandwidth > 0 && math.Abs(float64(v.claim.AverageBandwidth)-avg) > 0.1*avg {
		c.add(RuleAverageBandwidth, where, "AVERAGE-BANDWIDTH %d, measured %.0f%s", v.claim.AverageBandwidth, avg, avgWith)
	}
	if peak > 0 && float64(v.claim.Bandwidth) < peak {
		c.add(RulePeakBandwidth, where, "BANDWIDTH %d, measured peak %.0f%s", v.claim.Bandwidth, peak, peakWith)
	}
}

// avAligned checks that a video variant and the audio renditions it plays
// with start and end together.
func (c *checker) avAligned(v *variant, audio []*rendition) {
	if !v.first.ok || !v.video {
		return
	}
	with, ok := v.companions(audio)
	if !ok {
		return
	}
	vdur := sum(v.durs)
	for _, a := range with {
		if !a.first.hasAudio {
			continue // not audio: rendition-groups says so
		}
		if d := a.starts[0] - v.starts[0]; math.Abs(d) > 0.1 {
			c.add(RuleAVAligned, v.url, "the video starts at %.3f s, its audio %s at %.3f s (%+.3f s)", v.starts[0], a.url, a.starts[0], d)
		}
		if adur := sum(a.durs); math.Abs(adur-vdur) > 0.5 {
			c.add(RuleAVAligned, v.url, "the video lasts %.3f s by EXTINF, its audio %s %.3f s", vdur, a.url, adur)
		}
	}
}

func sum(xs []float64) float64 {
	var t float64
	for _, x := range xs {
		t += x
	}
	return t
}

func sameCodecs(claim string, found []string) bool {
	var cl []string
	for _, c := range strings.Split(claim, ",") {
		if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
			cl = append(cl, c)
		}
	}
	if len(cl) != len(found) {
		return false
	}
	sort.Strings(cl)
	f := make([]string, len(found))
	for i, s := range found {
		f[i] = strings.ToLower(s)
	}
	sort.Strings(f)
	for i := range cl {
		if cl[i] != f[i] {
			return false
		}
	}
	return true
}

// aligned checks that video variants cut at the same times.
func (c *checker) aligned(vs []*variant) {
	var ref *variant
	for _, v := range vs {
		if !v.video || len(v.starts) == 0 {
			continue
		}
		if ref == nil {
			ref = v
			continue
		}
		if len(v.starts) != len(ref.starts) {
			c.add(RuleAligned, v.uri, "%d segments, %s has %d", len(v.starts), ref.uri, len(ref.starts))
			continue
		}
		for i := range v.starts {
			if math.Abs((v.starts[i]-v.starts[0])-(ref.starts[i]-ref.starts[0])) > 0.002 ||
				math.Abs(v.durs[i]-ref.durs[i]) > 0.002 {
				c.add(RuleAligned, v.uri, "segment %d starts at %.3f s lasting %.3f s; in %s at %.3f s lasting %.3f s",
					i, v.starts[i]-v.starts[0], v.durs[i], ref.uri, ref.starts[i]-ref.starts[0], ref.durs[i])
				break
			}
		}
	}
}

// iframes checks one EXT-X-I-FRAME-STREAM-INF and its playlist.
func (c *checker) iframes(ctx context.Context, master *url.URL, iv *m3u8.Variant, streams []*m3u8.Variant) error {
	where := master.String() + " → " + iv.URI
	if iv.Bandwidth == 0 {
		c.add(RuleBandwidth, where, "no BANDWIDTH")
	}
	if iv.Codecs == "" {
		c.add(RuleCodecsPresent, where, "no CODECS")
	}
	if iv.Resolution == "" {
		c.add(RuleIFrames, where, "no RESOLUTION")
	}
	if iv.URI == "" {
		c.add(RuleIFrames, where, "no URI")
		return nil
	}
	// Its CODECS should be the video codec of the variant of the same
	// resolution and codec (a ladder of several codecs has a variant of
	// each at one resolution).
	family, _, _ := strings.Cut(strings.TrimSpace(iv.Codecs), ".")
	for _, v := range streams {
		if v.Resolution == iv.Resolution && hasVideoCodec(v.Codecs) && strings.Contains(v.Codecs, family+".") {
			want := ""
			for _, cc := range strings.Split(v.Codecs, ",") {
				if hasVideoCodec(cc) {
					want = strings.TrimSpace(cc)
				}
			}
			if !strings.EqualFold(strings.TrimSpace(iv.Codecs), want) {
				c.add(RuleCodecsMatch, where, "I-frame CODECS %q, the %s variant's video is %q", iv.Codecs, iv.Resolution, want)
			}
			break
		}
	}
	u := master.ResolveReference(mustParse(iv.URI))
	uri := u.String()
	body, err := c.fetchPlaylist(ctx, u)
	if err != nil {
		return ignoreSkip(err)
	}
	mp, ok := c.parseMedia(uri, body)
	if !ok {
		return nil
	}
	if !mp.Iframe {
		c.add(RuleIFrames, uri, "no EXT-X-I-FRAMES-ONLY")
		return nil
	}
	segs := mp.GetAllSegments()
	if len(segs) == 0 {
		c.add(RuleIFrames, uri, "no entries")
		return nil
	}
	c.durations(uri, mp, segs)

	// Fetch the initialization section and every I-frame range, join them
	// into one stream and let ffmpeg count the pictures: there must be one
	// IDR per entry and nothing else.
	var stream bytes.Buffer
	var peak float64
	addRange := func(ref string, limit, offset int64, whole bool) error {
		ru := u.ResolveReference(mustParse(ref)).String()
		if limit <= 0 && whole {
			// A map without BYTERANGE: a whole file, a CMAF init segment.
			b, _, err := c.get(ctx, ru, "", "identity", c.o.MaxSegmentBytes)
			if err != nil {
				return err
			}
			stream.Write(b)
			return nil
		}
		if limit <= 0 {
			c.add(RuleByteRange, uri, "%s has no byte range", ref)
			return errSkip
		}
		b, _, err := c.get(ctx, ru, fmt.Sprintf("bytes=%d-%d", offset, offset+limit-1), "identity", limit)
		if err != nil {
			return err
		}
		if int64(len(b)) != limit {
			c.add(RuleByteRange, uri, "%s@%d: asked for %d bytes, got %d", ref, offset, limit, len(b))
			return errSkip
		}
		stream.Write(b)
		return nil
	}
	if mp.Map != nil {
		if err := addRange(mp.Map.URI, mp.Map.Limit, mp.Map.Offset, true); err != nil {
			return ignoreSkip(err)
		}
	}
	for _, s := range segs {
		if s.Map != nil && s.Map != mp.Map {
			if err := addRange(s.Map.URI, s.Map.Limit, s.Map.Offset, true); err != nil {
				return ignoreSkip(err)
			}
		}
		if err := addRange(s.URI, s.Limit, s.Offset, false); err != nil {
			return ignoreSkip(err)
		}
		if s.Duration > 0 {
			peak = max(peak, float64(s.Limit)*8/s.Duration)
		}
	}
	// An MPEG-TS header starts with a sync byte; an MP4 init segment with
	// a box (ftyp) whose type is at byte 4.
	format := "mpegts"
	if b := stream.Bytes(); len(b) >= 8 && string(b[4:8]) == "ftyp" {
		format = "mp4"
	}
	pics, err := c.pictures(ctx, stream.Bytes(), format)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.add(RuleIFrameIDR, uri, "the I-frame ranges do not form a readable stream: %v", err)
		return nil
	}
	nonIDR := 0
	for _, idr := range pics {
		if !idr {
			nonIDR++
		}
	}
	if len(pics) != len(segs) || nonIDR > 0 {
		c.add(RuleIFrameIDR, uri, "%d entries hold %d pictures, %d of them not IDR", len(segs), len(pics), nonIDR)
	}
	if float64(iv.Bandwidth) < peak {
		c.add(RulePeakBandwidth, where, "I-frame BANDWIDTH %d, measured peak %.0f", iv.Bandwidth, peak)
	}
	return nil
}
