package content

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
)

// Markers of bytes that must never reach a client through this service.
const (
	markOutside = "TOP-SECRET-OUTSIDE-DATA-DIR"
	markDataDir = "DATA-DIR-SECRET"
	markStore   = "STORE-ROOT-SECRET"
	markUpload  = "UPLOAD-SOURCE-SECRET"
	markWork    = "WORK-CHUNK-SECRET"
	markStray   = "STRAY-KIND-SECRET"
	markKey     = "AES-KEY-SECRET!!" // 16 bytes: the video's key, served only at /streams/{id}/key
)

var allMarks = []string{markOutside, markDataDir, markStore, markUpload, markWork, markStray, markKey, "root:x:0:0"}

// fixture is a data dir laid out as hlsd lays it out, with things beside it:
//
//	root/secret.txt                       outside the data dir
//	root/data/secret.conf                 in the data dir, outside the store
//	root/data/store/                      the FileStore
//	    root.txt, uploads/{id}/source, work/{id}/360p/0.ts, keys/{id}/aes128.key
//	    streams/{id}/..., plus files of kinds the service must not serve
type fixture struct {
	root  string
	store *store.FileStore
	seg   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "secret.txt"), markOutside)
	write(filepath.Join(root, "data", "secret.conf"), markDataDir)
	st, err := store.NewFileStore(filepath.Join(root, "data", "store"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{root: root, store: st, seg: bytes.Repeat([]byte{0x47, 1, 2, 3}, 47*100)}
	put := func(k string, b []byte) {
		if err := st.Put(context.Background(), k, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	put("root.txt", []byte(markStore))
	put(layout.SourceKey(id), []byte(markUpload))
	put(layout.WorkKey(id, "360p", 0), []byte(markWork))
	put(layout.EncryptionKeyKey(id), []byte(markKey))
	put(layout.MasterKey(id), []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001e\"\n360p/index.m3u8\n"))
	put(layout.MediaPlaylistKey(id, "360p"), []byte("#EXTM3U\n#EXTINF:6.000,\nseg_00000.ts\n#EXT-X-ENDLIST\n"))
	put(layout.StreamPrefix(id)+"360p/iframes.m3u8", []byte("#EXTM3U\n#EXT-X-I-FRAMES-ONLY\n"))
	put(layout.SegmentKey(id, "360p", 0), f.seg)
	put(layout.PosterKey(id), []byte("\xff\xd8\xff poster"))
	put(layout.SpriteKey(id, 0), []byte("\xff\xd8\xff sprite 0"))
	put(layout.SpriteKey(id, 12), []byte("\xff\xd8\xff sprite 12"))
	put(layout.ThumbnailsKey(id), []byte("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite_0.jpg#xywh=0,0,160,90\n"))
	// Real files under the video's prefix whose kind is not served: if they
	// came back, the whitelist would be what failed, not a missing file.
	for _, k := range []string{
		"streams/" + id + "/source", "streams/" + id + "/360p/0.ts", "streams/" + id + "/360p/other.txt",
		"streams/" + id + "/360p/seg_00000.ts.bak", "streams/" + id + "/360p/seg_0000.ts", "streams/" + id + "/360p/SEG_00000.TS",
		"streams/" + id + "/master.m3u8.bak", "streams/" + id + "/360p/master.m3u8", "streams/" + id + "/index.m3u8",
		"streams/" + id + "/360p/sub/seg_00000.ts", "streams/" + id + "/360P/index.m3u8", "streams/" + id + "/.hidden/index.m3u8",
		"streams/" + strings.ToUpper(id) + "/master.m3u8", "streams/" + id[:23] + "/master.m3u8", "streams/" + id + "a/master.m3u8",
		"streams/abcdefghijklmnopqrstuvw0/master.m3u8", "streams/abcdefghijklmnopqrstuvw8/master.m3u8",
		"streams/master.m3u8",
		// Look-alikes of the pictures.
		"streams/" + id + "/poster.jpeg", "streams/" + id + "/poster.png", "streams/" + id + "/POSTER.JPG", "streams/" + id + "/poster.jpg.bak",
		"streams/" + id + "/360p/poster.jpg", "streams/" + id + "/sprite_00.jpg", "streams/" + id + "/sprite_012.jpg", "streams/" + id + "/sprite_.jpg",
		"streams/" + id + "/sprite_a.jpg", "streams/" + id + "/sprite_10000.jpg", "streams/" + id + "/sprite_0.png", "streams/" + id + "/360p/sprite_0.jpg",
		"streams/" + id + "/thumbnails.VTT", "streams/" + id + "/thumbnails.vtt.bak", "streams/" + id + "/360p/thumbnails.vtt", "streams/" + id + "/thumbs.vtt",
		"streams/" + id + "/sprite_-1.jpg", "streams/" + id + "/index.vtt", "streams/poster.jpg",
	} {
		put(k, []byte(markStray))
	}
	return f
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rawGet sends target byte for byte as the request target — no client-side
// cleaning or escaping — and reads the answer.
func rawGet(t *testing.T, addr, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := rawRequest(addr, http.MethodGet, target, hdr...)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	return resp, body
}

func rawRequest(addr, method, target string, hdr ...string) (*http.Response, []byte, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
	for i := 0; i+1 < len(hdr); i += 2 {
		req += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) // a cut-short body is what some tests look for
	return resp, body, nil
}

// refusedAll requests every target (a few at a time) and reports each one
// that is not refused as assertRefused wants.
func refusedAll(t *testing.T, addr string, targets []string, mux bool, hdr ...string) {
	t.Helper()
	type result struct {
		target string
		msg    string
	}
	work, results := make(chan string), make(chan result)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for target := range work {
				results <- result{target, checkRefused(addr, target, mux, hdr...)}
			}
		}()
	}
	go func() {
		for _, tg := range targets {
			work <- tg
		}
		close(work)
		wg.Wait()
		close(results)
	}()
	failed := 0
	for r := range results {
		if r.msg != "" {
			if failed++; failed <= 20 {
				t.Error(r.msg)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d targets not refused", failed, len(targets))
	}
}

// traversals builds every combination of an encoded "..", an encoded "/" and
// a target outside streams/{id}/, at every depth from the rendition directory
// up past the filesystem root.
func traversals() []string {
	dots := []string{
		"..", "%2e%2e", "%2E%2e", "%2e%2E", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "%25%32%65%25%32%65",
		"%c0%ae%c0%ae", "%C0%AE%C0%AE", "%e0%80%ae%e0%80%ae", "%f0%80%80%ae%f0%80%80%ae", "%u002e%u002e",
		"\u2024\u2024", "%e2%80%a4%e2%80%a4", "\uff0e\uff0e", "%ef%bc%8e%ef%bc%8e", "\u3002\u3002",
		"..;", "...", "..%00", "..%20", "..%09", ".. ", "..\\", "....//",
	}
	slashes := []string{"/", "%2f", "%2F", "%252f", "%25%32%66", "\\", "%5c", "%5C", "%255c", "%c0%af", "%e0%80%af", "%ef%bc%8f", "//", "/;x=1/", "/./"}
	// uploads/, work/ and root.txt sit 3 levels up, secret.conf 4, secret.txt 5.
	targets := []string{"uploads/" + id + "/source", "work/" + id + "/360p/0.ts", "keys/" + id + "/aes128.key", "secret.txt", "etc/passwd"}
	var out []string
	for _, dot := range dots {
		for _, sl := range slashes {
			for _, depth := range []int{3, 5, 12} {
				for _, target := range targets {
					up := strings.Repeat(dot+sl, depth)
					out = append(out, "/streams/"+id+"/360p/"+up+strings.ReplaceAll(target, "/", sl))
				}
			}
		}
	}
	return out
}

// tricks are the one-off shapes: absolute paths, listings, NUL, parameters,
// trailing dots and spaces, query and fragment games, ids and file kinds.
func tricks() []string {
	s := "/streams/" + id
	return []string{
		// Absolute paths and roots.
		"/streams//etc/passwd", "/streams/%2fetc%2fpasswd", "/streams/%2Fetc/passwd", "/streams/" + id + "//etc/passwd",
		s + "/360p//etc/passwd", s + "/360p/%2fetc%2fpasswd", "/streams/C:%5cWindows%5cwin.ini", "/streams/c:/windows/win.ini",
		"//streams/" + id + "/master.m3u8", "/streams/" + id + "/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
		"/streams/../secret.txt", "/streams/..%2fsecret.txt", "/streams/%2e%2e/uploads/" + id + "/source", "/streams/.%2e/root.txt",
		"http://evil.example/streams/" + id + "/../../uploads/" + id + "/source",
		// Listings of every directory level.
		"/streams", "/streams/", "/streams/.", s, s + "/", s + "/.", s + "/360p", s + "/360p/", s + "/360p/.", s + "/360p/%2e",
		s + "/360p/?C=M;O=A", "/streams/?dir=1", s + "/360p/*", s + "/360p/index.m3u8/",
		// NUL and other control characters, encoded.
		s + "/360p/seg_00000.ts%00.m3u8", s + "/master.m3u8%00", s + "%00/master.m3u8", s + "/360p/index.m3u8%0a", s + "/master.m3u8%0d%0a",
		// Path parameters, trailing dots and spaces, case.
		s + "/master.m3u8;x=1", s + ";x=1/master.m3u8", s + "/360p;/index.m3u8", s + "/..;/..;/root.txt", s + "/master.m3u8.",
		s + "/master.m3u8%20", s + "/master.m3u8%2e", s + "/360p./index.m3u8", s + "/360p%20/index.m3u8", s + "./master.m3u8",
		s + "/MASTER.M3U8", s + "/master.M3U8", s + "/360p/seg_00000.TS", s + "/360p/seg_00000.ts%20", s + "/master%2em3u8",
		// Query and fragment games that must not name a file (see also
		// TestQueryNeverNamesAFile).
		s + "/?../../uploads/" + id + "/source", "/streams?/" + id + "/../../root.txt", s + "/master.m3u8%3f/../../root.txt",
		s + "/master.m3u8%23/../../root.txt", "/streams/" + id + "?/master.m3u8", s + "/?file=master.m3u8",
		s + "/360p?/index.m3u8", s + "%3f/master.m3u8",
		// Encoded characters inside valid-looking names.
		"/streams/%61bcdefghijklmnopqrstuvwx/master.m3u8", s + "/%33%36%30p/index.m3u8", s + "/360p/seg_0000%30.ts",
		// Ids: the 24-character base32 shape only.
		"/streams/" + strings.ToUpper(id) + "/master.m3u8", "/streams/" + id[:23] + "/master.m3u8", "/streams/" + id + "a/master.m3u8",
		"/streams/abcdefghijklmnopqrstuvw0/master.m3u8", "/streams/abcdefghijklmnopqrstuvw8/master.m3u8",
		"/streams/abcdefghijklmnopqrstuvw=/master.m3u8", "/streams/abcdefghijklmnopqrstuv\u00e9/master.m3u8", "/streams/master.m3u8",
		// Kinds: only master.m3u8, the pictures, index.m3u8, iframes.m3u8 and seg_NNNNN.ts.
		s + "/source", s + "/360p/0.ts", s + "/360p/other.txt", s + "/360p/seg_00000.ts.bak", s + "/360p/seg_0000.ts",
		s + "/360p/SEG_00000.TS", s + "/master.m3u8.bak", s + "/360p/master.m3u8", s + "/index.m3u8", s + "/360p/sub/seg_00000.ts",
		s + "/360P/index.m3u8", s + "/.hidden/index.m3u8",
		// Pictures: poster.jpg, thumbnails.vtt and sprite_K.jpg beside the master, spelt so and no other way.
		s + "/poster.jpeg", s + "/poster.png", s + "/POSTER.JPG", s + "/Poster.jpg", s + "/poster.jpg.bak", s + "/360p/poster.jpg",
		s + "/poster.jpg.", s + "/poster.jpg%20", s + "/poster.jpg%00", s + "/poster.jpg;x=1", s + "/poster.jpg/", s + "/poster%2ejpg",
		s + "/%70oster.jpg", s + "/sprite_00.jpg", s + "/sprite_012.jpg", s + "/sprite_.jpg", s + "/sprite_a.jpg", s + "/sprite_10000.jpg",
		s + "/sprite_-1.jpg", s + "/sprite_0.png", s + "/sprite_0.JPG", s + "/sprite_%30.jpg", s + "/360p/sprite_0.jpg", s + "/sprite_0.jpg/",
		s + "/thumbnails.VTT", s + "/thumbnails.vtt.bak", s + "/360p/thumbnails.vtt", s + "/thumbs.vtt", s + "/index.vtt",
		s + "/thumbnails.vtt%00", s + "/thumbnails%2evtt", "/streams/poster.jpg", "/streams/" + id[:23] + "/poster.jpg",
		s + "/360p/../poster.jpg%00", s + "/360p/%2e%2e/sprite_00.jpg",
		// The key: /streams/{id}/key exactly, nothing like it, nothing else under keys/.
		s + "/key/", s + "/key.", s + "/key%20", s + "/key%00", s + "/key;x=1", s + "/key/.", s + "/key%2f", s + "/KEY", s + "/Key",
		s + "/%6bey", s + "/ke%79", s + "/key.m3u8", s + "/key.ts", s + "/aes128.key", s + "/keys", s + "/keys/aes128.key",
		s + "/360p/key", s + "/360p/../key%00", s + "%2fkey", s + "/key%3f", s + "/key%23", s + "//key", s + "/key/index.m3u8",
		"/streams/" + strings.ToUpper(id) + "/key", "/streams/" + id[:23] + "/key", "/streams/" + id + "a/key", "/streams/key",
		"/streams/keys/" + id + "/aes128.key", "/streams/" + id + "/%2e%2e/%2e%2e/keys/" + id + "/aes128.key",
		"/keys/" + id + "/aes128.key", "/keys/" + id + "/", "/key",
		// Not under /streams/ at all.
		"/uploads/" + id + "/source", "/work/" + id + "/360p/0.ts", "/root.txt", "/secret.txt", "/",
	}
}

func leaked(target string, resp *http.Response, body []byte) string {
	for _, m := range allMarks {
		if bytes.Contains(body, []byte(m)) {
			return fmt.Sprintf("GET %q leaked %s: %d %q", target, m, resp.StatusCode, body)
		}
	}
	return ""
}

// checkRefused requests target and, behind a mux, follows one redirect: the
// cleaned path must be refused as well, or be a published file of the video.
func checkRefused(addr, target string, mux bool, hdr ...string) string {
	resp, body, err := rawRequest(addr, http.MethodGet, target, hdr...)
	if err != nil {
		return err.Error()
	}
	if msg := refusal(target, resp, body, mux); msg != "" || !mux || resp.StatusCode/100 != 3 {
		return msg
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "" {
		return fmt.Sprintf("GET %q: redirected to %q", target, resp.Header.Get("Location"))
	}
	next := loc.EscapedPath()
	if loc.RawQuery != "" {
		next += "?" + loc.RawQuery
	}
	resp, body, err = rawRequest(addr, http.MethodGet, next, hdr...)
	if err != nil {
		return err.Error()
	}
	if _, ok := ObjectKey(loc.EscapedPath()); ok && resp.StatusCode == http.StatusOK {
		return leaked(target+" → "+next, resp, body)
	}
	if kid, ok := KeyVideoID(loc.EscapedPath()); ok && kid == id && resp.StatusCode == http.StatusOK && string(body) == markKey {
		return "" // cleaned to the video's key at its one published path
	}
	if resp.StatusCode/100 == 3 {
		return fmt.Sprintf("GET %q: redirected twice, to %q", target, resp.Header.Get("Location"))
	}
	return refusal(target+" → "+next, resp, body, mux)
}

// refusal is "" for an answer that is not a success, shows no marker, and
// is one of the fixed sentences (or Go's own 400 for a request line it
// cannot parse); otherwise it says what is wrong.
// With mux set, the answers of a ServeMux in front are fine too: its 404 for
// paths outside /streams/ and its redirects to cleaned paths (which are then
// requested, and refused, on their own).
func refusal(target string, resp *http.Response, body []byte, mux bool) string {
	if msg := leaked(target, resp, body); msg != "" {
		return msg
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		if string(body) != msgNotFound+"\n" && !(mux && string(body) == "404 page not found\n") {
			return fmt.Sprintf("GET %q: 404 body %q", target, body)
		}
	case http.StatusBadRequest:
		if !strings.HasPrefix(string(body), "400 Bad Request") {
			return fmt.Sprintf("GET %q: 400 body %q", target, body)
		}
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		if !mux {
			return fmt.Sprintf("GET %q: redirected to %q", target, resp.Header.Get("Location"))
		}
	default:
		return fmt.Sprintf("GET %q = %d %q, want 404", target, resp.StatusCode, body)
	}
	return ""
}

// The handler alone and mounted as hlsd mounts it (a ServeMux, whose path
// cleaning redirects instead): nothing outside streams/{id}/ — and nothing
// but the published kinds inside it — comes back, however it is spelt.
func TestNothingOutsideTheVideoPrefixByAnyEncoding(t *testing.T) {
	f := newFixture(t)
	handler := New(Config{}, Deps{Store: f.store, Log: quietLog()})
	mux := http.NewServeMux()
	mux.Handle(Prefix, handler)
	for _, mode := range []struct {
		name string
		h    http.Handler
	}{{"handler", handler}, {"mux", mux}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := httptest.NewServer(mode.h)
			defer srv.Close()
			addr := srv.Listener.Addr().String()
			// The fixture is served at all, so refusals below mean something.
			for _, p := range []string{"/master.m3u8", "/360p/index.m3u8", "/360p/iframes.m3u8", "/360p/seg_00000.ts", "/key",
				"/poster.jpg", "/thumbnails.vtt", "/sprite_0.jpg", "/sprite_12.jpg"} {
				if resp, _ := rawGet(t, addr, "/streams/"+id+p); resp.StatusCode != http.StatusOK {
					t.Fatalf("control %s = %d", p, resp.StatusCode)
				}
			}
			all := append(traversals(), tricks()...)
			refusedAll(t, addr, all, mode.name == "mux")
			t.Logf("%d targets refused", len(all))
		})
	}
}

// ObjectKey is the single gate: whatever it accepts is a valid store key
// inside one video's prefix, of a published kind.
func FuzzObjectKey(f *testing.F) {
	for _, p := range append(traversals()[:200], tricks()...) {
		f.Add(p)
	}
	f.Add("/streams/" + id + "/360p/seg_00000.ts")
	f.Fuzz(func(t *testing.T, p string) {
		key, ok := ObjectKey(p)
		if !ok {
			return
		}
		if err := store.ValidateKey(key); err != nil {
			t.Fatalf("ObjectKey(%q) = %q: %v", p, key, err)
		}
		parts := strings.Split(key, "/")
		if parts[0] != "streams" || !layout.ValidVideoID(parts[1]) || "/"+key != p {
			t.Fatalf("ObjectKey(%q) = %q", p, key)
		}
		last := parts[len(parts)-1]
		if !(key == layout.MasterKey(parts[1]) || len(parts) == 3 && pictureRe.MatchString(last) || len(parts) == 4 && fileRe.MatchString(last)) {
			t.Fatalf("ObjectKey(%q) = %q: not a published kind", p, key)
		}
	})
}

// KeyVideoID is the only way to keys/: it accepts /streams/{id}/key for a
// well-formed id and nothing else, and ObjectKey never accepts that path.
func FuzzKeyVideoID(f *testing.F) {
	for _, p := range append(traversals()[:200], tricks()...) {
		f.Add(p)
	}
	f.Add("/streams/" + id + "/key")
	f.Fuzz(func(t *testing.T, p string) {
		got, ok := KeyVideoID(p)
		if !ok {
			return
		}
		if !layout.ValidVideoID(got) || p != Prefix+got+"/"+layout.KeyName {
			t.Fatalf("KeyVideoID(%q) = %q", p, got)
		}
		if key, ok := ObjectKey(p); ok {
			t.Fatalf("ObjectKey(%q) = %q as well", p, key)
		}
		if err := store.ValidateKey(layout.EncryptionKeyKey(got)); err != nil {
			t.Fatal(err)
		}
	})
}

// A query (or what follows a raw '#', which HTTP has no use for) is never
// part of the file name: the path before it decides alone.
func TestQueryNeverNamesAFile(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: quietLog()}).Handler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	_, master := rawGet(t, addr, "/streams/"+id+"/master.m3u8")
	_, index := rawGet(t, addr, "/streams/"+id+"/360p/index.m3u8")
	for target, want := range map[string][]byte{
		"/streams/" + id + "/master.m3u8?/../../../secret.txt":           master,
		"/streams/" + id + "/master.m3u8?file=../../../../secret.txt":    master,
		"/streams/" + id + "/master.m3u8?%2e%2e%2f%2e%2e%2froot.txt":     master,
		"/streams/" + id + "/360p/index.m3u8?../seg_00000.ts&x=%00":      index,
		"/streams/" + id + "/master.m3u8#/../../root.txt":                nil,
		"/streams/" + id + "/360p/index.m3u8?token=../../uploads/source": index,
	} {
		resp, body := rawGet(t, addr, target)
		if want == nil {
			if msg := refusal(target, resp, body, false); msg != "" {
				t.Error(msg)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
			t.Errorf("GET %q = %d %q, want the file the path names", target, resp.StatusCode, body)
		}
	}
}

func TestNoDirectoryListings(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: quietLog()}).Handler())
	defer srv.Close()
	for _, p := range []string{"/streams/", "/streams/" + id + "/", "/streams/" + id + "/360p/", "/streams/" + id, "/streams/" + id + "/360p"} {
		resp, body := rawGet(t, srv.Listener.Addr().String(), p)
		if resp.StatusCode != http.StatusNotFound || string(body) != msgNotFound+"\n" {
			t.Errorf("GET %s = %d %q, want 404 %q", p, resp.StatusCode, body, msgNotFound)
		}
	}
}

// failingStore answers like a broken backend, with error text full of the
// things a client must not see.
type failingStore struct {
	store.Store
	stat, get bool
	getAfter  int64 // Get fails only for reads starting at or past this offset
}

var errLeaky = errors.New(`store: get /srv/hlsd/data/store/streams/x/360p/seg_00000.ts: open: input/output error (s3 AKIAEXAMPLE bucket "hlsd-private")`)

func (s failingStore) Stat(ctx context.Context, key string) (store.Info, error) {
	if s.stat {
		return store.Info{}, fmt.Errorf("stat %s: %w", key, errLeaky)
	}
	return s.Store.Stat(ctx, key)
}

func (s failingStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if s.get && off >= s.getAfter {
		return nil, fmt.Errorf("get %s: %w", key, errLeaky)
	}
	return s.Store.Get(ctx, key, off, n)
}

func TestStoreErrorsSayNothingInternal(t *testing.T) {
	f := newFixture(t)
	leaks := []string{"store", "/srv", "AKIA", "input/output", "hlsd-private", "open", "stat", "get ", id, "streams/"}
	master, seg := "/streams/"+id+"/master.m3u8", "/streams/"+id+"/360p/seg_00000.ts"
	for _, tc := range []struct {
		name   string
		st     failingStore
		target string
		hdr    []string
		status int // 0: the headers went out before the failure; only the body is checked
	}{
		{"stat, segment", failingStore{stat: true}, seg, nil, 503},
		{"stat, playlist", failingStore{stat: true}, master, nil, 503},
		{"stat, gzip playlist", failingStore{stat: true}, master, []string{"Accept-Encoding", "gzip"}, 503},
		{"get, segment", failingStore{get: true}, seg, nil, 503},
		{"get, playlist", failingStore{get: true}, master, nil, 503},
		{"get, gzip playlist", failingStore{get: true}, master, []string{"Accept-Encoding", "gzip"}, 503},
		{"get, ranged segment", failingStore{get: true}, seg, []string{"Range", "bytes=100-199"}, 0},
		{"get, second range", failingStore{get: true, getAfter: 1000}, seg, []string{"Range", "bytes=0-9,2000-2009"}, 0},
		{"get, key", failingStore{get: true}, "/streams/" + id + "/key", nil, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.st.Store = f.store
			var logged bytes.Buffer
			srv := httptest.NewServer(New(Config{}, Deps{Store: tc.st, Log: slog.New(slog.NewTextHandler(&logged, nil))}).Handler())
			defer srv.Close()
			resp, body := rawGet(t, srv.Listener.Addr().String(), tc.target, tc.hdr...)
			for _, l := range leaks {
				if bytes.Contains(bytes.ToLower(body), []byte(strings.ToLower(l))) {
					t.Fatalf("body %q contains %q", body, l)
				}
			}
			if tc.status != 0 {
				if resp.StatusCode != tc.status || string(body) != msgUnavailable+"\n" {
					t.Fatalf("= %d %q, want %d %q", resp.StatusCode, body, tc.status, msgUnavailable)
				}
				if resp.Header.Get("ETag") != "" || resp.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("error response cacheable: ETag %q Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
				}
				if !strings.Contains(logged.String(), "input/output error") {
					t.Fatalf("the cause was not logged: %s", logged.String())
				}
			}
		})
	}
}
