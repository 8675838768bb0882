package content

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
)

const id = "abcdefghijklmnopqrstuvwx"

func setup(t *testing.T) (*httptest.Server, []byte) {
	t.Helper()
	root := t.TempDir()
	st, err := store.NewFileStore(root)
	if err != nil {
		t.Fatal(err)
	}
	seg := bytes.Repeat([]byte{0x47, 1, 2, 3}, 47*100)
	put := func(k string, b []byte) {
		if err := st.Put(context.Background(), k, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	put("streams/"+id+"/master.m3u8", []byte(strings.Repeat("#EXTM3U\n", 50)))
	put("streams/"+id+"/360p/index.m3u8", []byte("#EXTM3U\n#EXTINF:6.000,\nseg_00000.ts\n"))
	put("streams/"+id+"/360p/seg_00000.ts", seg)
	put("uploads/"+id+"/source", []byte("secret source"))
	srv := httptest.NewServer(New(Config{}, Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	t.Cleanup(srv.Close)
	return srv, seg
}

// rawTransport neither asks for gzip nor undoes it behind the test's back
// (http.DefaultTransport does both when a request has no Accept-Encoding).
var rawTransport = &http.Transport{DisableCompression: true}

func do(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// Raw transport: no transparent gzip, no path cleaning.
	resp, err := rawTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestServesSegmentsWithTheRightHeaders(t *testing.T) {
	srv, seg := setup(t)
	url := srv.URL + "/streams/" + id + "/360p/seg_00000.ts"
	resp, body := do(t, "GET", url, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, seg) {
		t.Fatalf("GET segment: %d, %d bytes", resp.StatusCode, len(body))
	}
	for k, want := range map[string]string{
		"Content-Type": "video/mp2t", "Cache-Control": "public, max-age=31536000, immutable",
		"Access-Control-Allow-Origin": "*", "Accept-Ranges": "bytes",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}

	resp, body = do(t, "GET", url, map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, seg[100:200]) || resp.Header.Get("Content-Range") != "bytes 100-199/18800" {
		t.Fatalf("Range: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
	}
	resp, body = do(t, "GET", url, map[string]string{"Range": "bytes=-10"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, seg[len(seg)-10:]) {
		t.Fatalf("suffix Range: %d", resp.StatusCode)
	}
	resp, _ = do(t, "GET", url, map[string]string{"Range": "bytes=99999-"})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable Range: %d", resp.StatusCode)
	}
	resp, _ = do(t, "GET", url, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	resp, body = do(t, "HEAD", url, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(seg)) {
		t.Fatalf("HEAD: %d len %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestServesPlaylistsGzipped(t *testing.T) {
	srv, _ := setup(t)
	url := srv.URL + "/streams/" + id + "/master.m3u8"
	resp, plain := do(t, "GET", url, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("plain: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	resp, body := do(t, "GET", url, map[string]string{"Accept-Encoding": "br, gzip"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if !bytes.Equal(unz, plain) || len(body) >= len(plain) {
		t.Fatalf("gzip body wrong or not smaller (%d vs %d)", len(body), len(plain))
	}
	gzETag := resp.Header.Get("ETag")
	resp, _ = do(t, "GET", url, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzETag})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("gzip If-None-Match: %d", resp.StatusCode)
	}
	resp, _ = do(t, "GET", url, map[string]string{"Accept-Encoding": "gzip;q=0"})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent although refused with q=0")
	}
}

func TestNothingOutsideTheVideoPrefix(t *testing.T) {
	srv, _ := setup(t)
	for _, p := range []string{
		"/streams/" + id + "/../../uploads/" + id + "/source",
		"/streams/" + id + "/%2e%2e/%2e%2e/uploads/" + id + "/source",
		"/streams/" + id + "%2f..%2f..%2fuploads%2f" + id + "%2fsource",
		"/streams/" + id + "/..%5c..%5cuploads/source",
		"/streams/" + id + `/360p\seg_00000.ts`,
		"/streams/" + id + "/360p/seg_00000.ts%00.m3u8",
		"/streams//etc/passwd",
		"/streams/" + id + "/",
		"/streams/" + id + "/360p/",
		"/streams/" + id + "/source",
		"/streams/" + id + "/360p/other.txt",
		"/streams/" + strings.ToUpper(id) + "/master.m3u8",
		"/streams/nosuchvideoidnosuchvideo/master.m3u8",
		"/streams/" + id + "/360p/seg_00001.ts",
		"/streams/" + id + "//360p/seg_00000.ts",
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.URL.RawPath, req.URL.Path = p, p
		req.URL.Opaque = p
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || bytes.Contains(b, []byte("secret")) || bytes.Contains(b, []byte("store")) {
			t.Errorf("GET %s = %d %q, want a bare 404", p, resp.StatusCode, b)
		}
	}
}

func TestMethodsAndCORSPreflight(t *testing.T) {
	srv, _ := setup(t)
	url := srv.URL + "/streams/" + id + "/master.m3u8"
	resp, _ := do(t, "OPTIONS", url, map[string]string{"Origin": "https://example.com", "Access-Control-Request-Headers": "range"})
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if resp, _ := do(t, m, url, nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s = %d", m, resp.StatusCode)
		}
	}
}

func TestObjectKey(t *testing.T) {
	for _, tc := range []struct{ path, key string }{
		{"/streams/" + id + "/master.m3u8", "streams/" + id + "/master.m3u8"},
		{"/streams/" + id + "/1080p/index.m3u8", "streams/" + id + "/1080p/index.m3u8"},
		{"/streams/" + id + "/audio/seg_00042.ts", "streams/" + id + "/audio/seg_00042.ts"},
		{"/streams/" + id + "/720p/seg_00042.m4s", "streams/" + id + "/720p/seg_00042.m4s"},
		{"/streams/" + id + "/720p/init.mp4", "streams/" + id + "/720p/init.mp4"},
		{"/streams/" + id + "/720p/other.mp4", ""},
		{"/streams/" + id + "/init.mp4", ""},
		{"/streams/" + id + "/360p/master.m3u8", ""},
		{"/streams/" + id + "/a/b/seg_00000.ts", ""},
		{"/other/" + id + "/master.m3u8", ""},
	} {
		key, ok := ObjectKey(tc.path)
		if key != tc.key || ok != (tc.key != "") {
			t.Errorf("ObjectKey(%q) = %q %v, want %q", tc.path, key, ok, tc.key)
		}
	}
}

// A playlist that still grows (EVENT, or a master written before the video
// was ready) is cached for 2 s; a ready video's master for 10 s (its
// subtitles may change); a finished media playlist for a day. Both plain
// and gzipped, with ETag and 304 as ever.
func TestCachesGrowingPlaylistsBriefly(t *testing.T) {
	const media, master = "360p/index.m3u8", "master.m3u8"
	for _, tc := range []struct {
		name, file, body, want string
	}{
		{"event", media, "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:6.000,\nseg_00000.ts\n", "public, max-age=2"},
		{"early master", master, string(playlist.MarkInProgress([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na/index.m3u8\n"))), "public, max-age=2"},
		{"final master", master, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na/index.m3u8\n", "public, max-age=10"},
		{"vod", media, "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.000,\nseg_00000.ts\n#EXT-X-ENDLIST\n", "public, max-age=86400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.NewFileStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			key := "streams/" + id + "/" + tc.file
			if err := st.Put(context.Background(), key, strings.NewReader(tc.body), int64(len(tc.body))); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(New(Config{}, Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
			defer srv.Close()
			for _, enc := range []string{"", "gzip"} {
				resp, body := do(t, "GET", srv.URL+"/"+key, map[string]string{"Accept-Encoding": enc})
				if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != tc.want {
					t.Errorf("%q: %d Cache-Control %q, want %q", enc, resp.StatusCode, resp.Header.Get("Cache-Control"), tc.want)
				}
				if enc == "" && string(body) != tc.body {
					t.Errorf("body %q", body)
				}
				resp, _ = do(t, "GET", srv.URL+"/"+key, map[string]string{"Accept-Encoding": enc, "If-None-Match": resp.Header.Get("ETag")})
				if resp.StatusCode != http.StatusNotModified || resp.Header.Get("Cache-Control") != tc.want {
					t.Errorf("%q revalidated: %d Cache-Control %q", enc, resp.StatusCode, resp.Header.Get("Cache-Control"))
				}
			}
		})
	}
}

// countingStore counts the store calls the content service makes.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls int
}

func (c *countingStore) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls }
func (c *countingStore) add()       { c.mu.Lock(); c.calls++; c.mu.Unlock() }
func (c *countingStore) Stat(ctx context.Context, key string) (store.Info, error) {
	c.add()
	return c.Store.Stat(ctx, key)
}
func (c *countingStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.add()
	return c.Store.Get(ctx, key, off, n)
}

// Playlists are served from memory for a second: repeated requests (plain
// and gzip) do not ask the store again, and a deleted playlist is gone
// once that second is over.
func TestPlaylistsServedFromMemoryBriefly(t *testing.T) {
	fs, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: fs}
	key := "streams/" + id + "/360p/index.m3u8"
	body := "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.000,\nseg_00000.ts\n#EXT-X-ENDLIST\n"
	if err := st.Put(context.Background(), key, strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{}, Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	if resp, b := do(t, "GET", srv.URL+"/"+key, nil); resp.StatusCode != 200 || string(b) != body {
		t.Fatalf("first GET: %d %q", resp.StatusCode, b)
	}
	first := st.count()
	for _, enc := range []string{"", "gzip", "gzip", ""} {
		if resp, _ := do(t, "GET", srv.URL+"/"+key, map[string]string{"Accept-Encoding": enc}); resp.StatusCode != 200 {
			t.Fatalf("GET %q: %d", enc, resp.StatusCode)
		}
	}
	if n := st.count(); n != first {
		t.Errorf("repeated GETs within a second asked the store %d more times", n-first)
	}
	if err := fs.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := do(t, "GET", srv.URL+"/"+key, nil)
		if resp.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted playlist is still served: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
