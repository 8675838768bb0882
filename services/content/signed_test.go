package content

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playback"
)

const otherID = "bcdefghijklmnopqrstuvwxy"

var (
	playSecret = []byte("test-playback-secret-0123456789abcdef")
	oldSecret  = []byte("older-playback-secret-0123456789abcdef")
	t0         = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

const signedMaster = "#EXTM3U\r\n#EXT-X-INDEPENDENT-SEGMENTS\r\n" +
	"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English, stereo\",DEFAULT=YES,URI=\"audio/index.m3u8\"\r\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=1165736,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aac\"\r\n" +
	"360p/index.m3u8\r\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=6000000,CODECS=\"avc1.640028\"\r\n" +
	"https://cdn.example.com/elsewhere/index.m3u8\r\n" +
	"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,CODECS=\"avc1.64001e\",URI=\"360p/iframes.m3u8\"\r\n"

const signedMedia = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.000,\nseg_00000.ts\n#EXTINF:6.000,\nseg_00001.ts\n#EXT-X-ENDLIST\n"

// clock is the injected Deps.Now, moved by tests while the server runs.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type signedEnv struct {
	srv    *httptest.Server
	signer *playback.Signer
	clock  *clock
	seg    []byte
}

func newSignedEnv(t *testing.T) *signedEnv {
	t.Helper()
	f := newFixture(t)
	seg := f.seg
	put := func(k, s string) {
		if err := f.store.Put(context.Background(), k, strings.NewReader(s), int64(len(s))); err != nil {
			t.Fatal(err)
		}
	}
	put(layout.MasterKey(id), signedMaster)
	put(layout.MediaPlaylistKey(id, "360p"), signedMedia)
	put(layout.MasterKey(otherID), "#EXTM3U\n360p/index.m3u8\n")
	put(layout.SegmentKey(otherID, "360p", 0), "other video")
	signer, err := playback.NewSigner(time.Hour, playSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	c.set(t0)
	srv := httptest.NewServer(New(Config{}, Deps{Store: f.store, Log: quietLog(), Signer: signer, Now: c.now}).Handler())
	t.Cleanup(srv.Close)
	return &signedEnv{srv: srv, signer: signer, clock: c, seg: seg}
}

func (e *signedEnv) get(t *testing.T, pathAndQuery string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return do(t, "GET", e.srv.URL+pathAndQuery, hdr)
}

func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestSignedRequestsNeedAValidToken(t *testing.T) {
	e := newSignedEnv(t)
	good := e.signer.Token(id, t0)
	foreign, _ := playback.NewSigner(time.Hour, []byte("somebody-elses-secret-0123456789abcdef"))
	retired, _ := playback.NewSigner(time.Hour, oldSecret)
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	raw[0] = 9
	master := "/streams/" + id + "/master.m3u8"
	seg := "/streams/" + id + "/360p/seg_00000.ts"
	for _, tc := range []struct {
		name, path, query string
		status            int
		body              string
	}{
		{"valid", master, "token=" + good, 200, ""},
		{"valid on a segment", seg, "token=" + good, 200, ""},
		{"valid, other parameters too", master, "a=1&token=" + good + "&b=2", 200, ""},
		{"signed by the previous secret (rotation)", master, "token=" + retired.Token(id, t0), 200, ""},
		{"missing", master, "", 403, msgNoToken},
		{"missing on a segment", seg, "", 403, msgNoToken},
		{"missing on the media playlist", "/streams/" + id + "/360p/index.m3u8", "", 403, msgNoToken},
		{"empty", master, "token=", 403, msgNoToken},
		{"wrong parameter name", master, "Token=" + good, 403, msgNoToken},
		{"twice", master, "token=" + good + "&token=" + good, 403, msgNoToken},
		{"wrong", master, "token=" + strings.Repeat("A", playback.TokenLen), 403, msgNoToken},
		{"for another video", master, "token=" + e.signer.Token(otherID, t0), 403, msgNoToken},
		{"another video's token on its segment", seg, "token=" + e.signer.Token(otherID, t0), 403, msgNoToken},
		{"expired", master, "token=" + e.signer.Sign(id, t0.Add(-time.Second)), 403, msgExpired},
		{"expires right now", seg, "token=" + e.signer.Sign(id, t0), 403, msgExpired},
		{"tampered signature", master, "token=" + flip(good, playback.TokenLen-5), 403, msgNoToken},
		{"tampered expiry", master, "token=" + flip(good, 8), 403, msgNoToken},
		{"another secret", master, "token=" + foreign.Token(id, t0), 403, msgNoToken},
		{"malformed base64", master, "token=" + strings.Repeat("!", playback.TokenLen), 403, msgNoToken},
		{"standard base64 alphabet", master, "token=" + url.QueryEscape(strings.Repeat("+/", playback.TokenLen/2)+"A"), 403, msgNoToken},
		{"truncated", master, "token=" + good[:30], 403, msgNoToken},
		{"padded", master, "token=" + good + "%3D", 403, msgNoToken},
		{"unknown version", master, "token=" + base64.RawURLEncoding.EncodeToString(raw), 403, msgNoToken},
		{"semicolon trick", master, "x=1;token=" + good, 403, msgNoToken},
		{"not a video path: no token asked", "/streams/" + id + "%2f..%2fx", "", 404, msgNotFound},
		{"listing with a valid token", "/streams/" + id + "/", "token=" + good, 404, msgNotFound},
		{"other kinds with a valid token", "/streams/" + id + "/360p/0.ts", "token=" + good, 404, msgNotFound},
		{"unknown video, no token: no existence oracle", "/streams/zzzzzzzzzzzzzzzzzzzzzzzz/master.m3u8", "", 403, msgNoToken},
		{"unknown video, valid token", "/streams/zzzzzzzzzzzzzzzzzzzzzzzz/master.m3u8", "token=" + e.signer.Token("zzzzzzzzzzzzzzzzzzzzzzzz", t0), 404, msgNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.path
			if tc.query != "" {
				target += "?" + tc.query
			}
			resp, body := e.get(t, target, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d %q, want %d", target, resp.StatusCode, body, tc.status)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("no CORS header on a %d", resp.StatusCode)
			}
			if tc.status == 200 {
				return
			}
			if string(body) != tc.body+"\n" {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("ETag") != "" {
				t.Errorf("refusal cacheable: %v", resp.Header)
			}
		})
	}
}

// A player given only the master URL reaches every playlist and segment
// through the rewritten URIs, and loses them all when the token expires.
func TestSignedPlaybackFollowsThePropagatedToken(t *testing.T) {
	e := newSignedEnv(t)
	tok := e.signer.Token(id, t0)
	masterURL := "/streams/" + id + "/master.m3u8?token=" + tok

	resp, body := e.get(t, masterURL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != TypePlaylist {
		t.Fatalf("master: %d %q", resp.StatusCode, body)
	}
	want, err := playback.RewritePlaylist([]byte(signedMaster), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("master body\n%q\nwant\n%q", body, want)
	}
	for _, s := range []string{
		`URI="audio/index.m3u8?token=` + tok + `"`, "\r\n360p/index.m3u8?token=" + tok + "\r\n",
		`URI="360p/iframes.m3u8?token=` + tok + `"`, "\r\nhttps://cdn.example.com/elsewhere/index.m3u8\r\n",
	} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("master lacks %q", s)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, max-age=10" {
		t.Errorf("master Cache-Control %q", cc)
	}
	if resp.ContentLength != int64(len(want)) {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(want))
	}

	// Follow the URIs as a player would: resolved against the master's URL.
	base, _ := url.Parse(e.srv.URL + masterURL)
	resolve := func(ref string) string {
		u, err := base.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		return u.RequestURI()
	}
	mediaURL := resolve("360p/index.m3u8?token=" + tok)
	resp, body = e.get(t, mediaURL, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "\nseg_00000.ts?token="+tok+"\n") || !strings.Contains(string(body), "\nseg_00001.ts?token="+tok+"\n") {
		t.Fatalf("media playlist: %d %q", resp.StatusCode, body)
	}
	if resp, body := e.get(t, resolve("360p/iframes.m3u8?token="+tok), nil); resp.StatusCode != 200 {
		t.Fatalf("iframes playlist: %d %q", resp.StatusCode, body)
	}
	base, _ = url.Parse(e.srv.URL + mediaURL)
	segRef, _ := base.Parse("seg_00000.ts?token=" + tok)
	segURL := segRef.RequestURI()

	e.clock.advance(10 * time.Minute)
	resp, body = e.get(t, segURL, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, e.seg) {
		t.Fatalf("segment: %d, %d bytes", resp.StatusCode, len(body))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, max-age=3000, immutable" {
		t.Errorf("segment Cache-Control %q, want the 50 minutes the token has left", cc)
	}
	// Range and ETag/304 on a signed segment.
	etag := resp.Header.Get("ETag")
	resp, body = e.get(t, segURL, map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, e.seg[100:200]) {
		t.Fatalf("signed Range: %d %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := e.get(t, segURL, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("signed segment If-None-Match: %d", resp.StatusCode)
	}
	// The same segment for a token of another video, or with none, is closed.
	if resp, _ := e.get(t, "/streams/"+id+"/360p/seg_00000.ts?token="+e.signer.Token(otherID, t0), nil); resp.StatusCode != 403 {
		t.Fatalf("segment with another video's token: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, "/streams/"+otherID+"/360p/seg_00000.ts?token="+tok, nil); resp.StatusCode != 403 {
		t.Fatalf("other video's segment with this token: %d", resp.StatusCode)
	}

	// A second before expiry: open, with a cache lifetime of one second.
	e.clock.set(t0.Add(time.Hour - time.Second))
	resp, _ = e.get(t, segURL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "private, max-age=1, immutable" {
		t.Fatalf("just before expiry: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	// At expiry the leaked segment URL, the playlists and the master all close.
	e.clock.set(t0.Add(time.Hour))
	for _, u := range []string{segURL, mediaURL, masterURL} {
		resp, body := e.get(t, u, nil)
		if resp.StatusCode != 403 || string(body) != msgExpired+"\n" {
			t.Fatalf("after expiry %s = %d %q", u, resp.StatusCode, body)
		}
	}
	// Even a conditional request: no 304 for a dead token.
	if resp, _ := e.get(t, segURL, map[string]string{"If-None-Match": etag}); resp.StatusCode != 403 {
		t.Fatalf("If-None-Match after expiry: %d", resp.StatusCode)
	}
}

func TestSignedPlaylistsGzipETagRange(t *testing.T) {
	e := newSignedEnv(t)
	tok := e.signer.Token(id, t0)
	u := "/streams/" + id + "/master.m3u8?token=" + tok
	resp, plain := e.get(t, u, nil)
	plainETag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || plainETag == "" {
		t.Fatalf("plain: %d %v", resp.StatusCode, resp.Header)
	}

	resp, gz := e.get(t, u, map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if !bytes.Equal(unz, plain) || !bytes.Contains(unz, []byte("?token="+tok)) {
		t.Fatalf("gzip body is not the rewritten playlist: %q", unz)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, max-age=10" {
		t.Errorf("gzip Cache-Control %q", cc)
	}
	gzETag := resp.Header.Get("ETag")

	// Every representation has its own ETag: stored, rewritten, rewritten+gzip,
	// and rewritten for another token.
	other := e.signer.Token(id, t0.Add(time.Minute))
	resp, otherBody := e.get(t, "/streams/"+id+"/master.m3u8?token="+other, nil)
	otherETag := resp.Header.Get("ETag")
	if !bytes.Contains(otherBody, []byte("?token="+other)) {
		t.Fatalf("second token not propagated: %q", otherBody)
	}
	open := httptest.NewServer(New(Config{}, Deps{Store: newSignedStore(t), Log: quietLog()}).Handler())
	defer open.Close()
	resp, _ = do(t, "GET", open.URL+"/streams/"+id+"/master.m3u8", nil)
	storedETag := resp.Header.Get("ETag")
	seen := map[string]bool{}
	for _, tag := range []string{plainETag, gzETag, otherETag, storedETag} {
		if tag == "" || seen[tag] {
			t.Fatalf("ETags not distinct: plain %s gzip %s other %s stored %s", plainETag, gzETag, otherETag, storedETag)
		}
		seen[tag] = true
	}

	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"plain 304", map[string]string{"If-None-Match": plainETag}, 304},
		{"gzip 304", map[string]string{"If-None-Match": gzETag, "Accept-Encoding": "gzip"}, 304},
		{"gzip 304 from a list, weak", map[string]string{"If-None-Match": `"x", W/` + gzETag, "Accept-Encoding": "gzip"}, 304},
		{"plain ETag does not match the gzip form", map[string]string{"If-None-Match": plainETag, "Accept-Encoding": "gzip"}, 200},
		{"another token's ETag does not match", map[string]string{"If-None-Match": otherETag}, 200},
	} {
		resp, body := e.get(t, u, tc.hdr)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d", tc.name, resp.StatusCode)
		}
		if tc.want == 304 && (len(body) != 0 || resp.Header.Get("Cache-Control") != "private, max-age=10") {
			t.Errorf("%s: body %q Cache-Control %q", tc.name, body, resp.Header.Get("Cache-Control"))
		}
	}

	// Range on a rewritten playlist addresses the rewritten bytes.
	resp, part := e.get(t, u, map[string]string{"Range": "bytes=10-59", "Accept-Encoding": "gzip"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, plain[10:60]) || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("Range on the rewritten playlist: %d %q", resp.StatusCode, part)
	}
	// HEAD tells the rewritten length.
	resp, body := do(t, "HEAD", e.srv.URL+u, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(plain)) {
		t.Fatalf("HEAD: %d %d", resp.StatusCode, resp.ContentLength)
	}
	// Preflights need no token.
	resp, _ = do(t, "OPTIONS", e.srv.URL+"/streams/"+id+"/master.m3u8", map[string]string{"Origin": "https://player.example", "Access-Control-Request-Headers": "range"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
}

func newSignedStore(t *testing.T) *failingStore {
	f := newFixture(t)
	if err := f.store.Put(context.Background(), layout.MasterKey(id), strings.NewReader(signedMaster), int64(len(signedMaster))); err != nil {
		t.Fatal(err)
	}
	return &failingStore{Store: f.store}
}

// Without a Signer nothing changes: a token parameter is ignored and the
// playlist is served as stored, publicly cacheable.
func TestOpenDeploymentIgnoresTokens(t *testing.T) {
	srv := httptest.NewServer(New(Config{}, Deps{Store: newSignedStore(t), Log: quietLog()}).Handler())
	defer srv.Close()
	for _, q := range []string{"", "?token=garbage"} {
		resp, body := do(t, "GET", srv.URL+"/streams/"+id+"/master.m3u8"+q, nil)
		if resp.StatusCode != 200 || string(body) != signedMaster || resp.Header.Get("Cache-Control") != cacheMaster {
			t.Fatalf("GET master%s = %d %q %q", q, resp.StatusCode, body, resp.Header.Get("Cache-Control"))
		}
	}
}

// With a Signer, even a valid token opens nothing outside streams/{id}/.
func TestSignedNothingOutsideTheVideoPrefix(t *testing.T) {
	e := newSignedEnv(t)
	tok := e.signer.Token(id, t0)
	var targets []string
	for _, p := range append(traversals(), tricks()...) {
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		targets = append(targets, p+sep+"token="+tok)
	}
	refusedAll(t, e.srv.Listener.Addr().String(), targets, false)
}

// Store failures on signed playlists say nothing either.
func TestSignedStoreErrorsSayNothingInternal(t *testing.T) {
	st := newSignedStore(t)
	st.get = true
	signer, _ := playback.NewSigner(time.Hour, playSecret)
	srv := httptest.NewServer(New(Config{}, Deps{Store: st, Log: quietLog(), Signer: signer, Now: func() time.Time { return t0 }}).Handler())
	defer srv.Close()
	for _, enc := range []string{"", "gzip"} {
		resp, body := do(t, "GET", srv.URL+"/streams/"+id+"/master.m3u8?token="+signer.Token(id, t0), map[string]string{"Accept-Encoding": enc})
		if resp.StatusCode != 503 || string(body) != msgUnavailable+"\n" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%q: %d %q %v", enc, resp.StatusCode, body, resp.Header)
		}
	}
}
