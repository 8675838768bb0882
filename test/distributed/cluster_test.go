// Package distributed runs hlsd as it runs in production: every service its
// own process, a real nats-server and a real MinIO, and then breaks things —
// kills workers, restarts the broker, takes the store away — asserting that
// every video still ends ready and correct, or failed with a reason.
package distributed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/conformance"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/testutil/miniotest"
	"github.com/hlsd/hlsd/pkg/video"
)

var hlsdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hlsd-distributed-")
	if err != nil {
		panic(err)
	}
	hlsdBin = filepath.Join(dir, "hlsd")
	if out, err := exec.Command("go", "build", "-o", hlsdBin, "../../cmd/hlsd").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building hlsd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func natsServerBin(t *testing.T) string {
	if p := os.Getenv("HLSD_NATS_SERVER_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "nats-server")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := "no nats-server binary: run `make test` (it builds the pinned one) or set HLSD_NATS_SERVER_BIN"
	if os.Getenv("HLSD_REQUIRE_TEST_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// freePorts returns n distinct free ports. The listeners stay open until
// every port is chosen: one closed at once is free again, and the kernel
// once handed the gateway's port to the content service too.
func freePorts(t *testing.T, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// proc is one OS process of the cluster, in its own process group so that
// kill -9 takes its ffmpeg children with it, as losing a machine would.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	args []string
	env  []string
}

func (c *cluster) start(name string, bin string, args []string, env []string) *proc {
	p := &proc{name: name, log: filepath.Join(c.dir, name+".log"), args: args, env: env}
	p.run(c.t, bin)
	c.procs = append(c.procs, p)
	return p
}

func (p *proc) run(t *testing.T, bin string) {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
}

func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// stop asks politely (SIGTERM) and waits.
func (p *proc) stop(t *testing.T) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.cmd = nil
}

// hasFFmpegChild reports whether the process is running ffmpeg right now.
func (p *proc) hasFFmpegChild() bool {
	if p.cmd == nil {
		return false
	}
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(p.cmd.Process.Pid), "ffmpeg").Output()
	return len(bytes.TrimSpace(out)) > 0
}

type cluster struct {
	t          *testing.T
	dir        string
	natsBin    string
	nats       *proc
	natsURL    string
	minio      *miniotest.Server
	gateway    string // base URL
	content    string
	encoders   []*proc
	segmenters []*proc
	procs      []*proc
	env        []string
}

// newCluster starts nats-server, MinIO, a gateway, a content service and
// the given numbers of encoders and segmenters, and waits until all are ready.
func newCluster(t *testing.T, encoders, segmenters int) *cluster {
	testutil.RequireTools(t, "ffmpeg", "ffprobe", "pgrep")
	c := &cluster{t: t, dir: t.TempDir(), natsBin: natsServerBin(t)}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.kill()
		}
		if t.Failed() {
			c.dumpLogs()
		}
	})
	// NATS, gateway, content, the encoders and the segmenters.
	ports := freePorts(t, 3+encoders+segmenters)
	natsPort, gwPort, ctPort := ports[0], ports[1], ports[2]
	c.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	c.nats = c.start("nats-server", c.natsBin, []string{"-js", "-sd", filepath.Join(c.dir, "nats"), "-a", "127.0.0.1", "-p", strconv.Itoa(natsPort)}, nil)
	c.minio = miniotest.Start(t)

	profiles, _ := filepath.Abs("../../profiles.json")
	c.env = []string{
		"HLSD_NATS_URL=" + c.natsURL,
		"HLSD_STORE=" + c.minio.URL("hlsd"),
		"HLSD_PROFILES=" + profiles,
		"HLSD_JOB_ACK_WAIT=3s",
		"HLSD_JOB_BACKOFF=1s,2s,4s,8s,10s",
		"HLSD_MAX_ATTEMPTS=6",
		"HLSD_SHUTDOWN_GRACE=5s",
	}
	c.gateway = fmt.Sprintf("http://127.0.0.1:%d", gwPort)
	c.content = fmt.Sprintf("http://127.0.0.1:%d", ctPort)
	c.service("gateway", gwPort, "HLSD_CONTENT_URL="+c.content)
	c.service("content", ctPort)
	for i := 0; i < encoders; i++ {
		c.encoders = append(c.encoders, c.service(fmt.Sprintf("encoder-%d", i+1), ports[3+i]))
	}
	for i := 0; i < segmenters; i++ {
		c.segmenters = append(c.segmenters, c.service(fmt.Sprintf("segmenter-%d", i+1), ports[3+encoders+i]))
	}
	return c
}

// service starts one hlsd target (named by the prefix of name) and waits for /readyz.
func (c *cluster) service(name string, port int, extraEnv ...string) *proc {
	target, _, _ := strings.Cut(name, "-")
	env := append(append([]string{
		fmt.Sprintf("HLSD_LISTEN=127.0.0.1:%d", port),
		"HLSD_DATA_DIR=" + filepath.Join(c.dir, name),
	}, c.env...), extraEnv...)
	p := c.start(name, hlsdBin, []string{target}, env)
	c.waitReady(name, fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	p.env = append(p.env, fmt.Sprintf("HLSD_ADMIN=http://127.0.0.1:%d", port))
	return p
}

func (p *proc) adminURL() string {
	for _, e := range p.env {
		if v, ok := strings.CutPrefix(e, "HLSD_ADMIN="); ok {
			return v
		}
	}
	return ""
}

func (c *cluster) waitReady(name, url string) {
	c.t.Helper()
	waitFor(c.t, name+" to be ready", time.Minute, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// restartNATS stops the broker and starts it again on the same port and data.
func (c *cluster) restartNATS(down time.Duration) {
	c.nats.stop(c.t)
	time.Sleep(down) // the outage itself
	c.nats.run(c.t, c.natsBin)
}

// dumpLogs shows the last lines of every process's log and keeps the
// whole logs in a directory that outlives the test. Only a few lines each:
// a CI report shows the end of the output, and the test's own failure
// messages, printed before these, must still be in it.
func (c *cluster) dumpLogs() {
	kept, err := os.MkdirTemp("", "hlsd-"+strings.ReplaceAll(c.t.Name(), "/", "_")+"-logs-")
	for _, p := range c.procs {
		b, _ := os.ReadFile(p.log)
		if err == nil {
			_ = os.WriteFile(filepath.Join(kept, p.name+".log"), b, 0o644)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 6 {
			lines = lines[len(lines)-6:]
		}
		c.t.Logf("---- %s (last lines) ----\n%s", p.name, strings.Join(lines, "\n"))
	}
	if err == nil {
		c.t.Logf("the whole logs are in %s", kept)
	}
}

var waitFor = testutil.WaitFor

// clip makes a test video with ffmpeg's lavfi sources.
func clip(t *testing.T, name string, seconds float64, size string) string {
	t.Helper()
	return testutil.Generate(t, name, "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=25",
		"-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", strconv.FormatFloat(seconds, 'f', 2, 64),
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
}

// post uploads a file as multipart field "upload".
func post(t *testing.T, url, path string) (int, string) {
	status, body, _ := testutil.Upload(t, url, path)
	return status, strings.TrimSpace(string(body))
}

// create uploads through the JSON API and returns the video id at once.
func (c *cluster) create(t *testing.T, path string) string {
	status, body := post(t, c.gateway+"/api/videos", path)
	var v struct{ ID string }
	if status != http.StatusAccepted || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("POST /api/videos = %d %s", status, body)
	}
	return v.ID
}

// video reads a video's state; ok is false while the gateway cannot answer.
func (c *cluster) video(id string) (video.Video, bool) {
	resp, err := http.Get(c.gateway + "/api/videos/" + id)
	if err != nil {
		return video.Video{}, false
	}
	defer resp.Body.Close()
	var v video.Video
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return video.Video{}, false
	}
	return v, true
}

// waitState waits until the video reaches a final state and returns it.
func (c *cluster) waitFinal(t *testing.T, id string, d time.Duration) video.Video {
	t.Helper()
	var v video.Video
	waitFor(t, "video "+id+" to finish", d, func() bool {
		var ok bool
		v, ok = c.video(id)
		return ok && v.State.Final()
	})
	return v
}

// checkPlayable asserts ffmpeg decodes the whole master cleanly, it lasts
// want seconds, and the conformance suite finds nothing (whatever the
// faults on the way, the published HLS is as good as an undisturbed one).
func (c *cluster) checkPlayable(t *testing.T, id string, want float64) {
	t.Helper()
	master := c.content + "/streams/" + id + "/master.m3u8"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	report, err := conformance.Check(ctx, master, conformance.Options{Concurrency: 2})
	if err != nil {
		t.Errorf("video %s: hlsd check: %v", id, err)
	}
	for _, f := range report.Findings {
		t.Errorf("video %s: hlsd check: %v", id, f)
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", master, "-map", "0", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("video %s: ffmpeg decoding the master: %v\n%s", id, err, out)
	}
	d, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", master).Output()
	got, _ := strconv.ParseFloat(strings.TrimSpace(string(d)), 64)
	if err != nil || math.Abs(got-want) > 0.3 {
		t.Errorf("video %s lasts %g s (%v), its source %g s", id, got, err, want)
	}
}

// metric reads one sample from a process's /metrics (0 if absent).
func metric(t *testing.T, p *proc, series string) float64 {
	t.Helper()
	resp, err := http.Get(p.adminURL() + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", p.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			return v
		}
	}
	return 0
}
