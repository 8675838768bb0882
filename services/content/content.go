// Package content serves published HLS — playlists and segments, and the
// poster and storyboard (sheets and WebVTT track) beside them — read-only
// from the object store, with the headers players and CDNs rely on: exact
// MIME types, byte ranges, ETags, CORS, cache lifetimes and gzip for playlists.
// Nothing outside a video's streams/{id}/ prefix is reachable, but for the
// AES-128 key of an encrypted video, served at /streams/{id}/key from
// keys/{id}/ (see KeyVideoID).
//
// With a playback.Signer in Deps, every request under /streams/{id}/ needs a
// valid token for that id in the query parameter "token" (403 otherwise), and
// the playlists (and the storyboard track) served carry the request's token
// on every child URI.
package content

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/store"
)

// Config is how the content service behaves.
type Config struct {
	// SegmentCacheBytes bounds the memory that keeps recently served
	// segments of a store that is not on local disk (S3): a segment every
	// viewer of a video fetches then costs the store one read, not one per
	// viewer. 0 keeps none. A disk store's segments are sent with sendfile
	// and never cached.
	SegmentCacheBytes int64
}

// Deps is what the content service works with.
type Deps struct {
	Store store.Store
	Log   *slog.Logger
	// Signer, if set, makes playback need signed URLs; nil serves every
	// stream to anyone who knows its id.
	Signer *playback.Signer
	// Now is the clock tokens are checked against; nil means time.Now.
	Now func() time.Time
}

// Prefix is where everything this service serves lives.
const Prefix = "/streams/"

// MIME types are fixed here: Go's mime table maps .ts to TypeScript.
const (
	TypePlaylist = "application/vnd.apple.mpegurl"
	TypeSegment  = "video/mp2t"
	// TypeMP4 is a CMAF rendition's init segment and media segments
	// (fragmented MP4), audio ones too: what every player accepts.
	TypeMP4 = "video/mp4"
	// TypeMPD is a CMAF video's DASH manifest.
	TypeMPD  = "application/dash+xml"
	TypeJPEG = "image/jpeg"              // the poster and storyboard sheets
	TypeVTT  = "text/vtt; charset=utf-8" // the storyboard's track
)

const (
	cacheSegment  = "public, max-age=31536000, immutable" // never rewritten with other bytes
	cachePlaylist = "public, max-age=86400"               // complete VOD playlists
	cacheGrowing  = "public, max-age=2"                   // EVENT playlists, early masters
	// A ready video's master changes when its subtitles do (added,
	// replaced or deleted through the API): cached briefly, then
	// revalidated (its ETag makes that a 304).
	cacheMaster = "public, max-age=10"
	ageSegment  = 31536000
	agePlaylist = 86400
	ageGrowing  = 2
	ageMaster   = 10
	maxPlaylist = 8 << 20
)

// Client-facing sentences. They never carry error text, keys or paths.
const (
	msgNotFound    = "Not found."
	msgUnavailable = "The stream is temporarily unavailable."
	msgNoToken     = "This stream needs a valid playback token."
	msgExpired     = "This playback link has expired."
)

var (
	renditionRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	fileRe      = regexp.MustCompile(`^(index\.m3u8|iframes\.m3u8|init\.mp4|seg_[0-9]{5,9}\.(ts|m4s|vtt))$`)
	// The still pictures beside the master (layout.PosterName,
	// layout.ThumbnailsName, layout.SpriteName): one spelling of each.
	pictureRe = regexp.MustCompile(`^(poster\.jpg|thumbnails\.vtt|sprite_(0|[1-9][0-9]{0,3})\.jpg)$`)
)

// Service is the content service.
type Service struct {
	Config
	Deps
	playlists *playlistCache // every playlist served within the last second
	segments  *segmentCache  // nil unless SegmentCacheBytes > 0 and the store is remote
}

// New makes the content service: Handler serves it, Run prunes its caches.
func New(cfg Config, deps Deps) *Service {
	s := &Service{Config: cfg, Deps: deps, playlists: newPlaylistCache()}
	if _, local := deps.Store.(store.LocalPather); !local && cfg.SegmentCacheBytes > 0 {
		s.segments = newSegmentCache(cfg.SegmentCacheBytes)
	}
	return s
}

// Handler serves GET/HEAD/OPTIONS under /streams/.
func (s *Service) Handler() http.Handler { return s }

// Run drops expired cache entries every minute until ctx ends, so memory
// follows what is being watched.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.playlists.prune(now)
		}
	}
}

// Header values every response (or every plain playlist response) carries,
// assigned to the header map under their canonical keys: that spares
// canonicalising the key and allocating a value slice per header per
// request, a measurable part of a small playlist's cost. net/http only
// reads them; Set and Del replace them, and Add copies (len == cap).
var (
	hdrAllowOrigin   = []string{"*"}
	hdrExposeHeaders = []string{"Content-Length, Content-Range, ETag"}
	hdrNoSniff       = []string{"nosniff"}
	hdrTypePlaylist  = []string{TypePlaylist}
	hdrVary          = []string{"Accept-Encoding"}
	hdrAcceptRanges  = []string{"bytes"}
	hdrCachePlaylist = []string{cachePlaylist}
	hdrCacheGrowing  = []string{cacheGrowing}
	hdrCacheMaster   = []string{cacheMaster}
)

// ServeHTTP serves GET/HEAD/OPTIONS under /streams/.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Access-Control-Allow-Origin"] = hdrAllowOrigin
	h["Access-Control-Expose-Headers"] = hdrExposeHeaders
	h["X-Content-Type-Options"] = hdrNoSniff
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// Preflights carry no credentials and reveal nothing: never signed.
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		fail(w, http.StatusMethodNotAllowed, "Only GET and HEAD are allowed here.")
		return
	}
	escaped := r.URL.EscapedPath()
	var token string
	var expires time.Time
	if s.Signer != nil {
		// Checked before the path's shape and before the store is asked, so
		// everything under /streams/{id}/ (today's files and any added later)
		// needs the token, and a request without one learns nothing — not
		// even whether the video exists.
		id, ok := videoIDOf(escaped)
		if !ok {
			fail(w, http.StatusNotFound, msgNotFound)
			return
		}
		if token, expires, ok = s.authorize(w, r, id); !ok {
			return
		}
	}
	// A playlist asked for within the last second is in the cache under
	// its path, which ObjectKey accepted then.
	var cached *cachedPlaylist
	var key string
	if strings.HasSuffix(escaped, ".m3u8") {
		if cached = s.playlists.get(escaped, time.Now()); cached != nil {
			key = cached.key
		}
	}
	if cached == nil {
		if id, ok := KeyVideoID(escaped); ok {
			s.serveKey(w, r, id)
			return
		}
		var ok bool
		if key, ok = ObjectKey(escaped); !ok {
			fail(w, http.StatusNotFound, msgNotFound)
			return
		}
	}
	playlistKey := strings.HasSuffix(key, ".m3u8")
	if cached == nil && playlistKey {
		// Read once, however many requests miss at the same moment.
		var err error
		cached, err = s.playlists.fill(r.Context(), escaped, func(ctx context.Context) (*cachedPlaylist, error) {
			info, err := s.Store.Stat(ctx, key)
			if err != nil {
				return nil, err
			}
			body, err := s.loadPlaylist(ctx, key, info)
			if err != nil {
				return nil, err
			}
			return s.playlists.put(escaped, key, info, body, time.Now()), nil
		})
		if err != nil {
			s.playlistError(w, key, err)
			return
		}
	}
	var info store.Info
	if cached != nil {
		info = cached.info
		h["Etag"] = cached.etag
	} else if seg := s.segments.fresh(key, s.now()); seg != nil {
		info = seg.info // served within the last few seconds: no need to ask the store
		h.Set("ETag", info.ETag)
	} else {
		var err error
		if info, err = s.Store.Stat(r.Context(), key); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.segments.drop(key)
			}
			s.storeError(w, key, err)
			return
		}
		h.Set("ETag", info.ETag)
	}
	if playlistKey {
		h["Content-Type"] = hdrTypePlaylist
		s.servePlaylist(w, r, key, cached, token, playback.RewritePlaylist, func(p *cachedPlaylist) string {
			if p.growing() {
				// It grows (EVENT) or will be rewritten (an early master):
				// cached no longer than a third of a segment.
				return s.cacheControl(cacheGrowing, ageGrowing, "", token, expires)
			}
			if strings.HasSuffix(key, "/master.m3u8") {
				return s.cacheControl(cacheMaster, ageMaster, "", token, expires)
			}
			return s.cacheControl(cachePlaylist, agePlaylist, "", token, expires)
		})
		return
	}
	if strings.HasSuffix(key, "/"+layout.ThumbnailsName) {
		// Its sheet URIs carry the token.
		s.serveLikePlaylist(w, r, key, info, token, expires, TypeVTT, playback.RewriteVTT)
		return
	}
	if strings.HasSuffix(key, "/"+layout.DASHManifestName) {
		// Written once, when the video is ready; its segment templates
		// carry the token.
		s.serveLikePlaylist(w, r, key, info, token, expires, TypeMPD, playback.RewriteMPD)
		return
	}
	if strings.HasSuffix(key, ".jpg") {
		h.Set("Content-Type", TypeJPEG) // written once, like segments
		h.Set("Cache-Control", s.cacheControl(cacheSegment, ageSegment, ", immutable", token, expires))
		s.serveObject(w, r, key, info)
		return
	}
	switch {
	case strings.HasSuffix(key, ".vtt"):
		// A subtitle segment: written once, like a video segment (a
		// replaced file is a new rendition, under another name).
		h.Set("Content-Type", TypeVTT)
	case strings.HasSuffix(key, ".m4s"), strings.HasSuffix(key, ".mp4"):
		h.Set("Content-Type", TypeMP4)
	default:
		h.Set("Content-Type", TypeSegment)
	}
	h.Set("Cache-Control", s.cacheControl(cacheSegment, ageSegment, ", immutable", token, expires))
	s.serveObject(w, r, key, info)
}

// isMediaSegment reports whether key is a video or audio segment (or a
// CMAF init segment, which every player of the rendition fetches first).
func isMediaSegment(key string) bool {
	return strings.HasSuffix(key, ".ts") || strings.HasSuffix(key, ".m4s") || strings.HasSuffix(key, "/"+layout.InitSegmentName)
}

// serveLikePlaylist serves a small text file that names other files (the
// storyboard track, the DASH manifest) as a finished playlist is served:
// read whole, cached for a day, its URIs given the token by rewrite.
func (s *Service) serveLikePlaylist(w http.ResponseWriter, r *http.Request, key string, info store.Info, token string, expires time.Time,
	contentType string, rewrite func([]byte, string) ([]byte, error)) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", s.cacheControl(cachePlaylist, agePlaylist, "", token, expires))
	body, err := s.loadPlaylist(r.Context(), key, info)
	if err != nil {
		s.playlistError(w, key, err)
		return
	}
	s.servePlaylist(w, r, key, &cachedPlaylist{info: info, body: body}, token, rewrite, nil)
}

// authorize checks the request's token for video id. It answers 403 itself
// and reports false when the token is missing, repeated or not valid.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request, id string) (string, time.Time, bool) {
	q, _ := url.ParseQuery(r.URL.RawQuery) // malformed pairs are dropped
	tokens := q[playback.TokenParam]
	err := playback.ErrMalformed
	var expires time.Time
	if len(tokens) == 1 { // two tokens: which one would a cache key on? Neither.
		expires, err = s.Signer.VerifyExpiry(id, tokens[0], s.now())
	}
	if err == nil {
		return tokens[0], expires, true
	}
	s.log().Debug("playback token refused", "video", id, "tokens", len(tokens), "reason", err)
	msg := msgNoToken
	if errors.Is(err, playback.ErrExpired) {
		msg = msgExpired // only said of genuine tokens: Verify checks the signature first
	}
	fail(w, http.StatusForbidden, msg)
	return "", time.Time{}, false
}

// cacheControl is public for open streams. For signed requests it is
//
//	private, max-age=min(seconds the token has left, the usual lifetime)
//
// private because the token is the access check and only the origin makes it:
// a shared cache (CDN, proxy) would hand its copy to anyone holding the URL
// for as long as the copy is fresh, and keep doing so after the token has
// expired; and capped so the player's own cache forgets the response when
// the token dies. A CDN meant to cache signed streams must verify tokens at
// its edge. ETags, 304s and ranges work as for open streams.
func (s *Service) cacheControl(open string, age int, extra, token string, expires time.Time) string {
	if token == "" {
		return open
	}
	if left := int(expires.Sub(s.now()) / time.Second); left < age {
		age = max(left, 0)
	}
	return "private, max-age=" + strconv.Itoa(age) + extra
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// fail answers an error with one fixed sentence. Headers set for the object
// (ETag, cache lifetimes) are dropped: an error must not be cached as if it
// were the stream.
func fail(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Encoding", "Content-Range", "Vary"} {
		h.Del(k)
	}
	h.Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

// storeError answers a failed store call: 404 for a missing object, else a
// 503 whose body says nothing of the store (the details go to the log).
func (s *Service) storeError(w http.ResponseWriter, key string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, msgNotFound)
		return
	}
	s.log().Error("store failed", "key", key, "err", err)
	fail(w, http.StatusServiceUnavailable, msgUnavailable)
}

// serveObject answers with the object's identity bytes, honouring Range and
// conditional headers: from a local file with sendfile (a disk store), from
// the segment cache (a remote store's segments), or read from the store.
func (s *Service) serveObject(w http.ResponseWriter, r *http.Request, key string, info store.Info) {
	if lp, ok := s.Store.(store.LocalPather); ok {
		if path, err := lp.Path(key); err == nil {
			f, err := os.Open(path)
			if errors.Is(err, fs.ErrNotExist) {
				err = store.ErrNotFound // deleted since its Stat
			}
			if err != nil {
				s.storeError(w, key, err)
				return
			}
			defer f.Close()
			// An *os.File reaches net/http's ReadFrom: sendfile, no copy
			// through user space (CPU per GB served, BENCHMARKS.md).
			http.ServeContent(w, r, "", info.ModTime, f)
			return
		}
	}
	if s.segments.fits(info.Size) && r.Method == http.MethodGet && isMediaSegment(key) {
		body, err := s.segments.body(r.Context(), s.Store, key, info, s.now())
		if err != nil {
			s.storeError(w, key, err)
			return
		}
		http.ServeContent(w, r, "", info.ModTime, bytes.NewReader(body))
		return
	}
	or := &objectReader{ctx: r.Context(), s: s.Store, key: key, size: info.Size}
	defer or.close() // ServeContent does not close what it reads
	if r.Method == http.MethodGet && !conditionalOrRanged(r) {
		// The whole object will be read: open it now, so a store failure is a
		// 503 rather than a 200 cut short after its headers.
		rc, err := s.Store.Get(r.Context(), key, 0, -1)
		if err != nil {
			s.storeError(w, key, err)
			return
		}
		or.rc = rc
	}
	http.ServeContent(w, r, "", info.ModTime, or)
}

// conditionalHeaders make an answer depend on more than the object.
var conditionalHeaders = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}

func conditionalOrRanged(r *http.Request) bool {
	for _, k := range conditionalHeaders {
		if r.Header.Get(k) != "" {
			return true
		}
	}
	return false
}

// videoIDOf returns the id in /streams/{id}/..., if the first segment is one.
func videoIDOf(escapedPath string) (string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, Prefix)
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, "/")
	return id, layout.ValidVideoID(id)
}

// ObjectKey maps a request path (still escaped) to a store key, or reports
// false. Only the exact shapes hlsd publishes are accepted — master.m3u8,
// manifest.mpd,
// poster.jpg, thumbnails.vtt, sprite_K.jpg, {rendition}/index.m3u8,
// {rendition}/iframes.m3u8, {rendition}/seg_NNNNN.ts (or .m4s and
// init.mp4, a CMAF rendition's, or .vtt, a subtitle rendition's), with a
// 24-character id
// from layout.NewVideoID and a rendition name as profiles.json allows — so no
// encoding trick (%2e%2e, %2f, %252f, backslashes, NUL, overlong UTF-8,
// doubled slashes, ";" parameters, trailing dots) can name anything else, and
// a directory is never a file.
func ObjectKey(escapedPath string) (string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, Prefix)
	if !ok || strings.ContainsAny(rest, `%\`) {
		return "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && layout.ValidVideoID(parts[0]) && parts[1] == "master.m3u8":
		return layout.MasterKey(parts[0]), true
	case len(parts) == 2 && layout.ValidVideoID(parts[0]) && parts[1] == layout.DASHManifestName:
		return layout.DASHManifestKey(parts[0]), true
	case len(parts) == 2 && layout.ValidVideoID(parts[0]) && pictureRe.MatchString(parts[1]):
		return layout.StreamPrefix(parts[0]) + parts[1], true
	case len(parts) == 3 && layout.ValidVideoID(parts[0]) && renditionRe.MatchString(parts[1]) && fileRe.MatchString(parts[2]):
		return layout.StreamPrefix(parts[0]) + parts[1] + "/" + parts[2], true
	}
	return "", false
}

// KeyVideoID reports whether a request path (still escaped) is exactly
// /streams/{id}/key — where a video encrypted with AES-128 has its key
// (layout.KeyName) — and for which id. It is the only way to the keys/ part of
// the store: ObjectKey never maps a path there, and nothing but this one
// exact spelling (no encoding, no other case, no trailing slash or dot, no
// ";" parameter) is accepted.
func KeyVideoID(escapedPath string) (string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, Prefix)
	if !ok {
		return "", false
	}
	id, name, ok := strings.Cut(rest, "/")
	if !ok || name != layout.KeyName || !layout.ValidVideoID(id) {
		return "", false
	}
	return id, true
}

// keySize is an AES-128 key's length.
const keySize = 16

// serveKey answers with video id's AES-128 key, or 404 if it has none (a
// video stored in the clear). When playback is signed, serve has already
// checked the token, as for every path under /streams/{id}/.
//
// The key is never cacheable by anyone: "private, no-store" keeps it out of
// shared caches (which would hand it to anyone with the URL after the token
// expired) and out of the player's disk cache; players fetch it once per
// playback anyway. There is no ETag: no revalidation, nothing to compare.
func (s *Service) serveKey(w http.ResponseWriter, r *http.Request, id string) {
	key := layout.EncryptionKeyKey(id)
	rc, err := s.Store.Get(r.Context(), key, 0, -1)
	if err != nil {
		s.storeError(w, key, err)
		return
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, keySize+1))
	if err != nil {
		s.storeError(w, key, err)
		return
	}
	if len(b) != keySize {
		s.log().Error("encryption key has the wrong size", "key", key, "size", len(b))
		fail(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b)) // HEAD, Range
}

// servePlaylist serves a playlist (or a WebVTT track), read whole (p, from
// the store or playlistCache), as stored, or — for a signed request or a
// client taking gzip — as a new representation built in memory: rewritten
// so every child URI carries the request's token, then maybe compressed
// (once per cached playlist for unsigned requests). Each representation has
// its own ETag, derived from the stored one.
//
// cache, if set, picks Cache-Control by the playlist's content (a playlist
// still growing is cached briefly).
func (s *Service) servePlaylist(w http.ResponseWriter, r *http.Request, key string, p *cachedPlaylist, token string, rewrite func([]byte, string) ([]byte, error), cache func(*cachedPlaylist) string) {
	h := w.Header()
	if _, ok := h["Vary"]; ok {
		h.Add("Vary", "Accept-Encoding")
	} else {
		h["Vary"] = hdrVary
	}
	gz := acceptsGzip(r)
	info, body := p.info, p.body
	if cache != nil {
		switch cc := cache(p); cc {
		case cachePlaylist:
			h["Cache-Control"] = hdrCachePlaylist
		case cacheGrowing:
			h["Cache-Control"] = hdrCacheGrowing
		case cacheMaster:
			h["Cache-Control"] = hdrCacheMaster
		default:
			h.Set("Cache-Control", cc)
		}
	}
	if token == "" && !gz {
		if r.Header.Get("Range") != "" || r.Header.Get("If-Modified-Since") != "" {
			http.ServeContent(w, r, "", info.ModTime, bytes.NewReader(body)) // Range, dates
			return
		}
		// The common request, answered directly (ServeContent's general
		// machinery cost a third of the time of a small playlist).
		if etagMatch(r.Header.Get("If-None-Match"), info.ETag) {
			h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h["Accept-Ranges"] = hdrAcceptRanges
		if p.length != nil { // a cached playlist: its headers made once
			h["Content-Length"] = p.length
			h["Last-Modified"] = p.lastModified
			if r.Method != http.MethodHead {
				_, _ = w.Write(body)
			}
			return
		}
		writeBody(w, r, body, info)
		return
	}
	etag := info.ETag
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		etag = etagWith(etag, "t"+hex.EncodeToString(sum[:6]))
	}
	if gz {
		etag = etagWith(etag, "gz")
	}
	h.Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if token != "" {
		var err error
		if body, err = rewrite(body, token); err != nil {
			s.log().Error("playlist rewrite failed", "key", key, "err", err)
			fail(w, http.StatusInternalServerError, msgUnavailable)
			return
		}
	}
	if !gz {
		http.ServeContent(w, r, "", info.ModTime, bytes.NewReader(body)) // Range, HEAD
		return
	}
	var zipped []byte
	if token == "" {
		zipped = p.gzipped() // the same for every client: compressed once
	} else {
		zipped = gzipBytes(body)
	}
	h.Set("Content-Encoding", "gzip")
	writeBody(w, r, zipped, info)
}

// writeBody answers 200 with body (headers only for HEAD).
func writeBody(w http.ResponseWriter, r *http.Request, body []byte, info store.Info) {
	h := w.Header()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Last-Modified", httpDate(info.ModTime))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// gzipWriters reuses compressors: a new gzip.Writer allocates and clears
// several hundred KiB of compression state, far more than the playlist it
// compresses, which made every gzip response cost a large allocation and
// the garbage collection after it. Reset gives the same output as a new one.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// errPlaylistTooLarge: a playlist (or storyboard track) past maxPlaylist,
// which the service will not hold in memory.
var errPlaylistTooLarge = errors.New("playlist too large")

// loadPlaylist reads a playlist whole.
func (s *Service) loadPlaylist(ctx context.Context, key string, info store.Info) ([]byte, error) {
	if info.Size > maxPlaylist {
		return nil, fmt.Errorf("%w: %d bytes", errPlaylistTooLarge, info.Size)
	}
	return s.readAll(ctx, key, info.Size)
}

// playlistError answers a playlist that could not be loaded.
func (s *Service) playlistError(w http.ResponseWriter, key string, err error) {
	if errors.Is(err, errPlaylistTooLarge) {
		s.log().Error("playlist too large", "key", key, "err", err)
		fail(w, http.StatusInternalServerError, msgUnavailable)
		return
	}
	s.storeError(w, key, err)
}

// readAll reads a playlist whole. size (its size in the store) sizes the
// buffer, so a file is read in one call and a second that finds its end,
// not in the many small reads of io.ReadAll's growing buffer.
func (s *Service) readAll(ctx context.Context, key string, size int64) ([]byte, error) {
	rc, err := s.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, min(max(size, 0), maxPlaylist)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(rc, maxPlaylist+1))
	b := buf.Bytes()
	if err == nil && len(b) > maxPlaylist {
		err = errors.New("playlist grew past the size limit while being read")
	}
	return b, err
}

// etagWith derives the ETag of another representation of the same bytes.
func etagWith(etag, suffix string) string {
	return strings.TrimSuffix(etag, `"`) + "-" + suffix + `"`
}

// etagMatch is If-None-Match's weak comparison against one ETag.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	etag = strings.TrimPrefix(etag, "W/")
	for _, c := range strings.Split(header, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || strings.TrimPrefix(c, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	if r.Header.Get("Range") != "" {
		return false // ranges refer to the identity bytes
	}
	return acceptsGzipEncoding(r.Header.Get("Accept-Encoding"))
}

// acceptsGzipEncoding reads an Accept-Encoding value.
func acceptsGzipEncoding(value string) bool {
	for _, part := range strings.Split(value, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// objectReader lets http.ServeContent seek within a stored object: each seek
// just moves the offset, and the next read opens a ranged read there unless
// the open reader is already at that offset. (ServeContent seeks to the end
// and back to learn the size: that must not close the reader serveObject
// opened, or every response would open the object twice.)
type objectReader struct {
	ctx   context.Context
	s     store.Store
	key   string
	size  int64
	off   int64 // where the next Read reads
	rc    io.ReadCloser
	rcOff int64 // where rc is, if open (serveObject opens it at 0)
}

func (o *objectReader) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.rc != nil && o.rcOff != o.off {
		o.close()
	}
	if o.rc == nil {
		rc, err := o.s.Get(o.ctx, o.key, o.off, -1)
		if err != nil {
			return 0, err
		}
		o.rc, o.rcOff = rc, o.off
	}
	n, err := o.rc.Read(p)
	o.off += int64(n)
	o.rcOff += int64(n)
	if err == io.EOF && o.off < o.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		o.close()
	}
	return n, err
}

func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.off + offset
	case io.SeekEnd:
		abs = o.size + offset
	}
	if abs < 0 {
		return 0, errors.New("content: negative seek")
	}
	o.off = abs // an open reader elsewhere is closed by the next Read
	return abs, nil
}

func (o *objectReader) close() {
	if o.rc != nil {
		o.rc.Close()
		o.rc = nil
	}
}
