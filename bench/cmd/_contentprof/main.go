// Throwaway: the content service as pkg/app serves it, with pprof on a second port.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"

	"github.com/hlsd/hlsd/pkg/metrics"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/services/content"
)

func main() {
	dir := flag.String("dir", "", "")
	listen := flag.String("listen", "127.0.0.1:18080", "")
	pp := flag.String("pprof", "127.0.0.1:18081", "")
	flag.Parse()
	st, err := store.NewFileStore(*dir)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(http.ListenAndServe(*pp, nil)) }()
	m := metrics.New()
	mux := http.NewServeMux()
	mux.Handle(content.Prefix, content.Handler(content.Deps{Store: st}))
	srv := &http.Server{Addr: *listen, Handler: m.Instrument("content", mux), ReadHeaderTimeout: 10 * time.Second}
	body := make([]byte, 2941)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	mem := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("ETag", `"0123456789abcdef"`)
		h.Set("Content-Length", "2941")
		w.Write(body)
	})
	go func() {
		log.Fatal(http.ListenAndServe("127.0.0.1:18082", mem))
	}()
	go func() {
		log.Fatal(http.ListenAndServe("127.0.0.1:18083", m.Instrument("content", mem)))
	}()
	// As if the content service kept playlists in memory, checked by Stat.
	pl, _ := os.ReadFile(*dir + "/streams/benchbenchbenchbenchbnch/720p/index.m3u8")
	statMem := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := st.Stat(r.Context(), "streams/benchbenchbenchbenchbnch/720p/index.m3u8")
		if err != nil {
			http.Error(w, "x", 500)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("ETag", info.ETag)
		h.Add("Vary", "Accept-Encoding")
		http.ServeContent(w, r, "", info.ModTime, bytes.NewReader(pl))
	})
	go func() {
		log.Fatal(http.ListenAndServe("127.0.0.1:18084", m.Instrument("content", statMem)))
	}()
	log.Fatal(srv.ListenAndServe())
}
