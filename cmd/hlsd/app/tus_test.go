package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil/miniotest"
	"github.com/hlsd/hlsd/pkg/video"
)

// tusc is a tus 1.0 client written out request by request.
type tusc struct {
	t     *testing.T
	base  string
	token string
}

func (c tusc) do(method, u string, hdr map[string]string, body []byte) (int, http.Header, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// create starts an upload of size bytes and returns its URL.
func (c tusc) create(size int, filename string) string {
	c.t.Helper()
	status, hdr, body := c.do(http.MethodPost, c.base+"/api/uploads/", map[string]string{
		"Upload-Length":   strconv.Itoa(size),
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte(filename)),
	}, nil)
	if status != http.StatusCreated || hdr.Get("Location") == "" {
		c.t.Fatalf("POST /api/uploads/: %d %q", status, body)
	}
	return hdr.Get("Location")
}

func (c tusc) patch(u string, offset int, chunk []byte) (int, http.Header, string) {
	c.t.Helper()
	return c.do(http.MethodPatch, u, map[string]string{
		"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream",
	}, chunk)
}

func (c tusc) offset(u string) int {
	c.t.Helper()
	status, hdr, _ := c.do(http.MethodHead, u, nil, nil)
	n, err := strconv.Atoi(hdr.Get("Upload-Offset"))
	if status != http.StatusOK || err != nil {
		c.t.Fatalf("HEAD %s: %d, Upload-Offset %q", u, status, hdr.Get("Upload-Offset"))
	}
	return n
}

// uploadInChunks sends data in n PATCHes and returns the video id the last
// answer names.
func (c tusc) uploadInChunks(data []byte, filename string, n int) string {
	c.t.Helper()
	u := c.create(len(data), filename)
	var hdr http.Header
	for i, off := 0, 0; i < n; i++ {
		end := len(data) * (i + 1) / n
		var status int
		var body string
		status, hdr, body = c.patch(u, off, data[off:end])
		if status != http.StatusNoContent || hdr.Get("Upload-Offset") != strconv.Itoa(end) {
			c.t.Fatalf("PATCH %d of %d: %d %q", i+1, n, status, body)
		}
		off = end
	}
	id := hdr.Get("Hlsd-Video-Id")
	if !layout.ValidVideoID(id) || hdr.Get("Hlsd-Status-Url") != "/api/videos/"+id {
		c.t.Fatalf("final PATCH names no video: %v", hdr)
	}
	return id
}

type tusVideo struct {
	video.Video
	MasterURL string `json:"master_url"`
}

// waitReady polls the video's state until it is ready.
func (c tusc) waitReady(id string) tusVideo {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, _, body := c.do(http.MethodGet, c.base+"/api/videos/"+id, nil, nil)
		var v tusVideo
		if status != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
			c.t.Fatalf("GET /api/videos/%s: %d %s", id, status, body)
		}
		if v.State == video.StateReady {
			return v
		}
		if v.State == video.StateFailed || time.Now().After(deadline) {
			c.t.Fatalf("video %s did not become ready: %s", id, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// masterDuration reads the master playlist and returns the duration of its
// first variant.
func masterDuration(t *testing.T, master string) float64 {
	t.Helper()
	mb, _ := get(t, master)
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(mb), true)
	if err != nil || typ != m3u8.MASTER || len(pl.(*m3u8.MasterPlaylist).Variants) == 0 {
		t.Fatalf("master playlist: %v\n%s", err, mb)
	}
	v := pl.(*m3u8.MasterPlaylist).Variants[0]
	u, _ := url.Parse(master)
	ref, _ := url.Parse(v.URI)
	mediaURL := u.ResolveReference(ref).String()
	body, _ := get(t, mediaURL)
	mp, typ, err := m3u8.Decode(*bytes.NewBuffer(body), true)
	if err != nil || typ != m3u8.MEDIA {
		t.Fatalf("media playlist: %v\n%s", err, body)
	}
	var total float64
	for _, s := range mp.(*m3u8.MediaPlaylist).GetAllSegments() {
		total += s.Duration
	}
	return total
}

func probeDuration(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A clip sent with tus in three chunks, behind an API token, becomes a
// playable video; the source is the bytes sent, and the tus copy is gone.
func TestTusUploadToPlayableHLS(t *testing.T) {
	t.Parallel()
	const token = "tus-e2e-token-0123456789"
	dataDir := t.TempDir()
	base := startAll(t, func(c *app.Config) {
		c.APITokens = []string{token}
		c.DataDir = dataDir
		c.AllowedOrigins = []string{"https://app.example.com"} // the web app that uploads from the browser
	})
	clip := generate(t, "tus.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}

	anon := tusc{t: t, base: base}
	if status, _, body := anon.do(http.MethodPost, base+"/api/uploads/", map[string]string{"Upload-Length": strconv.Itoa(len(data))}, nil); status != http.StatusUnauthorized {
		t.Fatalf("POST without a token: %d %s", status, body)
	}
	req, _ := http.NewRequest(http.MethodOptions, base+"/api/uploads/", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Tus-Version") != "1.0.0" || resp.Header.Get("Tus-Max-Size") != strconv.Itoa(1<<30) ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("CORS preflight without a token: %d %v", resp.StatusCode, resp.Header)
	}

	c := tusc{t: t, base: base, token: token}
	id := c.uploadInChunks(data, "tus.mp4", 3)
	v := c.waitReady(id)
	if v.Filename != "tus.mp4" || v.Size != int64(len(data)) || v.MasterURL == "" {
		t.Errorf("video: %+v", v)
	}
	if d := masterDuration(t, v.MasterURL); math.Abs(d-4) > 0.5 {
		t.Errorf("playlist lasts %g s, source 4 s", d)
	}
	src, err := os.ReadFile(filepath.Join(dataDir, "store", filepath.FromSlash(layout.SourceKey(id))))
	if err != nil || !bytes.Equal(src, data) {
		t.Errorf("stored source: %d bytes (%v), sent %d", len(src), err, len(data))
	}
	if left, err := os.ReadDir(filepath.Join(dataDir, "tus")); err != nil || len(left) != 0 {
		t.Errorf("tus directory after completion: %v %v", left, err)
	}
}

// The connection of a PATCH dies half-way: HEAD tells the offset the server
// kept, the upload resumes from there, and the video is the whole clip.
func TestTusResumeAfterInterruption(t *testing.T) {
	t.Parallel()
	base := startAll(t)
	clip := generate(t, "resume.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	c := tusc{t: t, base: base}
	u := c.create(len(data), "resume.mp4")

	// PATCH everything, but the connection ends after half of the bytes.
	half := len(data) / 2
	pu, _ := url.Parse(u)
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n", pu.Path, pu.Host, len(data))
	if _, err := conn.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	cut, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	cutBody, _ := io.ReadAll(cut.Body)
	conn.Close()
	if cut.StatusCode != http.StatusBadRequest || !strings.Contains(string(cutBody), "send HEAD for the offset") {
		t.Errorf("answer to the cut PATCH: %d %s", cut.StatusCode, cutBody)
	}

	off := c.offset(u)
	if off != half {
		t.Fatalf("HEAD after the cut: offset %d, sent %d", off, half)
	}
	status, hdr, body := c.patch(u, off, data[off:])
	id := hdr.Get("Hlsd-Video-Id")
	if status != http.StatusNoContent || !layout.ValidVideoID(id) {
		t.Fatalf("resuming PATCH: %d %v %s", status, hdr, body)
	}
	v := c.waitReady(id)
	want := probeDuration(t, clip)
	if v.Source == nil || math.Abs(v.Source.Duration-want) > 0.001 {
		t.Errorf("source duration %+v, the clip lasts %g s", v.Source, want)
	}
	if d := masterDuration(t, v.MasterURL); math.Abs(d-want) > 0.5 {
		t.Errorf("playlist lasts %g s, the clip %g s", d, want)
	}
}

// With an S3 store, unfinished uploads live in the same bucket under tus/
// (tusd's s3store) and the finished one becomes a video the same way.
func TestTusS3Store(t *testing.T) {
	t.Parallel()
	minio := miniotest.Start(t)
	bucket := minio.URL("hlsd-tus")
	base := startAll(t, func(c *app.Config) { c.StoreURL = bucket })
	clip := generate(t, "s3tus.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	c := tusc{t: t, base: base}

	// An upload that is abandoned, then terminated.
	gone := c.create(len(data), "gone.mp4")
	if status, _, body := c.patch(gone, 0, data[:1000]); status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	if got := c.offset(gone); got != 1000 {
		t.Errorf("HEAD on S3: offset %d, want 1000", got)
	}
	if status, _, body := c.do(http.MethodDelete, gone, nil, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}

	id := c.uploadInChunks(data, "s3tus.mp4", 3)
	v := c.waitReady(id)
	if v.Filename != "s3tus.mp4" || v.Size != int64(len(data)) {
		t.Errorf("video: %+v", v)
	}
	if d := masterDuration(t, v.MasterURL); math.Abs(d-4) > 0.5 {
		t.Errorf("playlist lasts %g s, source 4 s", d)
	}
	st, err := store.Open(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := st.List(context.Background(), "tus/", func(i store.Info) error { left = append(left, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("objects left under tus/: %v", left)
	}
	rc, err := st.Get(context.Background(), layout.SourceKey(id), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(src, data) {
		t.Errorf("stored source: %d bytes, sent %d", len(src), len(data))
	}
}
