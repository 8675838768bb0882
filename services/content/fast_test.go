package content

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveFastHTTP serves svc as `hlsd content` does (FastHandler in front of
// a ServeMux holding the service) on a loopback port, and returns its
// address and a count of the requests ServeFast answered.
func serveFastHTTP(t *testing.T, svc *Service) (string, *atomic.Int64) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix, svc)
	fast := new(atomic.Int64)
	srv := svc.FastServer(mux, func(string, time.Duration, int64) { fast.Add(1) })
	srv.Logger = discardLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String(), fast
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// rawDo sends one request as written (rawRequest) and reads the answer.
func rawDo(t *testing.T, addr, method, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := rawRequest(addr, method, target, hdr...)
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	return resp, body
}

// answer is what a client sees of a response, less the Date and the
// connection's own headers.
func answer(resp *http.Response, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", resp.StatusCode)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		if k != "Date" && k != "Connection" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(resp.Header[k], " | "))
	}
	fmt.Fprintf(&b, "\n%q", body)
	return b.String()
}

// TestFastAnswersAsNetHTTP: whatever a client sends, `hlsd content`'s
// fasthttp front (ServeFast, else net/http through the adaptor) answers
// exactly as the net/http handler alone: status, headers and body. The
// plain playlist and segment requests must indeed take the fast path.
func TestFastAnswersAsNetHTTP(t *testing.T) {
	f := newFixture(t)
	svc := New(Deps{Store: f.store, Log: quietLog()})
	mux := http.NewServeMux()
	mux.Handle(Prefix, svc)
	ref := httptest.NewServer(mux)
	defer ref.Close()
	refAddr := ref.Listener.Addr().String()
	fastAddr, fast := serveFastHTTP(t, svc)

	base := "/streams/" + id
	type request struct {
		method, target string
		hdr            []string
		fast           bool // answered by ServeFast (once the playlist is cached)
	}
	reqs := []request{
		{"GET", base + "/master.m3u8", nil, true},
		{"GET", base + "/360p/index.m3u8", nil, true},
		{"GET", base + "/360p/index.m3u8", []string{"Accept-Encoding", "gzip, deflate, br"}, true},
		{"GET", base + "/360p/index.m3u8", []string{"Accept-Encoding", "gzip;q=0"}, true},
		{"GET", base + "/360p/iframes.m3u8", nil, true},
		{"GET", base + "/360p/seg_00000.ts", nil, true},
		{"GET", base + "/360p/seg_00000.ts", []string{"Range", "bytes=10-99"}, false},
		{"GET", base + "/360p/seg_00000.ts", []string{"If-None-Match", "*"}, false},
		{"GET", base + "/360p/index.m3u8", []string{"Range", "bytes=0-9"}, false},
		{"GET", base + "/360p/index.m3u8", []string{"If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"}, false},
		{"GET", base + "/360p/index.m3u8?x=1", nil, false},
		{"GET", base + "/360p/seg_00000.ts?x=1", nil, false},
		{"HEAD", base + "/360p/index.m3u8", nil, false},
		{"HEAD", base + "/360p/seg_00000.ts", nil, false},
		{"OPTIONS", base + "/360p/index.m3u8", nil, false},
		{"DELETE", base + "/360p/seg_00000.ts", nil, false},
		{"GET", base + "/360p/seg_00001.ts", nil, false}, // not in the store
		{"GET", base + "/720p/index.m3u8", nil, false},
		{"GET", base + "/poster.jpg", nil, false},
		{"GET", base + "/thumbnails.vtt", nil, false},
		{"GET", base + "/key", nil, false},
		{"GET", "/metrics", nil, false},
	}
	for _, p := range append(traversals(), tricks()...) {
		reqs = append(reqs, request{method: "GET", target: p})
	}
	// Twice: the first round fills the playlist cache (through net/http),
	// the second is answered from it.
	for round := 1; round <= 2; round++ {
		for _, r := range reqs {
			before := fast.Load()
			want := answer(rawDo(t, refAddr, r.method, r.target, r.hdr...))
			got := answer(rawDo(t, fastAddr, r.method, r.target, r.hdr...))
			if strings.HasPrefix(want, "400\n") && strings.HasPrefix(got, "400\n") {
				// Both refuse a malformed request; net/http then closes
				// the connection without a Content-Length.
				want, got = want[strings.LastIndex(want, "\n\n"):], got[strings.LastIndex(got, "\n\n"):]
			}
			if got != want {
				t.Errorf("round %d: %s %q %v:\nfasthttp front:\n%s\nnet/http:\n%s", round, r.method, r.target, r.hdr, got, want)
			}
			if tookFast := fast.Load() > before; round == 2 && tookFast != r.fast {
				t.Errorf("%s %q %v: answered by ServeFast: %v, want %v", r.method, r.target, r.hdr, tookFast, r.fast)
			}
		}
	}
	if fast.Load() == 0 {
		t.Fatal("no request took the fast path")
	}
}

// The fast path gives a growing playlist the short cache lifetime, as net/http does.
func TestFastGrowingPlaylist(t *testing.T) {
	f := newFixture(t)
	key := "streams/" + id + "/360p/index.m3u8"
	ev := []byte("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:6.000,\nseg_00000.ts\n")
	if err := f.store.Put(t.Context(), key, bytes.NewReader(ev), int64(len(ev))); err != nil {
		t.Fatal(err)
	}
	svc := New(Deps{Store: f.store, Log: quietLog()})
	addr, fast := serveFastHTTP(t, svc)
	for i := range 2 {
		resp, body := rawDo(t, addr, "GET", "/"+key)
		if resp.StatusCode != 200 || !bytes.Equal(body, ev) || resp.Header.Get("Cache-Control") != cacheGrowing {
			t.Fatalf("request %d: %d %q, Cache-Control %q", i, resp.StatusCode, body, resp.Header.Get("Cache-Control"))
		}
	}
	if n := fast.Load(); n != 1 {
		t.Fatalf("%d requests took the fast path, want the second one", n)
	}
}

// The adaptor's http.Request strings point into fasthttp's buffers, which
// the connection's next request overwrites. A playlist cached under such a
// string would change its key under the map (and another video's playlist
// would be served for it): each key must still name its own playlist after
// later requests on the same connection.
func TestFastCacheKeysOutliveTheRequest(t *testing.T) {
	f := newFixture(t)
	ids := []string{"aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc"}
	for _, v := range ids {
		body := []byte("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.000,\nseg_00000.ts\n# " + v + "\n#EXT-X-ENDLIST\n")
		if err := f.store.Put(t.Context(), "streams/"+v+"/360p/index.m3u8", bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	svc := New(Deps{Store: f.store, Log: quietLog()})
	addr, _ := serveFastHTTP(t, svc)
	// One connection, kept alive, so every request reuses its buffers.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for round := range 2 {
		for _, v := range ids {
			resp, err := client.Get("http://" + addr + "/streams/" + v + "/360p/index.m3u8")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("# "+v+"\n")) {
				t.Fatalf("round %d, video %s: %d %q", round, v, resp.StatusCode, body)
			}
		}
	}
	c := svc.d.playlists
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != len(ids) {
		t.Errorf("%d cached playlists, want %d", len(c.entries), len(ids))
	}
	for k, e := range c.entries {
		if key, _ := ObjectKey(k); key != e.key || c.entries[strings.Clone(k)] != e || !bytes.Contains(e.body, []byte(k[len("/streams/"):][:24])) {
			t.Errorf("the entry cached as %q holds %q (%q): its key changed after it was stored", k, e.key, e.body)
		}
	}
}

// Headers past the fast server's read buffer get net/http's 431, not a 400.
func TestFastRefusesHugeHeadersAs431(t *testing.T) {
	f := newFixture(t)
	addr, _ := serveFastHTTP(t, New(Deps{Store: f.store, Log: quietLog()}))
	target := "/streams/" + id + "/360p/index.m3u8"
	resp, body := rawDo(t, addr, "GET", target, "Cookie", strings.Repeat("a", 20<<10))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || string(body) != "431 Request Header Fields Too Large" || !resp.Close {
		t.Errorf("20 KiB of headers: %d %q, connection closed: %v", resp.StatusCode, body, resp.Close)
	}
	if resp, _ := rawDo(t, addr, "GET", target, "Cookie", strings.Repeat("a", 8<<10)); resp.StatusCode != http.StatusOK {
		t.Errorf("8 KiB of headers: %d, want 200", resp.StatusCode)
	}
}
