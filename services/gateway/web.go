package gateway

import (
	"embed"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/hlsd/hlsd/pkg/layout"
)

// The web UI: plain HTML, CSS and JavaScript with hls.js and tus-js-client
// vendored (web/vendor), so it needs no CDN and works offline.
//
//go:embed web
var webFiles embed.FS

// registerWeb serves the pages (upload at /, the library at /videos, a
// video at /videos/{id}) and their static files under /static/.
func registerWeb(mux *http.ServeMux, gw *Gateway) {
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	csp := contentSecurityPolicy(gw.ContentURL)
	page := func(name string) http.HandlerFunc {
		body, err := fs.ReadFile(static, name)
		if err != nil {
			panic(err)
		}
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /{$}", page("index.html"))
	mux.HandleFunc("GET /videos", page("library.html"))
	video := page("video.html")
	mux.HandleFunc("GET /videos/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !layout.ValidVideoID(r.PathValue("id")) {
			http.NotFound(w, r)
			return
		}
		video(w, r)
	})
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only files: no directory listings, no pages through this door.
		if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, ".html") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})))
}

// contentSecurityPolicy allows the page's own scripts and the content
// service's origin (playlists, segments, posters), and nothing else: no
// third-party script can run even if a filename smuggled markup in.
func contentSecurityPolicy(contentURL string) string {
	media := "'self'"
	if u, err := url.Parse(contentURL); err == nil && u.Scheme != "" && u.Host != "" {
		media += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'", // every script is a file under /static/: no inline script runs
		"style-src 'self'",
		"img-src " + media + " data: blob:",
		// hls.js feeds the video element from blob: URLs, and makes the
		// <track> it puts subtitle cues in with src "data:,WEBVTT".
		"media-src " + media + " blob: data:",
		"connect-src " + media,
		"worker-src 'self' blob:",
		"frame-ancestors 'none'",
		"base-uri 'none'",
		"form-action 'self'",
	}, "; ")
}
