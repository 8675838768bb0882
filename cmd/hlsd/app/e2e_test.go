package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/cmd/hlsd/app/apptest"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/natsembed"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/testutil/miniotest"
	"github.com/hlsd/hlsd/pkg/video"
)

// startAll runs `hlsd all` in this process on a free port and returns its
// base URL; opts may change the configuration first.
func startAll(t *testing.T, opts ...func(*app.Config)) string {
	t.Helper()
	return apptest.Start(t, "../../../profiles.json", opts...)
}

type testWriter = apptest.LogWriter

// upload streams a file to url as multipart field "upload", as curl -F does.
func upload(t *testing.T, url, path string) (int, string, http.Header) {
	status, body, hdr := testutil.Upload(t, url, path)
	return status, string(body), hdr
}

var generate = testutil.Generate

func get(t *testing.T, url string) ([]byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b, resp.Header
}

var masterURLRe = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/streams/([a-z2-7]{24})/master\.m3u8$`)

func TestUploadToPlayableHLS(t *testing.T) {
	t.Parallel()
	base := startAll(t)
	const srcDuration = 20.0
	clip := generate(t, "clip.mp4",
		"-f", "lavfi", "-i", "testsrc2=size=960x540:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", fmt.Sprint(srcDuration), "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-c:a", "aac", "-shortest")

	status, body, hdr := upload(t, base+"/upload", clip)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("POST /upload = %d %q %q", status, hdr.Get("Content-Type"), body)
	}
	master := strings.TrimSpace(body)
	m := masterURLRe.FindStringSubmatch(master)
	if m == nil {
		t.Fatalf("answer %q is not a master playlist URL", body)
	}
	id := m[1]

	// The master playlist, read strictly.
	mb, mh := get(t, master)
	if ct := mh.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("master Content-Type %q", ct)
	}
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(mb), true)
	if err != nil || typ != m3u8.MASTER {
		t.Fatalf("master does not parse strictly: %v\n%s", err, mb)
	}
	mp := pl.(*m3u8.MasterPlaylist)
	if !strings.Contains(string(mb), "#EXT-X-INDEPENDENT-SEGMENTS\n") {
		t.Error("master lacks EXT-X-INDEPENDENT-SEGMENTS")
	}
	var variants []*m3u8.Variant // without the I-frame streams
	for _, v := range mp.Variants {
		if !v.Iframe {
			variants = append(variants, v)
		}
	}
	// 960x540 source: 234p, 360p, 432p and 540p, nothing upscaled to 720p/1080p.
	if len(variants) != 4 {
		t.Fatalf("got %d variants, want 4 (234p, 360p, 432p, 540p):\n%s", len(variants), mb)
	}
	var boundaries []string
	for _, v := range variants {
		t.Run(v.URI, func(t *testing.T) {
			checkVariant(t, master, v, srcDuration, &boundaries)
		})
	}
	for i := 1; i < len(boundaries); i++ {
		if boundaries[i] != boundaries[0] {
			t.Errorf("segment boundaries differ across renditions:\n%s\n%s", boundaries[0], boundaries[i])
		}
	}

	// The conformance suite finds nothing, and checked the I-frame playlists.
	if r := assertConformant(t, master); r.IFrames != 4 || r.Variants != 4 {
		t.Errorf("hlsd check saw %d variants and %d I-frame playlists, want 4 and 4", r.Variants, r.IFrames)
	}

	// ffmpeg decodes every stream of the whole master over HTTP without a
	// complaint, not even a warning.
	out, err := exec.Command("ffmpeg", "-v", "warning", "-i", master, "-map", "0", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the master: %v\n%s", err, out)
	}

	// The metrics moved.
	metrics, _ := get(t, base+"/metrics")
	for _, re := range []string{
		// The plan and three chunks (2 s, 4 s in 2 s segments, then the
		// rest); the audio, whole; three chunks of each of the five
		// renditions (234p, 360p, 432p, 540p, audio).
		`hlsd_jobs_started_total\{stage="encode"\} 4\n`,
		`hlsd_jobs_started_total\{stage="audio"\} 1\n`,
		`hlsd_jobs_started_total\{stage="segment"\} 15\n`,
		`hlsd_jobs_total\{outcome="succeeded",stage="encode"\} 4\n`,
		`hlsd_jobs_total\{outcome="succeeded",stage="audio"\} 1\n`,
		`hlsd_jobs_total\{outcome="succeeded",stage="segment"\} 15\n`,
		`hlsd_job_duration_seconds_count\{outcome="succeeded",stage="encode"\} 4\n`,
		`hlsd_ffmpeg_speed_ratio_count 3\n`,
		`hlsd_uploaded_bytes_total [1-9][0-9.e+]*\n`,
		`hlsd_served_bytes_total [1-9][0-9.e+]*\n`,
		`hlsd_http_requests_total\{code="200",route="/upload",service="all"\} 1\n`,
		`hlsd_http_requests_total\{code="20[06]",route="/streams/\{segment\}",service="all"\} [1-9]`,
		`hlsd_http_request_duration_seconds_bucket\{route="/streams/\{playlist\}",service="all",le="\+Inf"\} [1-9]`,
		`hlsd_queue_pending_jobs\{stage="encode"\} 0\n`,
	} {
		if !regexp.MustCompile(re).Match(metrics) {
			t.Errorf("/metrics lacks %s", re)
		}
	}

	// The API tells the same story.
	ab, _ := get(t, base+"/api/videos/"+id)
	var v struct {
		video.Video
		MasterURL string `json:"master_url"`
	}
	if err := json.Unmarshal(ab, &v); err != nil {
		t.Fatal(err)
	}
	if v.State != video.StateReady || v.Progress != 1 || v.MasterURL != master || len(v.Renditions) != 5 || v.Chunks != 3 || v.PlayableAt == nil || v.Source == nil || v.Source.Duration != srcDuration {
		t.Errorf("GET /api/videos/%s = %s", id, ab)
	}
}

// checkVariant holds one rendition to the output rules (README: How it works).
func checkVariant(t *testing.T, master string, v *m3u8.Variant, srcDuration float64, boundaries *[]string) {
	if v.Bandwidth == 0 || v.AverageBandwidth == 0 || v.AverageBandwidth > v.Bandwidth {
		t.Errorf("BANDWIDTH %d AVERAGE-BANDWIDTH %d", v.Bandwidth, v.AverageBandwidth)
	}
	if !regexp.MustCompile(`^avc1\.(64|4d)[0-9a-f]{4},mp4a\.40\.2$`).MatchString(v.Codecs) {
		t.Errorf("CODECS %q is not H.264 High/Main + AAC-LC", v.Codecs)
	}
	if v.FrameRate < 29.9 || v.FrameRate > 30.1 || v.Resolution == "" {
		t.Errorf("FRAME-RATE %g RESOLUTION %q", v.FrameRate, v.Resolution)
	}
	mediaURL := master[:strings.LastIndex(master, "/")+1] + v.URI
	body, hdr := get(t, mediaURL)
	if ct := hdr.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("media playlist Content-Type %q", ct)
	}
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(body), true)
	if err != nil || typ != m3u8.MEDIA {
		t.Fatalf("media playlist does not parse strictly: %v\n%s", err, body)
	}
	mp := pl.(*m3u8.MediaPlaylist)
	for _, tag := range []string{"#EXT-X-PLAYLIST-TYPE:VOD\n", "#EXT-X-ENDLIST\n", "#EXT-X-INDEPENDENT-SEGMENTS\n", "#EXT-X-TARGETDURATION:6\n"} {
		if !strings.Contains(string(body), tag) {
			t.Errorf("media playlist lacks %q", tag)
		}
	}
	var total float64
	var durs []string
	segs := mp.GetAllSegments()
	for _, s := range segs {
		if math.Round(s.Duration) > mp.TargetDuration {
			t.Errorf("EXTINF %g rounds above TARGETDURATION %g", s.Duration, mp.TargetDuration)
		}
		total += s.Duration
		durs = append(durs, strconv.FormatFloat(s.Duration, 'f', 3, 64))
	}
	*boundaries = append(*boundaries, strings.Join(durs, " "))
	if math.Abs(total-srcDuration) > 0.5 {
		t.Errorf("playlist duration %g, source %g", total, srcDuration)
	}

	// Every segment starts with a keyframe and has the H.264 profile CODECS claims.
	base := mediaURL[:strings.LastIndex(mediaURL, "/")+1]
	for _, s := range segs {
		out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
			"-show_entries", "packet=flags:stream=profile,level", "-of", "json", base+s.URI).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", s.URI, err)
		}
		var pr struct {
			Packets []struct{ Flags string }
			Streams []struct {
				Profile string
				Level   int
			}
		}
		if err := json.Unmarshal(out, &pr); err != nil || len(pr.Packets) == 0 || len(pr.Streams) == 0 {
			t.Fatalf("ffprobe %s: %v %s", s.URI, err, out)
		}
		if !strings.HasPrefix(pr.Packets[0].Flags, "K") {
			t.Errorf("%s does not start with a keyframe (flags %q)", s.URI, pr.Packets[0].Flags)
		}
		want := map[string]string{"High": "64", "Main": "4d"}[pr.Streams[0].Profile]
		if want == "" || !strings.HasPrefix(v.Codecs, fmt.Sprintf("avc1.%s00%02x", want, pr.Streams[0].Level)) {
			t.Errorf("CODECS %q, bitstream says %s level %d", v.Codecs, pr.Streams[0].Profile, pr.Streams[0].Level)
		}
	}

	// The variant as a whole lasts as long as the source.
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", mediaURL).Output()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if math.Abs(d-srcDuration) > 0.5 {
		t.Errorf("ffprobe says %s lasts %g s, source %g s", v.URI, d, srcDuration)
	}
}

func TestBadUploadsThenGoodOne(t *testing.T) {
	t.Parallel()
	const maxUpload = 4 << 20
	base := startAll(t, func(c *app.Config) { c.MaxUploadBytes = maxUpload })
	dir := t.TempDir()
	write := func(name string, b []byte) string { return testutil.WriteFile(t, dir, name, b) }
	for _, tc := range []struct {
		name, path string
		status     int
		reason     string
	}{
		{"text file", write("notes.mp4", []byte("these are my notes, not a video\n")), http.StatusUnsupportedMediaType, "not a video or audio format"},
		{"random bytes", write("noise.avi", bytes.Repeat([]byte{0x13, 0x37, 0xc0, 0xde}, 4096)), http.StatusUnsupportedMediaType, "not a video or audio format"},
		{"empty file", write("empty.mp4", nil), http.StatusBadRequest, "empty"},
		{"too large", write("big.mp4", make([]byte, maxUpload+1)), http.StatusRequestEntityTooLarge, "larger than the 4 MiB upload limit"},
		{"no video and no audio", generate(t, "subs.mkv", "-f", "srt", "-i", write("s.srt", []byte("1\n00:00:00,000 --> 00:00:02,000\nhello\n")), "-c:s", "srt"),
			http.StatusUnprocessableEntity, "no video or audio track"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := upload(t, base+"/upload", tc.path)
			if status != tc.status || !strings.Contains(body, tc.reason) || strings.Count(strings.TrimSpace(body), "\n") != 0 {
				t.Fatalf("got %d %q, want %d with one sentence about %q", status, body, tc.status, tc.reason)
			}
		})
	}

	t.Run("not multipart", func(t *testing.T) {
		resp, err := http.Post(base+"/upload", "application/octet-stream", strings.NewReader("raw bytes"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "multipart/form-data") {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	})

	t.Run("no upload field", func(t *testing.T) {
		resp, err := http.Post(base+"/upload", "multipart/form-data; boundary=x", strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--x--\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"upload"`) {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	})

	// The server keeps serving: a good upload right after succeeds.
	clip := generate(t, "ok.mkv", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	status, body, _ := upload(t, base+"/upload", clip)
	if status != http.StatusOK || masterURLRe.FindStringSubmatch(strings.TrimSpace(body)) == nil {
		t.Fatalf("good upload after bad ones: %d %q", status, body)
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", strings.TrimSpace(body), "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the good upload: %v\n%s", err, out)
	}

	// Failed videos carry their reason in the API.
	lb, _ := get(t, base+"/api/videos")
	var list struct{ Videos []video.Video }
	if err := json.Unmarshal(lb, &list); err != nil {
		t.Fatal(err)
	}
	failed, ready := 0, 0
	for _, v := range list.Videos {
		switch {
		case v.State == video.StateFailed && v.Failure != nil && v.Failure.Code == video.CodeUnsupported && v.Failure.Reason != "":
			failed++
		case v.State == video.StateReady:
			ready++
		}
	}
	if failed != 2 || ready != 1 {
		t.Errorf("API lists %d unsupported-format failures and %d ready videos, want 2 and 1: %s", failed, ready, lb)
	}
}

func TestAPICreateIsAsync(t *testing.T) {
	t.Parallel()
	base := startAll(t)
	clip := generate(t, "a.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast")
	status, body, hdr := upload(t, base+"/api/videos", clip)
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/videos = %d %s", status, body)
	}
	var created struct {
		ID        string `json:"id"`
		StatusURL string `json:"status_url"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || !layout.ValidVideoID(created.ID) || hdr.Get("Location") != created.StatusURL {
		t.Fatalf("create answer %s (%v)", body, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := get(t, base+created.StatusURL)
		var v video.Video
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if v.State == video.StateReady {
			break
		}
		if v.State == video.StateFailed || time.Now().After(deadline) {
			t.Fatalf("video did not become ready: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Delete removes the video and its files.
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/videos/"+created.ID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %v %v", resp.StatusCode, err)
	}
	for _, u := range []string{base + "/api/videos/" + created.ID, base + "/streams/" + created.ID + "/master.m3u8"} {
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("after delete GET %s = %v %v", u, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}

// The same binary on an external NATS (over TCP) and an S3 store (a real
// MinIO process) instead of the embedded defaults.
func TestExternalNATSAndS3Store(t *testing.T) {
	t.Parallel()
	ns, err := natsembed.Start(natsembed.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	minio := miniotest.Start(t)
	base := startAll(t, func(c *app.Config) {
		c.NATSURL = ns.ClientURL()
		c.StoreURL = minio.URL("hlsd-e2e")
	})
	clip := generate(t, "s3.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine", "-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	status, body, _ := upload(t, base+"/upload", clip)
	if status != http.StatusOK || masterURLRe.FindStringSubmatch(strings.TrimSpace(body)) == nil {
		t.Fatalf("upload through external NATS and S3: %d %q", status, body)
	}
	master := strings.TrimSpace(body)
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", master, "-map", "0", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the master: %v\n%s", err, out)
	}
	assertConformant(t, master)
	// Range requests reach through to S3.
	seg := strings.TrimSuffix(master, "master.m3u8") + "360p/seg_00000.ts"
	req, _ := http.NewRequest("GET", seg, nil)
	req.Header.Set("Range", "bytes=188-375")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || len(b) != 188 || b[0] != 0x47 {
		t.Fatalf("range on an S3-backed segment: %d, %d bytes", resp.StatusCode, len(b))
	}
}
