// Command hlsserve serves a directory of HLS files the way a plain web server
// configured for HLS would (nginx with the HLS types and gzip on): playlists
// as application/vnd.apple.mpegurl, gzip-compressed for clients that accept
// it, segments as video/mp2t (CMAF ones and init segments as video/mp4),
// with Range and conditional requests from net/http's file server.
// bench/time-to-ready.sh runs `hlsd check` against ffmpeg's own HLS output
// through it, so the findings are about the files and not about a server's
// missing MIME types.
//
//	hlsserve -dir DIR -listen 127.0.0.1:8080
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", ".", "directory to serve")
	listen := flag.String("listen", "127.0.0.1:8080", "address")
	flag.Parse()
	files := http.FileServer(http.Dir(*dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch path.Ext(r.URL.Path) {
		case ".m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Header().Add("Vary", "Accept-Encoding")
			if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && r.Header.Get("Range") == "" {
				serveGzip(w, r, *dir)
				return
			}
		case ".ts":
			w.Header().Set("Content-Type", "video/mp2t")
		case ".m4s", ".mp4": // CMAF segments and init segments
			w.Header().Set("Content-Type", "video/mp4")
		}
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func serveGzip(w http.ResponseWriter, r *http.Request, dir string) {
	p := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+r.URL.Path)))
	b, err := os.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}
