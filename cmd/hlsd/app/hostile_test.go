package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
)

// Uploads crafted to make ffmpeg fetch URLs or read local files, or to
// exhaust it, must end in a 4xx with a reason — and reach nothing.
func TestHostileUploads(t *testing.T) {
	t.Parallel()
	// A listener standing in for an internal service an attacker would like
	// ffmpeg to call.
	var hits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trap := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })}
	go trap.Serve(ln)
	defer trap.Close()
	internal := "http://" + ln.Addr().String()

	dataDir := t.TempDir()
	base := startAll(t, func(c *app.Config) { c.DataDir = dataDir })
	dir := t.TempDir()
	write := func(name string, b []byte) string { return testutil.WriteFile(t, dir, name, b) }
	whole := generate(t, "whole.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast")
	wholeFast := generate(t, "fast.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart")
	truncate := func(name, src string) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, b[:len(b)/2])
	}
	for _, tc := range []struct {
		name, path string
		statuses   []int
	}{
		{"hls playlist disguised as mp4", write("evil.mp4", []byte(
			"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXTINF:10,\n"+internal+"/segment.ts\n#EXT-X-ENDLIST\n")), []int{415}},
		{"hls playlist disguised as avi", write("evil.avi", []byte(
			"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\n"+internal+"/x.ts\n#EXTINF:1.0,\n/etc/passwd\n")), []int{415}},
		{"concat list disguised as mp4", write("concat.mp4", []byte(
			"ffconcat version 1.0\nfile '/etc/passwd'\nfile '"+internal+"/clip.mp4'\n")), []int{415}},
		{"subfile/data URL playlist", write("data.mkv", []byte(
			"#EXTM3U\n#EXTINF:1,\nsubfile,,start,0,end,0,,:/etc/passwd\n#EXTINF:1,\ndata:video/mp2t;base64,R0dHRw==\n")), []int{415}},
		{"dimension bomb", generate(t, "bomb.mkv", "-f", "lavfi", "-i", "color=size=8000x8000:rate=1", "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "51"), []int{422}},
		{"truncated mp4 (index at the end)", truncate("trunc.mp4", whole), []int{415, 422}},
		{"truncated mp4 (index first)", truncate("truncfast.mp4", wholeFast), []int{200, 415, 422}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := upload(t, base+"/upload", tc.path)
			ok := false
			for _, s := range tc.statuses {
				ok = ok || status == s
			}
			if !ok || (status >= 400 && (strings.TrimSpace(body) == "" || strings.Contains(body, dataDir))) {
				t.Fatalf("got %d %q, want one of %v with a reason that names no server path", status, body, tc.statuses)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("ffmpeg made %d requests to an internal address", n)
	}
	// Nothing hlsd published contains the local file it was pointed at.
	passwd, _ := os.ReadFile("/etc/passwd")
	first := bytes.SplitN(passwd, []byte("\n"), 2)[0]
	_ = filepath.WalkDir(filepath.Join(dataDir, "store", "streams"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(p); len(first) > 0 && bytes.Contains(b, first) {
			t.Errorf("%s contains /etc/passwd", p)
		}
		return nil
	})
	// And the server keeps serving.
	status, body, _ := upload(t, base+"/upload", whole)
	if status != http.StatusOK {
		t.Fatalf("good upload after hostile ones: %d %q", status, body)
	}
}

// Requests crafted to reach the source upload, intermediate files, the
// store's root or the machine's files through the running server get a 4xx
// (or a redirect that leads to one), never those bytes.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base := startAll(t, func(c *app.Config) { c.DataDir = dataDir })
	clip := generate(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast")
	status, body, _ := upload(t, base+"/upload", clip)
	if status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	id := masterURLRe.FindStringSubmatch(strings.TrimSpace(body))[1]
	src, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{src[:64], []byte("root:x:0:0"), []byte(dataDir)}

	host := strings.TrimPrefix(base, "http://")
	targets := []string{
		"/streams/" + id + "/../../uploads/" + id + "/source",
		"/streams/" + id + "/%2e%2e/%2e%2e/uploads/" + id + "/source",
		"/streams/" + id + "/..%2f..%2fuploads%2f" + id + "%2fsource",
		"/streams/" + id + "/..%252f..%252fuploads/" + id + "/source",
		"/streams/" + id + `/..\..\uploads\` + id + `\source`,
		"/streams/" + id + "/%5c..%5c..%5cuploads/" + id + "/source",
		"/streams/" + id + "/%c0%ae%c0%ae/%c0%ae%c0%ae/uploads/" + id + "/source",
		"/streams/" + id + "/source%00.ts",
		"/streams/" + id + "/360p/..%2f..%2f..%2f..%2fetc%2fpasswd",
		"/streams/..%2f..%2f..%2fetc/passwd",
		"/streams//etc/passwd",
		"/streams/" + id + "/",
		"/streams/",
		"/uploads/" + id + "/source",
		"/work/" + id + "/",
		"/../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/static/../../etc/passwd",
		"/api/videos/..%2f..%2fetc%2fpasswd",
		"/api/videos/" + id + "/../../../uploads/" + id + "/source",
	}
	for _, target := range targets {
		// Raw HTTP, so no client cleans the path first.
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host)
		resp, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		statusLine, _, _ := strings.Cut(string(resp), "\r\n")
		if !regexp.MustCompile(`^HTTP/1\.1 (30[1278]|4\d\d) `).MatchString(statusLine) {
			t.Errorf("GET %s: %s", target, statusLine)
		}
		for _, s := range secrets {
			if bytes.Contains(resp, s) {
				t.Errorf("GET %s leaked %q", target, s[:min(len(s), 16)])
			}
		}
		// And a client that follows redirects ends at a 4xx too.
		if r, err := http.Get(base + target); err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode < 400 || r.StatusCode >= 500 {
				t.Errorf("GET %s (following redirects) = %d", target, r.StatusCode)
			}
			for _, s := range secrets {
				if bytes.Contains(b, s) {
					t.Errorf("GET %s (following redirects) leaked %q", target, s[:min(len(s), 16)])
				}
			}
		}
	}
}

// Open mode (no tokens, loopback) is for the developer's own machine: a
// page of any web site they visit must not use it, by a cross-site request
// or by DNS rebinding (its own name resolving to 127.0.0.1).
func TestOpenModeRefusesOtherSites(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base := startAll(t, func(c *app.Config) { c.DataDir = dataDir })
	host := strings.TrimPrefix(base, "http://")
	clip := generate(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast")

	do := func(method, path string, hdr map[string]string, body io.Reader, ct string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := func() (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("upload", "clip.mp4")
		b, _ := os.ReadFile(clip)
		fw.Write(b)
		mw.Close()
		return &buf, mw.FormDataContentType()
	}

	for _, h := range []map[string]string{
		{"Host": "attacker.example"},
		{"Host": "attacker.example:" + strings.Split(host, ":")[1]},
		{"Host": "127.0.0.1.attacker.example"},
	} {
		if status, body := do(http.MethodGet, "/api/videos", h, nil, ""); status != http.StatusMisdirectedRequest || !strings.Contains(body, "localhost") {
			t.Errorf("GET /api/videos with %v: %d %s", h, status, body)
		}
	}
	for _, h := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		body, ct := form()
		if status, answer := do(http.MethodPost, "/upload", h, body, ct); status != http.StatusForbidden || !strings.Contains(answer, "other web sites") {
			t.Errorf("cross-site POST /upload with %v: %d %s", h, status, answer)
		}
		if status, _ := do(http.MethodDelete, "/api/videos/aaaaaaaaaaaaaaaaaaaaaaaa", h, nil, ""); status != http.StatusForbidden {
			t.Errorf("cross-site DELETE with %v: %d", h, status)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dataDir, "store", "uploads")); len(entries) != 0 {
		t.Errorf("refused uploads were stored: %d", len(entries))
	}
	// Probes and Prometheus name the machine by its address.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := do(http.MethodGet, path, map[string]string{"Host": "10.1.2.3:4444"}, nil, ""); status != http.StatusOK {
			t.Errorf("GET %s with the pod's address as Host: %d", path, status)
		}
	}
	// The developer's own requests: loopback names, the form's own origin.
	for _, h := range []map[string]string{{"Host": "localhost:1"}, {"Host": "[::1]:1"}, {"Host": "app.localhost"}, {"Origin": base}} {
		if status, body := do(http.MethodGet, "/api/videos", h, nil, ""); status != http.StatusOK {
			t.Errorf("GET /api/videos with %v: %d %s", h, status, body)
		}
	}
	body, ct := form()
	if status, answer := do(http.MethodPost, "/upload", map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}, body, ct); status != http.StatusOK {
		t.Errorf("the form's own POST /upload: %d %s", status, answer)
	}
}

// A refused upload keeps no bytes: its source goes when it fails (or after
// --failed-source-retention), the answer names its id, and deleting it
// leaves not even an empty directory.
func TestRefusedUploadsKeepNothing(t *testing.T) {
	t.Parallel()
	for _, retention := range []time.Duration{0, 2 * time.Second} {
		t.Run(fmt.Sprint("retention ", retention), func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			base := startAll(t, func(c *app.Config) { c.DataDir = dataDir; c.FailedSourceRetention = retention })
			notes := testutil.WriteFile(t, t.TempDir(), "notes.mp4", []byte("these are my notes, not a video\n"))
			status, body, hdr := upload(t, base+"/upload", notes)
			id := hdr.Get("Hlsd-Video-Id")
			if status != http.StatusUnsupportedMediaType || id == "" || !strings.Contains(body, "(video "+id+")") {
				t.Fatalf("refused upload: %d %q, id %q; want 415 naming the video", status, body, id)
			}
			source := filepath.Join(dataDir, "store", "uploads", id, "source")
			if retention > 0 {
				if _, err := os.Stat(source); err != nil {
					t.Fatalf("the source was removed at once despite a retention of %v: %v", retention, err)
				}
			}
			testutil.WaitFor(t, "the refused source and its directory to be removed", time.Minute, func() bool {
				_, err := os.Stat(filepath.Dir(source))
				return errors.Is(err, fs.ErrNotExist)
			})

			if status := deleteVideo(t, base, id); status != http.StatusNoContent {
				t.Fatalf("DELETE the failed video: %d", status)
			}
			filepath.WalkDir(filepath.Join(dataDir, "store"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.Contains(p, id) {
					t.Errorf("left behind after DELETE: %s", p)
				}
				return nil
			})
		})
	}
}

// Outputs carry none of the source's metadata: a phone's recording names
// where and on what it was made, a title may hold markup.
func TestOutputsCarryNoSourceMetadata(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base := startAll(t, func(c *app.Config) { c.DataDir = dataDir })
	secrets := []string{"<script>alert(1)</script>TitleSecret", "CommentSecret", "+48.8584+002.2945", "OwnerSecret", "HandlerSecret", "AudioTitleSecret", "ChapterSecret"}
	meta := testutil.WriteFile(t, t.TempDir(), "meta.txt", []byte(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=ChapterSecret\n"))
	clip := generate(t, "phone.mov", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-i", meta,
		"-map", "0:v", "-map", "1:a", "-map_metadata", "2", "-map_chapters", "2", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
		"-metadata", "title="+secrets[0], "-metadata", "comment="+secrets[1], "-metadata", "location="+secrets[2]+"/",
		"-metadata", "author="+secrets[3], "-metadata:s:v:0", "handler_name="+secrets[4], "-metadata:s:a:0", "title="+secrets[5])
	// The source does carry them (else the test proves nothing).
	src, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if !bytes.Contains(src, []byte(s)) {
			t.Fatalf("the test source lacks %q", s)
		}
	}
	status, body, _ := upload(t, base+"/upload", clip)
	if status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	id := masterURLRe.FindStringSubmatch(strings.TrimSpace(body))[1]
	files := 0
	err = filepath.WalkDir(filepath.Join(dataDir, "store", "streams", id), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s carries the source's %q", filepath.Base(p), s)
			}
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("read %d output files: %v", files, err)
	}
}

// Files crafted to cost far more than they weigh fail with their reason
// (or, for a container that lies about its length, are planned by what
// they hold), and the server goes on serving.
func TestCraftedUploads(t *testing.T) {
	t.Parallel()
	base := startAll(t)
	for _, tc := range []struct {
		name   string
		path   string
		status int
		reason string
	}{
		{"frame gap", testutil.GapMKV(t), http.StatusUnprocessableEntity, "invent"},
		{"size change mid-stream", testutil.GrowingTS(t), http.StatusUnprocessableEntity, "8192x8192"},
		{"pixel bomb", testutil.PixelBomb(t), http.StatusUnprocessableEntity, "8192x8192"},
		{"GIF with an 8K canvas", testutil.CanvasGIF(t), http.StatusUnprocessableEntity, "7680x4320"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := upload(t, base+"/upload", tc.path)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Fatalf("got %d %q, want %d about %q", status, body, tc.status, tc.reason)
			}
		})
	}
	t.Run("an hour claimed, 2 s held", func(t *testing.T) {
		status, body, hdr := upload(t, base+"/api/videos", testutil.LongClaimMKV(t))
		if status != http.StatusAccepted {
			t.Fatalf("upload: %d %s", status, body)
		}
		loc := hdr.Get("Location")
		var v video.Video
		testutil.WaitFor(t, "the video to be ready", 2*time.Minute, func() bool {
			b, _ := get(t, base+loc)
			_ = json.Unmarshal(b, &v)
			return v.State.Final()
		})
		if v.State != video.StateReady || v.Chunks != 1 || v.Source == nil || v.Source.Duration > 3 {
			t.Fatalf("state %s, %d chunks, source %+v; want ready, 1 chunk, about 2 s", v.State, v.Chunks, v.Source)
		}
	})
}
