package content

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// FastServer is the standalone content service's HTTP server (fasthttp):
// ServeFast, and every other request through next, the net/http handler
// (the service mounted with health checks and metrics), by fasthttpadaptor.
// observe, if set, is told of each request ServeFast answered. Requests
// net/http would refuse as malformed get the same 400; a request line and
// headers past 16 KiB get net/http's 431 (its own limit is 1 MiB). Limits and timeouts
// match hlsd's net/http server where both have them; a content request has
// no body, so only a small one is read (and then refused).
func (s *Service) FastServer(next http.Handler, observe func(path string, took time.Duration, bytes int64)) *fasthttp.Server {
	slow := fasthttpadaptor.NewFastHTTPHandler(detached(next))
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			start := time.Now()
			if ok, n := s.ServeFast(ctx); ok {
				if observe != nil {
					observe(string(ctx.Path()), time.Since(start), n)
				}
				return
			}
			if _, err := url.ParseRequestURI(string(ctx.RequestURI())); err != nil {
				badRequest(ctx) // the adaptor would answer 500
				return
			}
			slow(ctx)
		},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			var small *fasthttp.ErrSmallBuffer
			if errors.As(err, &small) {
				// Past ReadBufferSize: net/http's answer past its own limit
				// (1 MiB; a player's request line and headers are far below 16 KiB).
				refuse(ctx, http.StatusRequestHeaderFieldsTooLarge)
				return
			}
			badRequest(ctx)
		},
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		ReadTimeout:           10 * time.Second, // net/http: ReadHeaderTimeout (cmd/hlsd/app sets the write and idle timeouts and the connection bound)
		ReadBufferSize:        16 << 10,         // request line and headers
		MaxRequestBodySize:    64 << 10,
		CloseOnShutdown:       true,
	}
}

// detached hands next a copy of the adaptor's request whose strings are its
// own. The adaptor's point into fasthttp's buffers (zero-copy), which the
// connection's next request overwrites: anything kept past the request (a
// playlist cached under its path) would change under its holder, and a map
// keyed by it would serve one video's playlist for another's. Only the
// requests ServeFast leaves pay for the copy.
func detached(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.WithContext(r.Context()) // a shallow copy; what holds strings is copied below
		c.Method, c.Proto, c.Host = strings.Clone(r.Method), strings.Clone(r.Proto), strings.Clone(r.Host)
		c.RequestURI, c.RemoteAddr = strings.Clone(r.RequestURI), strings.Clone(r.RemoteAddr)
		u := new(url.URL)
		*u = *r.URL
		c.URL = u
		u.Scheme, u.Opaque, u.Host = strings.Clone(u.Scheme), strings.Clone(u.Opaque), strings.Clone(u.Host)
		u.Path, u.RawPath, u.RawQuery = strings.Clone(u.Path), strings.Clone(u.RawPath), strings.Clone(u.RawQuery)
		u.Fragment, u.RawFragment = strings.Clone(u.Fragment), strings.Clone(u.RawFragment)
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				u.User = url.UserPassword(strings.Clone(u.User.Username()), strings.Clone(p))
			} else {
				u.User = url.User(strings.Clone(u.User.Username()))
			}
		}
		c.Header, c.Trailer = ownHeader(r.Header), ownHeader(r.Trailer)
		c.TransferEncoding = ownStrings(r.TransferEncoding)
		next.ServeHTTP(w, c)
	})
}

// ownHeader copies h, keys and values (nil stays nil).
func ownHeader(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	own := make(http.Header, len(h))
	for k, vs := range h {
		own[strings.Clone(k)] = ownStrings(vs)
	}
	return own
}

func ownStrings(ss []string) []string {
	if ss == nil {
		return nil
	}
	own := make([]string, len(ss))
	for i, s := range ss {
		own[i] = strings.Clone(s)
	}
	return own
}

// badRequest answers a request that cannot be parsed as net/http does.
func badRequest(ctx *fasthttp.RequestCtx) { refuse(ctx, http.StatusBadRequest) }

// refuse answers a request net/http would refuse before any handler, as it
// does: the status in plain text, and the connection closed.
func refuse(ctx *fasthttp.RequestCtx, status int) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(strconv.Itoa(status) + " " + http.StatusText(status))
	ctx.SetConnectionClose()
}

// ServeFast answers, with fasthttp, the requests players make most: a plain
// GET (identity or gzip) of a playlist served within the last second, so
// still in the cache (every session asks for the master and its media
// playlists, and reloads an EVENT playlist every few seconds), and a plain
// GET of a whole segment. The answer is what ServeHTTP gives, header for
// header and byte for byte, at a fraction of net/http's cost per request
// (BENCHMARKS.md, "Content service under wrk"). It reports false, having
// written nothing, for anything else — other methods, a query (signed
// playback), ranges, conditional requests, a playlist not in the cache, a
// store error — which is left to ServeHTTP. The second result is the
// body's length.
func (s *Service) ServeFast(ctx *fasthttp.RequestCtx) (bool, int64) {
	d := &s.d
	if d.Signer != nil || !ctx.IsGet() {
		return false, 0
	}
	// The request-target as sent: cached paths are exactly the origin-form
	// paths ObjectKey accepted, so a query, an absolute form or any other
	// spelling misses; segments go through ObjectKey here too.
	path := ctx.RequestURI()
	req := &ctx.Request.Header
	for _, k := range conditionalHeaders {
		if len(req.Peek(k)) > 0 {
			return false, 0
		}
	}
	switch {
	case bytes.HasSuffix(path, []byte(".m3u8")):
		return s.playlist(ctx, path)
	case bytes.HasSuffix(path, []byte(".ts")):
		return s.segment(ctx, string(path))
	}
	return false, 0
}

// playlist answers a playlist in the cache.
func (s *Service) playlist(ctx *fasthttp.RequestCtx, path []byte) (bool, int64) {
	req := &ctx.Request.Header
	p := s.d.playlists.get(string(path), time.Now())
	if p == nil || p.length == nil {
		return false, 0
	}
	gz := acceptsGzipEncoding(string(req.Peek("Accept-Encoding")))
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Origin", hdrAllowOrigin[0])
	h.Set("Access-Control-Expose-Headers", hdrExposeHeaders[0])
	h.Set("X-Content-Type-Options", hdrNoSniff[0])
	h.SetContentType(TypePlaylist)
	h.Set("Vary", hdrVary[0])
	if p.growing() {
		h.Set("Cache-Control", cacheGrowing)
	} else {
		h.Set("Cache-Control", cachePlaylist)
	}
	h.Set("Last-Modified", p.lastModified[0])
	body := p.body
	if gz {
		body = p.gzipped()
		h.Set("Etag", etagWith(p.info.ETag, "gz"))
		h.Set("Content-Encoding", "gzip")
	} else {
		h.Set("Etag", p.etag[0])
		h.Set("Accept-Ranges", "bytes")
	}
	ctx.SetStatusCode(http.StatusOK)
	ctx.Response.SetBodyRaw(body) // cached bodies are never modified
	return true, int64(len(body))
}

// segment answers a whole segment, streamed from the store through a
// buffer (not sendfile: see below).
func (s *Service) segment(ctx *fasthttp.RequestCtx, path string) (bool, int64) {
	key, ok := ObjectKey(path)
	if !ok {
		return false, 0
	}
	info, err := s.d.Store.Stat(ctx, key)
	if err != nil {
		return false, 0
	}
	rc, err := s.d.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return false, 0
	}
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Origin", hdrAllowOrigin[0])
	h.Set("Access-Control-Expose-Headers", hdrExposeHeaders[0])
	h.Set("X-Content-Type-Options", hdrNoSniff[0])
	h.SetContentType(TypeSegment)
	h.Set("Cache-Control", cacheSegment)
	h.Set("Etag", info.ETag)
	h.Set("Accept-Ranges", "bytes")
	if !info.ModTime.IsZero() && info.ModTime.Unix() != 0 { // as http.ServeContent
		h.Set("Last-Modified", httpDate(info.ModTime))
	}
	ctx.SetStatusCode(http.StatusOK)
	// Hidden behind a plain reader, a file is copied through a buffer, not
	// handed to sendfile: on loopback under load, sendfile left the core
	// three quarters idle, waiting on the client's side (BENCHMARKS.md).
	ctx.Response.SetBodyStream(struct {
		io.Reader
		io.Closer
	}{rc, rc}, int(info.Size)) // closed by fasthttp once sent
	return true, info.Size
}

// conditionalHeaders are those a cached answer cannot honour without
// net/http's machinery.
var conditionalHeaders = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}
