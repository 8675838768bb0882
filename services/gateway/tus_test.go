package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/tusstore"
)

// A tus client written out request by request, as the protocol says.
type tusClient struct {
	t     *testing.T
	token string
}

type tusResp struct {
	status int
	header http.Header
	body   string
}

// errMsg is the sentence of a JSON error answer.
func (r tusResp) errMsg() string {
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error
}

func (c tusClient) do(method, url string, hdr map[string]string, body []byte) tusResp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if method != http.MethodOptions {
		req.Header.Set("Tus-Resumable", "1.0.0")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return tusResp{resp.StatusCode, resp.Header, string(b)}
}

func tusMeta(filename string) string {
	return "filename " + base64.StdEncoding.EncodeToString([]byte(filename))
}

// create POSTs a new upload and returns its URL.
func (c tusClient) create(base string, length int, filename string) (string, tusResp) {
	c.t.Helper()
	r := c.do(http.MethodPost, base+TusPath, map[string]string{"Upload-Length": strconv.Itoa(length), "Upload-Metadata": tusMeta(filename)}, nil)
	if r.status != http.StatusCreated || r.header.Get("Location") == "" {
		c.t.Fatalf("POST %s: %d %q", TusPath, r.status, r.body)
	}
	return r.header.Get("Location"), r
}

func (c tusClient) patch(url string, offset int, chunk []byte) tusResp {
	c.t.Helper()
	return c.do(http.MethodPatch, url, map[string]string{"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream"}, chunk)
}

func (c tusClient) offset(url string) int {
	c.t.Helper()
	r := c.do(http.MethodHead, url, nil, nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("HEAD %s: %d", url, r.status)
	}
	n, err := strconv.Atoi(r.header.Get("Upload-Offset"))
	if err != nil {
		c.t.Fatalf("HEAD %s: Upload-Offset %q", url, r.header.Get("Upload-Offset"))
	}
	return n
}

// tusGateway serves a gateway with resumable uploads in their own
// directory on real HTTP.
func tusGateway(t *testing.T, tokens ...string) (base string, d *Gateway, storeDir, tusDir string) {
	t.Helper()
	return tusGatewayWith(t, func(*Gateway) {}, tokens...)
}

// tusGatewayWith is tusGateway with the Deps changed by set first.
func tusGatewayWith(t *testing.T, set func(*Gateway), tokens ...string) (base string, d *Gateway, storeDir, tusDir string) {
	t.Helper()
	bus := startBus(t)
	stubEncoder(t, bus)
	d, storeDir = newDeps(t, bus, &logBuffer{}, tokens...)
	tusDir = t.TempDir()
	ts, err := tusstore.Files(tusDir)
	if err != nil {
		t.Fatal(err)
	}
	d.Resumable = NewResumable(ts)
	d.AllowedOrigins = []string{"https://app.example.com"}
	set(d)
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, d, storeDir, tusDir
}

// body is n bytes whose size makes stubEncoder finish the video ready.
func tusBody(n int) []byte {
	if n%3 != 0 {
		panic("stubEncoder fails sizes that are not multiples of 3")
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestTusUploadInChunksBecomesAVideo(t *testing.T) {
	t.Parallel()
	base, d, storeDir, tusDir := tusGateway(t)
	c := tusClient{t: t}
	data := tusBody(3000)
	loc, created := c.create(base, len(data), "holiday.mp4")
	id := created.header.Get(HeaderVideoID)
	if !layout.ValidVideoID(id) || !strings.HasSuffix(loc, TusPath+id) || created.header.Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("creation answer: Location %q, %s %q", loc, HeaderVideoID, id)
	}
	var last tusResp
	for off, i := 0, 0; i < 3; i++ {
		end := min(off+1000, len(data))
		last = c.patch(loc, off, data[off:end])
		if last.status != http.StatusNoContent || last.header.Get("Upload-Offset") != strconv.Itoa(end) {
			t.Fatalf("PATCH %d: %d %q %q", i, last.status, last.header.Get("Upload-Offset"), last.body)
		}
		if i < 2 && (last.header.Get(HeaderVideoID) != "" || c.offset(loc) != end) {
			t.Fatalf("after chunk %d: video header %q, offset %d", i, last.header.Get(HeaderVideoID), c.offset(loc))
		}
		off = end
	}
	// The final answer names the video, which exists already.
	if last.header.Get(HeaderVideoID) != id || last.header.Get(HeaderStatusURL) != "/api/videos/"+id {
		t.Fatalf("final PATCH headers: %v", last.header)
	}
	v, err := d.Bus.Videos.Get(context.Background(), id)
	if err != nil || v.Filename != "holiday.mp4" || v.Size != int64(len(data)) {
		t.Fatalf("video after the final PATCH: %+v %v", v, err)
	}
	src, err := os.ReadFile(filepath.Join(storeDir, filepath.FromSlash(layout.SourceKey(id))))
	if err != nil || !bytes.Equal(src, data) {
		t.Fatalf("stored source: %d bytes, %v", len(src), err)
	}
	// The tus copy is gone; HEAD still tells the client what became of it.
	if left, _ := os.ReadDir(tusDir); len(left) != 0 {
		t.Errorf("upload directory still holds %v", left)
	}
	h := c.do(http.MethodHead, loc, nil, nil)
	if h.status != http.StatusOK || h.header.Get("Upload-Offset") != "3000" || h.header.Get("Upload-Length") != "3000" || h.header.Get(HeaderVideoID) != id {
		t.Errorf("HEAD after completion: %d %v", h.status, h.header)
	}
	// And the API shows it.
	g := c.do(http.MethodGet, base+"/api/videos/"+id, nil, nil)
	if g.status != http.StatusOK || !strings.Contains(g.body, `"filename": "holiday.mp4"`) {
		t.Errorf("GET /api/videos/%s: %d %s", id, g.status, g.body)
	}
}

// A whole upload in the creation request (creation-with-upload).
func TestTusCreationWithUpload(t *testing.T) {
	t.Parallel()
	base, d, _, _ := tusGateway(t)
	c := tusClient{t: t}
	data := tusBody(600)
	r := c.do(http.MethodPost, base+TusPath, map[string]string{
		"Upload-Length": "600", "Upload-Metadata": tusMeta("one.mp4"), "Content-Type": "application/offset+octet-stream",
	}, data)
	id := r.header.Get(HeaderVideoID)
	if r.status != http.StatusCreated || r.header.Get("Upload-Offset") != "600" || r.header.Get(HeaderStatusURL) != "/api/videos/"+id {
		t.Fatalf("POST with the whole body: %d %v %q", r.status, r.header, r.body)
	}
	if _, err := d.Bus.Videos.Get(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

func TestTusRefusals(t *testing.T) {
	t.Parallel()
	base, _, _, tusDir := tusGateway(t) // limit 4 KiB
	c := tusClient{t: t}
	check := func(name string, r tusResp, status int, sentence string) {
		t.Helper()
		if r.status != status || sentence != "" && (!strings.Contains(r.errMsg(), sentence) || !isSentence(r.errMsg()) || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json")) {
			t.Errorf("%s: %d %q, want %d with %q", name, r.status, r.body, status, sentence)
		}
	}
	post := func(hdr map[string]string) tusResp { return c.do(http.MethodPost, base+TusPath, hdr, nil) }
	check("Upload-Length abc", post(map[string]string{"Upload-Length": "abc"}), 400, "Upload-Length must be")
	check("Upload-Length -1", post(map[string]string{"Upload-Length": "-1"}), 400, "Upload-Length must be")
	check("no Upload-Length", post(nil), 400, "Upload-Length must be")
	check("Upload-Length 0", post(map[string]string{"Upload-Length": "0"}), 400, "The uploaded file is empty.")
	check("over the limit", post(map[string]string{"Upload-Length": "4097"}), 413, "larger than the 4 KiB upload limit")
	check("no Tus-Resumable", c.do(http.MethodPost, base+TusPath, map[string]string{"Upload-Length": "3", "Tus-Resumable": ""}, nil), 412, "Tus-Resumable: 1.0.0")
	check("concatenation", post(map[string]string{"Upload-Length": "3", "Upload-Concat": "partial"}), 400, "does not support")

	loc, _ := c.create(base, 300, "a.mp4")
	if r := c.patch(loc, 0, tusBody(150)); r.status != http.StatusNoContent {
		t.Fatalf("first PATCH: %d %s", r.status, r.body)
	}
	check("offset behind", c.patch(loc, 0, tusBody(150)), 409, "send HEAD for the current offset")
	check("offset ahead", c.patch(loc, 300, tusBody(3)), 409, "send HEAD for the current offset")
	check("offset abc", c.do(http.MethodPatch, loc, map[string]string{"Upload-Offset": "x", "Content-Type": "application/offset+octet-stream"}, []byte("abc")), 400, "Upload-Offset must be")
	check("past Upload-Length", c.patch(loc, 150, tusBody(153)), 413, "more bytes than the Upload-Length")
	check("wrong Content-Type", c.do(http.MethodPatch, loc, map[string]string{"Upload-Offset": "150", "Content-Type": "video/mp4"}, []byte("abc")), 400, "application/offset+octet-stream")
	if got := c.offset(loc); got != 150 {
		t.Errorf("refused PATCHes moved the offset to %d", got)
	}
	check("unknown upload", c.patch(base+TusPath+layout.NewVideoID(), 0, []byte("abc")), 404, "No upload has that id")
	check("malformed id", c.patch(base+TusPath+"..%2F..%2Fetc", 0, []byte("abc")), 404, "No upload has that id.")
	check("malformed id (HEAD)", c.do(http.MethodHead, base+TusPath+"x", nil, nil), 404, "")
	check("download", c.do(http.MethodGet, loc, nil, nil), 405, "")

	// Termination removes the upload and its bytes.
	if r := c.do(http.MethodDelete, loc, nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodHead, loc, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD after DELETE: %d", r.status)
	}
	check("PATCH after DELETE", c.patch(loc, 150, tusBody(150)), 404, "No upload has that id")
	if left, _ := os.ReadDir(tusDir); len(left) != 0 {
		t.Errorf("DELETE left %v", left)
	}
}

func TestTusNeedsTheToken(t *testing.T) {
	t.Parallel()
	const token = "tus-token-0123456789abcdef"
	base, _, _, _ := tusGateway(t, token)
	anon := tusClient{t: t}
	for _, r := range []struct{ method, path string }{
		{"POST", TusPath}, {"POST", "/api/uploads"}, {"HEAD", TusPath + layout.NewVideoID()},
		{"PATCH", TusPath + layout.NewVideoID()}, {"DELETE", TusPath + layout.NewVideoID()},
	} {
		resp := anon.do(r.method, base+r.path, map[string]string{"Upload-Length": "3", "Origin": "https://app.example.com"}, nil)
		if resp.status != http.StatusUnauthorized || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), `Bearer realm="hlsd"`) ||
			resp.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Errorf("%s %s without a token: %d %v", r.method, r.path, resp.status, resp.header)
		}
		if r.method != "HEAD" && resp.errMsg() != msgNoToken {
			t.Errorf("%s %s without a token: %q", r.method, r.path, resp.body)
		}
	}
	wrong := tusClient{t: t, token: "wrong-token-0123456789abc"}
	if r := wrong.do("POST", base+TusPath, map[string]string{"Upload-Length": "3"}, nil); r.status != http.StatusUnauthorized || r.errMsg() != msgBadToken {
		t.Errorf("wrong token: %d %s", r.status, r.body)
	}
	// Discovery and the CORS preflight need none (browsers send no
	// Authorization on a preflight).
	pre := anon.do(http.MethodOptions, base+TusPath, map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, upload-length",
	}, nil)
	if pre.status != http.StatusOK || pre.header.Get("Tus-Version") != "1.0.0" || pre.header.Get("Tus-Max-Size") != "4096" ||
		!strings.Contains(pre.header.Get("Tus-Extension"), "termination") || strings.Contains(pre.header.Get("Tus-Extension"), "concatenation") ||
		pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("OPTIONS: %d %v", pre.status, pre.header)
	}
	ok := tusClient{t: t, token: token}
	loc, r := ok.create(base, 3, "a.mp4")
	if r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	if r := ok.patch(loc, 0, tusBody(3)); r.status != http.StatusNoContent || r.header.Get(HeaderVideoID) == "" ||
		!strings.Contains(ok.do(http.MethodPatch, loc, map[string]string{"Origin": "https://app.example.com"}, nil).header.Get("Access-Control-Expose-Headers"), HeaderVideoID) {
		t.Errorf("PATCH with the token: %d %v", r.status, r.header)
	}
}

// A PATCH whose connection dies half-way keeps the bytes that arrived; HEAD
// tells the client where to resume.
func TestTusResumeAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	base, d, storeDir, _ := tusGateway(t)
	c := tusClient{t: t}
	data := tusBody(3000)
	loc, created := c.create(base, len(data), "cut.mp4")
	u, _ := url.Parse(loc)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, len(data))
	if _, err := conn.Write(data[:1234]); err != nil {
		t.Fatal(err)
	}
	conn.Close() // the client is gone
	deadline := time.Now().Add(30 * time.Second)
	off := c.offset(loc)
	for off != 1234 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // until the server has read to the cut
		off = c.offset(loc)
	}
	if off != 1234 {
		t.Fatalf("offset after the cut: %d, want 1234", off)
	}
	if r := c.patch(loc, off, data[off:]); r.status != http.StatusNoContent || r.header.Get(HeaderVideoID) != created.header.Get(HeaderVideoID) {
		t.Fatalf("resuming: %d %q", r.status, r.body)
	}
	id := created.header.Get(HeaderVideoID)
	src, err := os.ReadFile(filepath.Join(storeDir, filepath.FromSlash(layout.SourceKey(id))))
	if err != nil || !bytes.Equal(src, data) {
		t.Fatalf("stored source after resuming: %d bytes, %v", len(src), err)
	}
	if _, err := d.Bus.Videos.Get(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

// The same with the connection half-closed: the client reads tusd's answer
// to the short body.
func TestTusShortBodyAnswer(t *testing.T) {
	t.Parallel()
	base, _, _, _ := tusGateway(t)
	c := tusClient{t: t}
	loc, _ := c.create(base, 300, "cut.mp4")
	u, _ := url.Parse(loc)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 300\r\n\r\n", u.Path, u.Host)
	conn.Write(tusBody(150))
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	r := tusResp{resp.StatusCode, resp.Header, string(b)}
	if r.status != http.StatusBadRequest || r.errMsg() != "The upload was interrupted; send HEAD for the offset that was stored and resume from it." {
		t.Errorf("short body: %d %s", r.status, r.body)
	}
	if off := c.offset(loc); off != 150 {
		t.Errorf("offset %d after a short body of 150", off)
	}
}

// flakyStore fails every Put while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.down.Load() {
		return errors.New("store unreachable")
	}
	return f.Store.Put(ctx, key, r, size)
}

// If the video cannot be made when the last byte arrives, the upload is
// kept, and the client's next HEAD makes it.
func TestTusFinishRetriedByHead(t *testing.T) {
	t.Parallel()
	bus := startBus(t)
	stubEncoder(t, bus)
	d, _ := newDeps(t, bus, &logBuffer{})
	fs := &flakyStore{Store: d.Store}
	d.Store = fs
	ts, err := tusstore.Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rs := NewResumable(ts)
	d.Resumable = rs
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	c := tusClient{t: t}
	loc, created := c.create(srv.URL, 300, "later.mp4")
	fs.down.Store(true)
	r := c.patch(loc, 0, tusBody(300))
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.errMsg(), "send HEAD to this upload's URL shortly") || !isSentence(r.errMsg()) {
		t.Fatalf("final PATCH with the store down: %d %s", r.status, r.body)
	}
	if h := c.do(http.MethodHead, loc, nil, nil); h.status != http.StatusServiceUnavailable {
		t.Fatalf("HEAD with the store still down: %d %v", h.status, h.header)
	}
	fs.down.Store(false)
	h := c.do(http.MethodHead, loc, nil, nil)
	id := created.header.Get(HeaderVideoID)
	if h.status != http.StatusOK || h.header.Get(HeaderVideoID) != id || h.header.Get("Upload-Offset") != "300" {
		t.Fatalf("HEAD with the store back: %d %v", h.status, h.header)
	}
	if v, err := bus.Videos.Get(context.Background(), id); err != nil || v.Filename != "later.mp4" {
		t.Fatalf("video: %+v %v", v, err)
	}
}

// An upload complete on disk but never made into a video (the gateway
// stopped in between) becomes one at the client's HEAD.
func TestTusStrandedUploadFinishedByHead(t *testing.T) {
	t.Parallel()
	base, d, _, tusDir := tusGateway(t)
	ctx := context.Background()
	id := layout.NewVideoID()
	data := tusBody(999)
	up, err := d.Resumable.store.Composer.Core.NewUpload(ctx, tushandler.FileInfo{ID: id, Size: int64(len(data)), MetaData: tushandler.MetaData{"filename": "stranded.mp4"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.WriteChunk(ctx, 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	h := tusClient{t: t}.do(http.MethodHead, base+TusPath+id, nil, nil)
	if h.status != http.StatusOK || h.header.Get(HeaderVideoID) != id || h.header.Get("Upload-Offset") != "999" {
		t.Fatalf("HEAD: %d %v", h.status, h.header)
	}
	if v, err := d.Bus.Videos.Get(ctx, id); err != nil || v.Filename != "stranded.mp4" || v.Size != 999 {
		t.Fatalf("video: %+v %v", v, err)
	}
	if left, _ := os.ReadDir(tusDir); len(left) != 0 {
		t.Errorf("upload directory still holds %v", left)
	}
}

func TestTusSweepRemovesExpiredUploads(t *testing.T) {
	t.Parallel()
	base, d, _, tusDir := tusGateway(t)
	c := tusClient{t: t}
	old, _ := c.create(base, 300, "old.mp4")
	c.patch(old, 0, tusBody(3))
	n, err := d.Resumable.Sweep(context.Background(), time.Now(), 24*time.Hour)
	if err != nil || n != 0 {
		t.Fatalf("sweep of a fresh upload: %d %v", n, err)
	}
	n, err = d.Resumable.Sweep(context.Background(), time.Now().Add(25*time.Hour), 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("sweep a day later: %d %v", n, err)
	}
	if r := c.do(http.MethodHead, old, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD of an expired upload: %d", r.status)
	}
	if left, _ := os.ReadDir(tusDir); len(left) != 0 {
		t.Errorf("sweep left %v", left)
	}
}

func TestTusSentences(t *testing.T) {
	t.Parallel()
	for _, code := range []string{
		"ERR_UNSUPPORTED_VERSION", "ERR_MAX_SIZE_EXCEEDED", "ERR_INVALID_CONTENT_TYPE", "ERR_INVALID_UPLOAD_LENGTH", "ERR_INVALID_OFFSET",
		"ERR_UPLOAD_NOT_FOUND", "ERR_UPLOAD_LOCKED", "ERR_LOCK_TIMEOUT", "ERR_MISMATCHED_OFFSET", "ERR_UPLOAD_SIZE_EXCEEDED",
		"ERR_NOT_IMPLEMENTED", "ERR_CONCATENATION_UNSUPPORTED", "ERR_AMBIGUOUS_UPLOAD_LENGTH", "ERR_INVALID_UPLOAD_LENGTH_DEFER",
		"ERR_UPLOAD_INTERRUPTED", "ERR_SERVER_SHUTDOWN", "ERR_ORIGIN_NOT_ALLOWED", "ERR_UNEXPECTED_EOF", "ERR_READ_TIMEOUT",
		"ERR_CONNECTION_RESET", "ERR_INTERNAL_SERVER_ERROR", "ERR_SOMETHING_NEW", "",
	} {
		status, msg := tusSentence(400, code+": some detail from tusd\n", 1<<30)
		want := 400
		if code == "ERR_READ_TIMEOUT" {
			want = http.StatusRequestTimeout // tusd says 500: the client stalled, not the server
		}
		if status != want || !isSentence(msg) {
			t.Errorf("%s: %d %q", code, status, msg)
		}
	}
	if _, msg := tusSentence(503, "HLSD_NOT_ACCEPTED: The upload could not be read back; try again.\n", 0); msg != "The upload could not be read back; try again." {
		t.Errorf("hlsd's own error: %q", msg)
	}
}

func TestUploadIDs(t *testing.T) {
	t.Parallel()
	id := layout.NewVideoID()
	for s, want := range map[string]bool{
		id: true, id + "+YTQ3ZTM4YjctYzA1Ni00ZGQ4LWE0YmMtZmY1ZDY0OTU1NGRh": true, id + "+a.b_c-d~e=": true,
		id + "+": false, id + "+a/b": false, "../" + id: false, id[:23]: false, strings.ToUpper(id): false, id + "x": false,
	} {
		if uploadIDRe.MatchString(s) != want {
			t.Errorf("%q: valid %v, want %v", s, !want, want)
		}
	}
	if videoIDOf(id+"+abc") != id || videoIDOf(id) != id {
		t.Error("videoIDOf")
	}
}

// tusd's log reaches hlsd's at hlsd's levels: requests at debug, a broken
// body (routine for resumable uploads) at info, its errors as errors.
func TestTusLogLevels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		level slog.Level
		want  []string
		not   []string
	}{
		{slog.LevelWarn, []string{"level=ERROR msg=\"tus: InternalServerError\" id=abc"}, []string{"RequestIncoming", "BodyReadError"}},
		{slog.LevelInfo, []string{"level=INFO msg=\"tus: BodyReadError\"", "level=ERROR msg=\"tus: InternalServerError\""}, []string{"RequestIncoming"}},
		{slog.LevelDebug, []string{"level=DEBUG msg=\"tus: RequestIncoming\" method=PATCH"}, nil},
	} {
		var buf logBuffer
		l := expslog.New(tusLog{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level})})
		l.With("method", "PATCH").Info("RequestIncoming")
		l.Error("BodyReadError", "error", "unexpected EOF")
		l.With("id", "abc").Error("InternalServerError", "message", "disk full")
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("at %v the log lacks %q:\n%s", tc.level, w, buf.String())
			}
		}
		for _, n := range tc.not {
			if strings.Contains(buf.String(), n) {
				t.Errorf("at %v the log has %q:\n%s", tc.level, n, buf.String())
			}
		}
	}
}

// creation-defer-length: the size comes with the last PATCH.
func TestTusDeferredLength(t *testing.T) {
	t.Parallel()
	base, d, _, _ := tusGateway(t)
	c := tusClient{t: t}
	r := c.do(http.MethodPost, base+TusPath, map[string]string{"Upload-Defer-Length": "1", "Upload-Metadata": tusMeta("later.mp4")}, nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusCreated || loc == "" {
		t.Fatalf("POST with Upload-Defer-Length: %d %s", r.status, r.body)
	}
	data := tusBody(600)
	if r := c.patch(loc, 0, data[:300]); r.status != http.StatusNoContent || r.header.Get(HeaderVideoID) != "" {
		t.Fatalf("first PATCH: %d %v %s", r.status, r.header, r.body)
	}
	r = c.do(http.MethodPatch, loc, map[string]string{"Upload-Offset": "300", "Upload-Length": "600", "Content-Type": "application/offset+octet-stream"}, data[300:])
	id := r.header.Get(HeaderVideoID)
	if r.status != http.StatusNoContent || !strings.HasSuffix(loc, "/"+id) {
		t.Fatalf("last PATCH with Upload-Length: %d %v %s", r.status, r.header, r.body)
	}
	if v, err := d.Bus.Videos.Get(context.Background(), id); err != nil || v.Size != 600 || v.Filename != "later.mp4" {
		t.Fatalf("video: %+v %v", v, err)
	}
}

// Every way a deferred-length upload can send bytes is held to the upload
// limit (4 KiB here): each PATCH, with or without Content-Length, the
// running total, creation-with-upload, and a length declared late. Nothing
// past the limit reaches the disk.
func TestTusDeferredLengthHonoursTheLimit(t *testing.T) {
	t.Parallel()
	base, d, _, tusDir := tusGateway(t)
	c := tusClient{t: t}
	deferred := func(body []byte) tusResp {
		return c.do(http.MethodPost, base+TusPath, map[string]string{"Upload-Defer-Length": "1", "Upload-Metadata": tusMeta("big.mp4"),
			"Content-Type": "application/offset+octet-stream"}, body)
	}
	tooLarge := tooLargeError{d.MaxUploadBytes}.Error()
	refused := func(what string, r tusResp) {
		t.Helper()
		if r.status != http.StatusRequestEntityTooLarge || r.errMsg() != tooLarge {
			t.Errorf("%s: %d %s, want 413 %q", what, r.status, r.body, tooLarge)
		}
	}
	r := deferred(nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusCreated || loc == "" {
		t.Fatalf("POST with Upload-Defer-Length: %d %s", r.status, r.body)
	}
	chunk := tusBody(3 << 10)
	if r := c.patch(loc, 0, chunk); r.status != http.StatusNoContent {
		t.Fatalf("first PATCH (3 KiB): %d %s", r.status, r.body)
	}
	refused("second PATCH of 3 KiB with Content-Length", c.patch(loc, 3<<10, chunk))
	// Without Content-Length (chunked): cut at the limit.
	req, _ := http.NewRequest(http.MethodPatch, loc, io.MultiReader(bytes.NewReader(chunk)))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", strconv.Itoa(3<<10))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	refused("chunked PATCH past the limit", tusResp{resp.StatusCode, resp.Header, string(b)})
	if off := c.offset(loc); off > int(d.MaxUploadBytes) {
		t.Errorf("offset %d after the refusals, past the %d-byte limit", off, d.MaxUploadBytes)
	}
	refused("declaring an Upload-Length past the limit", c.do(http.MethodPatch, loc, map[string]string{
		"Upload-Offset": strconv.Itoa(c.offset(loc)), "Upload-Length": "5000", "Content-Type": "application/offset+octet-stream"}, nil))
	refused("creation-with-upload of 5 KiB, length deferred", deferred(tusBody(5<<10-2)))

	var stored int64
	entries, _ := os.ReadDir(tusDir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && !strings.HasSuffix(e.Name(), ".info") && !strings.HasSuffix(e.Name(), ".lock") {
			if fi.Size() > d.MaxUploadBytes {
				t.Errorf("%s holds %d bytes, past the %d-byte limit", e.Name(), fi.Size(), d.MaxUploadBytes)
			}
			stored += fi.Size()
		}
	}
	if stored == 0 {
		t.Error("no upload data found: the test looks in the wrong place")
	}
}

// Pages of web sites that are not allowed get 403 on the preflight and on
// every request, and no CORS header that would let them read an answer.
func TestTusRefusesOtherWebSites(t *testing.T) {
	t.Parallel()
	base, _, _, _ := tusGateway(t)
	c := tusClient{t: t}
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		for _, method := range []string{http.MethodOptions, http.MethodPost} {
			h := map[string]string{"Upload-Length": "3"}
			for k, v := range hdr {
				h[k] = v
			}
			r := c.do(method, base+TusPath, h, nil)
			if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s with %v: %d %v", method, hdr, r.status, r.header)
			}
		}
	}
	// The gateway's own pages (same origin) are served.
	u := strings.TrimPrefix(base, "http://")
	if r := c.do(http.MethodPost, base+TusPath, map[string]string{"Upload-Length": "3", "Origin": "http://" + u, "Sec-Fetch-Site": "same-origin"}, nil); r.status != http.StatusCreated {
		t.Errorf("same-origin POST: %d %s", r.status, r.body)
	}
}

// A video deleted while it is still being uploaded over tus: the upload
// ends and its bytes go.
func TestDeleteDuringTusUpload(t *testing.T) {
	t.Parallel()
	base, _, _, tusDir := tusGateway(t)
	c := tusClient{t: t}
	loc, r := c.create(base, 3000, "half.mp4")
	id := r.header.Get(HeaderVideoID)
	if r := c.patch(loc, 0, tusBody(1500)); r.status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodDelete, base+"/api/videos/"+id, nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE /api/videos/%s during the upload: %d %s", id, r.status, r.body)
	}
	if r := c.do(http.MethodHead, loc, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD after the delete: %d", r.status)
	}
	entries, _ := os.ReadDir(tusDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), id) {
			t.Errorf("left in the upload directory: %s", e.Name())
		}
	}
	if r := c.do(http.MethodDelete, base+"/api/videos/"+id, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("a second DELETE: %d", r.status)
	}
}
