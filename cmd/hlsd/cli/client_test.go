package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/cmd/hlsd/app/apptest"
	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// startServer runs `hlsd all` in this process on a free port and returns
// its base URL; opts may change the configuration first.
func startServer(t *testing.T, opts ...func(*app.Config)) string {
	t.Helper()
	return apptest.Start(t, "../../../profiles.json", opts...)
}

type result struct {
	code           int
	stdout, stderr string
}

type command func(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int

// run runs a client command with only the environment e.
func run(t *testing.T, cmd command, e map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := cmd(ctx, args, env(e), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func makeClip(t *testing.T) string {
	return testutil.Generate(t, "clip.mp4",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
}

var (
	masterLineRe = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/streams/([a-z2-7]{24})/master\.m3u8\n$`)
	percentRe    = regexp.MustCompile(`^uploading clip\.mp4:\s+(\d+)%`)
)

// uploadPercents are the percentages of the upload progress lines.
func uploadPercents(t *testing.T, stderr string) []int {
	t.Helper()
	var ps []int
	for _, l := range strings.Split(stderr, "\n") {
		if m := percentRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			ps = append(ps, n)
		}
	}
	return ps
}

// listed returns the videos hlsd ls --json shows.
func listed(t *testing.T, e map[string]string, args ...string) []video {
	t.Helper()
	r := run(t, runLs, e, append([]string{"--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("hlsd ls --json: %v", r)
	}
	var vs []video
	if err := json.Unmarshal([]byte(r.stdout), &vs); err != nil {
		t.Fatalf("hlsd ls --json printed no JSON array: %v\n%s", err, r.stdout)
	}
	return vs
}

func TestClientEndToEnd(t *testing.T) {
	t.Parallel()
	base := startServer(t)
	srv := map[string]string{"HLSD_SERVER": base}
	clip := makeClip(t)

	// upload --wait: only the master URL on stdout, and it plays.
	r := run(t, runUpload, nil, clip, "--wait", "--server", base)
	m := masterLineRe.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("hlsd upload --wait: want only a master URL on stdout, got %v", r)
	}
	waitedID := m[1]
	resp, err := http.Get(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "#EXTM3U") {
		t.Fatalf("GET master: %d\n%s", resp.StatusCode, body)
	}
	// Progress on a non-terminal: a line per 10 %, rising, ending at 100 %,
	// then the processing states, ending ready.
	ps := uploadPercents(t, r.stderr)
	if len(ps) < 2 || ps[len(ps)-1] != 100 {
		t.Errorf("upload progress should end at 100%%, got %v in\n%s", ps, r.stderr)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i] <= ps[i-1] {
			t.Errorf("upload progress not rising: %v", ps)
		}
	}
	if !strings.HasSuffix(r.stderr, "processing: ready 100%\n") || strings.Contains(r.stderr, "\r") {
		t.Errorf("processing progress should end with ready 100%% (no \\r off a terminal):\n%s", r.stderr)
	}

	// upload without --wait (server from HLSD_SERVER): "ID STATUS_URL".
	r = run(t, runUpload, srv, clip)
	f := strings.Fields(r.stdout)
	if r.code != 0 || len(f) != 2 || !layout.ValidVideoID(f[0]) || f[1] != base+"/api/videos/"+f[0] || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("hlsd upload: want \"ID STATUS_URL\", got %v", r)
	}
	id := f[0]
	testutil.WaitFor(t, "the second upload to be ready", 2*time.Minute, func() bool {
		for _, v := range listed(t, srv) {
			if v.ID == id {
				if v.State == api.StateFailed {
					t.Fatalf("video failed: %+v", v.Failure)
				}
				return v.State == api.StateReady
			}
		}
		// Not listed yet: the server's key listing may skip a video whose
		// state changes meanwhile (NATS KV ListKeys under concurrent writes).
		return false
	})

	// ls: the table shows both, ready, newest first.
	r = run(t, runLs, srv)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("hlsd ls: %v", r)
	}
	for _, want := range []string{"ID", "STATE", "PROGRESS", "DURATION", "CREATED", "NAME"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header lacks %s: %q", want, lines[0])
		}
	}
	row := strings.Fields(lines[1])
	if len(row) != 7 || row[0] != id || row[1] != "ready" || row[2] != "100%" || row[3] != "0:03" || row[6] != "clip.mp4" {
		t.Errorf("ls row of %s: %q", id, lines[1])
	}
	if !strings.HasPrefix(lines[2], waitedID) {
		t.Errorf("ls second row should be %s: %q", waitedID, lines[2])
	}
	if vs := listed(t, srv, "--limit", "1"); len(vs) != 1 || vs[0].ID != id || vs[0].MasterURL == "" {
		t.Errorf("ls --json --limit 1: %+v", vs)
	}

	// rm deletes; ls no longer shows it; a second rm finds nothing.
	r = run(t, runRm, srv, id)
	if r.code != 0 || r.stdout != "deleted "+id+"\n" {
		t.Fatalf("hlsd rm: %v", r)
	}
	for _, v := range listed(t, srv) {
		if v.ID == id {
			t.Fatalf("hlsd ls still shows %s after rm", id)
		}
	}
	if r = run(t, runLs, srv); strings.Contains(r.stdout, id) {
		t.Fatalf("hlsd ls still shows %s after rm:\n%s", id, r.stdout)
	}
	r = run(t, runRm, srv, id, waitedID)
	if r.code != 1 || r.stdout != "deleted "+waitedID+"\n" || r.stderr != "no video "+id+"\n" {
		t.Fatalf("hlsd rm of a deleted and an existing video: %v", r)
	}
	if r = run(t, runLs, srv); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no videos") {
		t.Errorf("hlsd ls with no videos: %v", r)
	}

	// A text file: accepted, then failed; exit 1 with the server's sentence.
	txt := testutil.WriteFile(t, t.TempDir(), "notes.txt", []byte("not a video at all\n"))
	r = run(t, runUpload, srv, "--wait", txt)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "The file is not a video or audio format hlsd can read") {
		t.Fatalf("hlsd upload --wait notes.txt: %v", r)
	}
	if last := lastLine(r.stderr); !strings.HasPrefix(last, "hlsd upload: ") || !strings.Contains(last, "failed") {
		t.Errorf("the failure should be one line: %q", last)
	}
	// An empty file: refused at once (400) with the server's sentence.
	empty := testutil.WriteFile(t, t.TempDir(), "empty.mp4", nil)
	if r = run(t, runUpload, srv, empty); r.code != 1 || r.stdout != "" || r.stderr != "hlsd upload: the server refused empty.mp4: The uploaded file is empty.\n" {
		t.Errorf("hlsd upload empty.mp4: %v", r)
	}
	// A missing file never reaches the server.
	if r = run(t, runUpload, srv, filepath.Join(t.TempDir(), "nope.mp4")); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("hlsd upload of a missing file: %v", r)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestClientTokens(t *testing.T) {
	t.Parallel()
	base := startServer(t, func(c *app.Config) { c.APITokens = []string{tokenB} })
	clip := makeClip(t)
	srv := map[string]string{"HLSD_SERVER": base}
	withToken := map[string]string{"HLSD_SERVER": base, "HLSD_API_TOKEN": tokenB}

	// No token: one sentence saying how to give one.
	r := run(t, runUpload, srv, clip)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "needs an API token") || !strings.Contains(r.stderr, "HLSD_API_TOKEN") || strings.Count(r.stderr, "hlsd upload:") != 1 {
		t.Fatalf("upload without a token: %v", r)
	}
	if strings.Contains(r.stderr, "uploading") {
		t.Errorf("the file was sent although the server refused the request (Expect: 100-continue):\n%s", r.stderr)
	}
	if r := run(t, runLs, srv); r.code != 1 || !strings.Contains(r.stderr, "HLSD_API_TOKEN") {
		t.Errorf("ls without a token: %v", r)
	}
	if r := run(t, runRm, srv, "aaaaaaaaaaaaaaaaaaaaaaaa"); r.code != 1 || !strings.Contains(r.stderr, "HLSD_API_TOKEN") {
		t.Errorf("rm without a token: %v", r)
	}
	// A wrong token: the server's sentence, naming where the token came from.
	r = run(t, runUpload, srv, "--token", tokenA, clip)
	if r.code != 1 || !strings.Contains(r.stderr, "refused the API token from --token: The API token is not valid.") {
		t.Fatalf("upload with a wrong token: %v", r)
	}
	if strings.Contains(r.stderr, tokenA) {
		t.Errorf("the token was printed: %s", r.stderr)
	}
	// The right one, from HLSD_API_TOKEN: upload, follow, list, delete.
	r = run(t, runUpload, withToken, "--wait", "--quiet", clip)
	m := masterLineRe.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || r.stderr != "" {
		t.Fatalf("upload --wait --quiet with the token: %v", r)
	}
	if vs := listed(t, withToken); len(vs) != 1 || vs[0].ID != m[1] {
		t.Fatalf("ls with the token: %+v", vs)
	}
	if r := run(t, runRm, withToken, m[1]); r.code != 0 {
		t.Fatalf("rm with the token: %v", r)
	}
}

// A file over the server's limit is refused part way with its sentence.
func TestClientTooLarge(t *testing.T) {
	t.Parallel()
	base := startServer(t, func(c *app.Config) { c.MaxUploadBytes = 1 << 20 })
	big := testutil.WriteFile(t, t.TempDir(), "big.mp4", make([]byte, 8<<20))
	r := run(t, runUpload, nil, "--server", base, big, "--wait")
	if want := "hlsd upload: the server refused big.mp4: The file is larger than the 1 MiB upload limit."; r.code != 1 || r.stdout != "" || lastLine(r.stderr) != want {
		t.Errorf("want %q, got %v", want, r)
	}
}

func TestClientServerUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	clip := testutil.WriteFile(t, t.TempDir(), "clip.mp4", []byte("whatever"))
	for name, cmd := range map[string]command{"upload": runUpload, "ls": runLs, "rm": runRm} {
		args := []string{"--server", addr}
		switch name {
		case "upload":
			args = append(args, clip)
		case "rm":
			args = append(args, "aaaaaaaaaaaaaaaaaaaaaaaa")
		}
		r := run(t, cmd, nil, args...)
		want := "hlsd " + name + ": cannot reach the hlsd server at http://" + addr + ": connection refused"
		if r.code != 1 || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("hlsd %s with no server: want %q…, got %v", name, want, r)
		}
	}
}

// The upload arrives as curl -F sends it, with an exact Content-Length,
// and refusals come back as one sentence naming the file.
func TestUploadRequestAndRefusals(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	path := testutil.WriteFile(t, t.TempDir(), "my clip.mp4", content)
	var mu sync.Mutex
	var status int
	var msg string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/prefix/api/videos" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		status, msg := status, msg
		mu.Unlock()
		if status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, "{\"error\": %q}\n", msg)
			return
		}
		if r.ContentLength <= int64(len(content)) || r.Header.Get("Authorization") != "Bearer "+tokenB {
			t.Errorf("Content-Length %d, Authorization %q", r.ContentLength, r.Header.Get("Authorization"))
		}
		mr, err := r.MultipartReader()
		if err != nil {
			t.Error(err)
			return
		}
		part, err := mr.NextPart()
		if err != nil || part.FormName() != "upload" || part.FileName() != "my clip.mp4" {
			t.Errorf("part %v %q %q", err, part.FormName(), part.FileName())
			return
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, content) {
			t.Errorf("received %d bytes, not the file's %d", len(got), len(content))
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Errorf("after the file: %v", err)
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"id": "aaaaaaaaaaaaaaaaaaaaaaaa", "status_url": "/api/videos/aaaaaaaaaaaaaaaaaaaaaaaa"}`)
	}))
	defer srv.Close()
	e := map[string]string{"HLSD_SERVER": srv.URL + "/prefix/", "HLSD_API_TOKEN": tokenB}
	r := run(t, runUpload, e, path)
	if r.code != 0 || r.stdout != "aaaaaaaaaaaaaaaaaaaaaaaa "+srv.URL+"/prefix/api/videos/aaaaaaaaaaaaaaaaaaaaaaaa\n" {
		t.Fatalf("upload: %v", r)
	}
	for _, tc := range []struct {
		status int
		msg    string
	}{
		{http.StatusRequestEntityTooLarge, "The file is larger than the 1 MiB upload limit."},
		{http.StatusUnsupportedMediaType, "The file is not a video or audio format hlsd can read."},
		{http.StatusUnprocessableEntity, "The source is longer than the 6h0m0s limit."},
	} {
		mu.Lock()
		status, msg = tc.status, tc.msg
		mu.Unlock()
		r := run(t, runUpload, e, path)
		if want := "hlsd upload: the server refused my clip.mp4: " + tc.msg + "\n"; r.code != 1 || r.stdout != "" || lastLine(r.stderr)+"\n" != want {
			t.Errorf("%d: want %q, got %v", tc.status, want, r)
		}
	}
	// Not an hlsd server at all.
	e["HLSD_SERVER"] = srv.URL
	if r := run(t, runUpload, e, path); r.code != 1 || !strings.Contains(r.stderr, "has no hlsd API") {
		t.Errorf("upload to a server without the API: %v", r)
	}
}

// Without an events endpoint the client polls GET /api/videos/{id}; with
// one it follows the stream; either way it ends on the final state.
func TestFollowEventsOrPolling(t *testing.T) {
	t.Parallel()
	const id = "bbbbbbbbbbbbbbbbbbbbbbbb"
	states := []video{
		{ID: id, State: api.StateEncoding, Progress: 0.3},
		{ID: id, State: api.StateSegmenting, Progress: 0.9},
		{ID: id, State: api.StateReady, Progress: 1, MasterURL: "http://cdn.example/streams/" + id + "/master.m3u8"},
	}
	for _, events := range []bool{false, true} {
		var mu sync.Mutex
		gets := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/api/videos/" + id + "/events":
				if !events {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, ": keep-alive\n\n")
				for _, v := range states {
					v.MasterURL = "" // the client asks for it when an event lacks it
					b, _ := json.Marshal(v)
					fmt.Fprintf(w, "event: video\ndata: %s\n\n", b)
					w.(http.Flusher).Flush()
				}
				fmt.Fprintf(w, "event: end\ndata: {\"id\":%q,\"state\":\"ready\"}\n\n", id)
			case "/api/videos/" + id:
				mu.Lock()
				v := states[min(gets, len(states)-1)]
				if events {
					v = states[2]
				}
				gets++
				mu.Unlock()
				json.NewEncoder(w).Encode(v)
			default:
				http.NotFound(w, r)
			}
		}))
		c, err := clientFlags{server: srv.URL}.client(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		var seen []api.State
		v, err := c.follow(context.Background(), id, func(v video) { seen = append(seen, v.State) })
		srv.Close()
		if err != nil || v.State != api.StateReady || v.MasterURL != states[2].MasterURL {
			t.Errorf("events %v: %+v %v", events, v, err)
		}
		if fmt.Sprint(seen) != "[encoding segmenting ready]" {
			t.Errorf("events %v: saw %v", events, seen)
		}
		if events && gets != 1 {
			t.Errorf("with events the client asked GET %d times, want once (for the master URL)", gets)
		}
	}
}

// ls reads a bare array and cursor pages alike, stopping at --limit.
func TestListShapesAndCursors(t *testing.T) {
	t.Parallel()
	mk := func(n int) []video {
		var vs []video
		for i := range n {
			vs = append(vs, video{ID: fmt.Sprintf("v%023d", i), State: api.StateReady, Progress: 1, Filename: fmt.Sprintf("clip %d.mp4", i),
				Source: &api.Source{Duration: 3723}, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
		}
		return vs
	}
	all := mk(250)
	var mu sync.Mutex
	var bare bool
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.RawQuery)
		bare := bare
		mu.Unlock()
		if bare {
			json.NewEncoder(w).Encode(all[:3])
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		end := min(start+min(limit, 40), len(all)) // the server's own page size bound
		page := map[string]any{"videos": all[start:end]}
		if end < len(all) {
			page["next_cursor"] = strconv.Itoa(end)
		}
		json.NewEncoder(w).Encode(page)
	}))
	defer srv.Close()
	e := map[string]string{"HLSD_SERVER": srv.URL}
	if vs := listed(t, e); len(vs) != 250 || vs[249].ID != all[249].ID {
		t.Fatalf("ls --json of 250 videos in pages of 40 gave %d", len(vs))
	}
	mu.Lock()
	requests = nil
	mu.Unlock()
	vs := listed(t, e, "--limit", "45")
	mu.Lock()
	if len(vs) != 45 || len(requests) != 2 || requests[1] != "cursor=40&limit=5" {
		t.Errorf("ls --limit 45: %d videos, requests %q", len(vs), requests)
	}
	mu.Unlock()
	r := run(t, runLs, e, "--limit", "2")
	want := "ID                        STATE  PROGRESS  DURATION  CREATED              NAME\n" +
		"v00000000000000000000000  ready  100%      1:02:03   " + all[0].CreatedAt.Local().Format("2006-01-02 15:04:05") + "  clip 0.mp4\n"
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) || strings.Count(r.stdout, "\n") != 3 || r.stderr != "" {
		t.Errorf("ls --limit 2: want\n%s…, got %v", want, r)
	}
	mu.Lock()
	bare = true
	mu.Unlock()
	if vs := listed(t, e); len(vs) != 3 {
		t.Errorf("ls of a bare array: %d videos", len(vs))
	}
}

func TestParseArgsAnywhere(t *testing.T) {
	var cf clientFlags
	fs := newClientFlagSet("hlsd upload", uploadUsage, io.Discard, &cf)
	wait := fs.Bool("wait", false, "")
	pos, err := parseArgs(fs, []string{"a.mp4", "--wait", "--server", "h:1", "b.mp4", "--", "--token"})
	if err != nil || fmt.Sprint(pos) != "[a.mp4 b.mp4 --token]" || !*wait || cf.server != "h:1" || cf.token != "" {
		t.Errorf("pos %q, err %v, wait %v, server %q, token %q", pos, err, *wait, cf.server, cf.token)
	}
	c, err := cf.client(env(map[string]string{"HLSD_SERVER": "http://ignored", "HLSD_API_TOKEN": " t0k "}))
	if err != nil || c.base != "http://h:1" || c.token != "t0k" || c.tokenFrom != "HLSD_API_TOKEN" {
		t.Errorf("client %+v %v", c, err)
	}
	if _, err := (clientFlags{server: "ftp://x"}).client(env(nil)); err == nil {
		t.Error("an ftp server was accepted")
	}
	var errb bytes.Buffer
	if code := runUpload(context.Background(), nil, env(nil), io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "Usage: hlsd upload FILE") {
		t.Errorf("upload without a file: %d %s", code, errb.String())
	}
	if code := runRm(context.Background(), []string{"-h"}, env(nil), io.Discard, &errb); code != 0 {
		t.Errorf("rm -h: %d", code)
	}
}

// On a terminal the bar is redrawn in place, at most ten times a second,
// with rate and time left; it ends on a new line at 100 %.
func TestByteMeterOnTerminal(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	m := &byteMeter{out: &out, tty: true, label: "clip.mp4", total: 100e6, now: func() time.Time { return now }, step: -1, line: line{w: &out}}
	for i := int64(1); i <= 1000; i++ { // 100 kB every millisecond: 1 s, 100 MB/s
		now = now.Add(time.Millisecond)
		m.set(i * 100e3)
	}
	m.finish(true)
	s := out.String()
	if n := strings.Count(s, "\r"); n < 9 || n > 12 {
		t.Errorf("%d redraws in a second, want about 10:\n%q", n, s)
	}
	if !regexp.MustCompile(`\[=+\] 100%  100\.0/100\.0 MB  100\.\d MB/s\n$`).MatchString(s) || !strings.Contains(s, "ETA 0:01") || !strings.Contains(s, "=>  ") {
		t.Errorf("bar:\n%q", s)
	}
}

// hlsd upload --subtitles checks each file before sending the video, and
// adds it once the video is ready: the master lists it.
func TestUploadWithSubtitles(t *testing.T) {
	t.Parallel()
	base := startServer(t)
	clip := makeClip(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "clip.fr.srt")
	bad := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(good, []byte("1\n00:00:01,000 --> 00:00:02,000\nBonjour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("just notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A file that is not subtitles: refused before anything is sent.
	before := len(listed(t, map[string]string{"HLSD_SERVER": base}))
	r := run(t, runUpload, nil, clip, "--server", base, "--subtitles", "fr="+bad)
	if r.code != 1 || !strings.Contains(r.stderr, "notes.txt") || !strings.Contains(r.stderr, "no cues") {
		t.Errorf("hlsd upload --subtitles with a bad file: %v", r)
	}
	if after := len(listed(t, map[string]string{"HLSD_SERVER": base})); after != before {
		t.Errorf("the video was uploaded anyway: %d videos, were %d", after, before)
	}
	if r := run(t, runUpload, nil, clip, "--server", base, "--subtitles", "clip.fr.srt"); r.code != 2 {
		t.Errorf("--subtitles without LANG=: %v", r)
	}

	r = run(t, runUpload, nil, clip, "--wait", "--server", base, "--subtitles", "fr="+good)
	if r.code != 0 || masterLineRe.FindStringSubmatch(r.stdout) == nil || !strings.Contains(r.stderr, "subtitles added: clip.fr.srt (fr)") {
		t.Fatalf("hlsd upload --wait --subtitles: %v", r)
	}
	resp, err := http.Get(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr",NAME="Français"`) {
		t.Errorf("the master lacks the French subtitles:\n%s", body)
	}
}
