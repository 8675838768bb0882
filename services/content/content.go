// Package content serves published HLS — playlists and segments — read-only
// from the object store, with the headers players and CDNs rely on: exact
// MIME types, byte ranges, ETags, CORS, cache lifetimes and gzip for playlists.
// Nothing outside a video's streams/{id}/ prefix is reachable.
package content

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/store"
)

// Deps is what the content service needs.
type Deps struct {
	Store store.Store
	Log   *slog.Logger
}

// Prefix is where everything this service serves lives.
const Prefix = "/streams/"

// MIME types are fixed here: Go's mime table maps .ts to TypeScript.
const (
	TypePlaylist = "application/vnd.apple.mpegurl"
	TypeSegment  = "video/mp2t"
)

const (
	cacheSegment  = "public, max-age=31536000, immutable" // never rewritten with other bytes
	cachePlaylist = "public, max-age=86400"               // only complete VOD playlists are published
	maxPlaylist   = 8 << 20
)

var (
	renditionRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	fileRe      = regexp.MustCompile(`^(index\.m3u8|iframes\.m3u8|seg_[0-9]{5,9}\.ts)$`)
)

// Handler serves GET/HEAD/OPTIONS under /streams/.
func Handler(d Deps) http.Handler {
	return http.HandlerFunc(d.serve)
}

func (d Deps) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag")
	h.Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "Only GET and HEAD are allowed here.", http.StatusMethodNotAllowed)
		return
	}
	key, ok := ObjectKey(r.URL.EscapedPath())
	if !ok {
		http.Error(w, "Not found.", http.StatusNotFound)
		return
	}
	info, err := d.Store.Stat(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "Not found.", http.StatusNotFound)
		return
	}
	if err != nil {
		d.Log.Error("stat failed", "key", key, "err", err)
		http.Error(w, "The stream is temporarily unavailable.", http.StatusServiceUnavailable)
		return
	}
	h.Set("ETag", info.ETag)
	if strings.HasSuffix(key, ".m3u8") {
		h.Set("Content-Type", TypePlaylist)
		h.Set("Cache-Control", cachePlaylist)
		d.servePlaylist(w, r, key, info)
		return
	}
	h.Set("Content-Type", TypeSegment)
	h.Set("Cache-Control", cacheSegment)
	serveObject(w, r, d.Store, key, info)
}

// serveObject answers with the object's identity bytes, honouring Range and
// conditional headers.
func serveObject(w http.ResponseWriter, r *http.Request, s store.Store, key string, info store.Info) {
	or := &objectReader{ctx: r.Context(), s: s, key: key, size: info.Size}
	defer or.close() // ServeContent does not close what it reads
	http.ServeContent(w, r, "", info.ModTime, or)
}

// ObjectKey maps a request path (still escaped) to a store key, or reports
// false. Only the exact shapes hlsd publishes are accepted, so no encoding
// trick (%2e%2e, %2f, backslashes, NUL, doubled slashes) can name anything else.
func ObjectKey(escapedPath string) (string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, Prefix)
	if !ok || strings.ContainsAny(rest, `%\`) {
		return "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && jobs.ValidVideoID(parts[0]) && parts[1] == "master.m3u8":
		return jobs.MasterKey(parts[0]), true
	case len(parts) == 3 && jobs.ValidVideoID(parts[0]) && renditionRe.MatchString(parts[1]) && fileRe.MatchString(parts[2]):
		return jobs.StreamPrefix(parts[0]) + parts[1] + "/" + parts[2], true
	}
	return "", false
}

func (d Deps) servePlaylist(w http.ResponseWriter, r *http.Request, key string, info store.Info) {
	gz := acceptsGzip(r)
	w.Header().Add("Vary", "Accept-Encoding")
	if !gz {
		serveObject(w, r, d.Store, key, info)
		return
	}
	// The gzip form is another representation, so it gets its own ETag.
	etag := strings.TrimSuffix(info.ETag, `"`) + `-gz"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if info.Size > maxPlaylist {
		http.Error(w, "Playlist too large.", http.StatusInternalServerError)
		return
	}
	rc, err := d.Store.Get(r.Context(), key, 0, -1)
	if err != nil {
		d.Log.Error("read failed", "key", key, "err", err)
		http.Error(w, "The stream is temporarily unavailable.", http.StatusServiceUnavailable)
		return
	}
	defer rc.Close()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.Copy(zw, io.LimitReader(rc, maxPlaylist)); err != nil {
		d.Log.Error("read failed", "key", key, "err", err)
		http.Error(w, "The stream is temporarily unavailable.", http.StatusServiceUnavailable)
		return
	}
	zw.Close()
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.Header().Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

func acceptsGzip(r *http.Request) bool {
	if r.Header.Get("Range") != "" {
		return false // ranges refer to the identity bytes
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// objectReader lets http.ServeContent seek within a stored object: each seek
// just moves the offset, and the next read opens a ranged read there.
type objectReader struct {
	ctx  context.Context
	s    store.Store
	key  string
	size int64
	off  int64
	rc   io.ReadCloser
}

func (o *objectReader) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.rc == nil {
		rc, err := o.s.Get(o.ctx, o.key, o.off, -1)
		if err != nil {
			return 0, err
		}
		o.rc = rc
	}
	n, err := o.rc.Read(p)
	o.off += int64(n)
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
	if abs != o.off {
		o.close()
		o.off = abs
	}
	return abs, nil
}

func (o *objectReader) close() {
	if o.rc != nil {
		o.rc.Close()
		o.rc = nil
	}
}
