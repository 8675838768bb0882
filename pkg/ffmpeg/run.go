// Package ffmpeg runs ffprobe and ffmpeg on untrusted uploads: always on a
// local file, through a whitelisted demuxer and the file protocol only, with
// a timeout, and with limits on what a source may claim to be.
package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

// Demuxers hlsd accepts. Everything else — notably hls, concat, image2 and
// other formats that can make ffmpeg open further files or URLs — is refused
// before a byte is decoded. Names match ffmpeg's demuxer names; "mov" covers
// mp4/m4a/3gp, "matroska" covers webm.
var Demuxers = []string{
	"mov", "matroska", "webm", "avi", "mpegts", "flv", "ogg", "asf", "mpeg", "mxf", "dv", "ivf", "gif",
	"mp3", "wav", "aac", "flac", "aiff", "w64", "caf",
}

// inputArgs are put before every -i: local files only, known demuxers only.
func inputArgs(src Source) []string {
	args := []string{"-protocol_whitelist", "file", "-format_whitelist", strings.Join(Demuxers, ",")}
	return append(args, decodeLimits(src.MaxPixels)...)
}

// decodeLimits make the decoder itself refuse frames over maxPixels, so a
// source that changes to huge frames after its first ones (the probe sees
// those only) cannot make ffmpeg allocate them: 320x180 followed by
// 8192x8192 once took 752 MiB in a chunk's ffmpeg.
func decodeLimits(maxPixels int) []string {
	if maxPixels <= 0 {
		return nil
	}
	return []string{"-max_pixels", strconv.Itoa(maxPixels)}
}

// pixelLimitRe is the decoder's line when a frame is over -max_pixels.
var pixelLimitRe = regexp.MustCompile(`Picture size (\d+)x(\d+) exceeds specified max pixel count (\d+)`)

// pixelLimitError turns that line, if stderr has it, into the uploader's
// reason; nil if it does not.
func pixelLimitError(stderr string, err error) error {
	m := pixelLimitRe.FindStringSubmatch(stderr)
	if m == nil {
		return nil
	}
	return &ProbeError{Code: video.CodeLimitExceeded, Err: err,
		Reason: fmt.Sprintf("The video has frames of %sx%s; at most %s pixels a frame are allowed", m[1], m[2], m[3])}
}

// ErrTimeout is returned (wrapped) when a run exceeds its time limit.
var ErrTimeout = errors.New("ffmpeg run timed out")

// ExitError is a run that ended with a non-zero status; Stderr holds its last lines.
type ExitError struct {
	Tool   string
	Err    error
	Stderr string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Tool, e.Err, lastLine(e.Stderr))
}

func (e *ExitError) Unwrap() error { return e.Err }

// Killed reports whether the process died from a signal (out of memory, a
// kill from outside) rather than by deciding to fail: worth a retry.
func (e *ExitError) Killed() bool {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode() == -1
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// run executes tool with args, killing it when ctx ends or timeout passes.
// stdout, if not nil, receives the standard output as it is produced.
func run(ctx context.Context, timeout time.Duration, tool string, args []string, stdout io.Writer) error {
	return runWith(ctx, timeout, tool, args, stdout, &tailBuffer{max: 16 << 10})
}

// runStderr is run for tools that report on standard error (filters'
// summaries): it returns the last 64 KiB of it.
func runStderr(ctx context.Context, timeout time.Duration, tool string, args []string) (string, error) {
	stderr := &tailBuffer{max: 64 << 10}
	err := runWith(ctx, timeout, tool, args, nil, stderr)
	return stderr.String(), err
}

func runWith(ctx context.Context, timeout time.Duration, tool string, args []string, stdout io.Writer, stderr *tailBuffer) error {
	return runLimited(ctx, timeout, tool, args, runOpts{stdout: stdout, stderr: stderr})
}

// watchEvery is how often a run's CPU budget and hold are looked at.
const watchEvery = 200 * time.Millisecond

// ErrCPUBudget is returned (wrapped) when a run used more CPU time than its
// budget allowed.
var ErrCPUBudget = errors.New("ffmpeg run exceeded its CPU-time budget")

// Usage is what a finished run cost.
type Usage struct {
	CPU     time.Duration // user and system time
	PeakRSS int64         // bytes
}

type runOpts struct {
	stdout io.Writer
	stderr *tailBuffer
	// cpuBudget, if positive, is the CPU time the run may use: it is
	// killed past it. A wall-clock timeout alone lets a run hold both
	// cores of a busy machine for as long as its timeout.
	cpuBudget time.Duration
	// usage, if set, is told what the run cost, however it ended.
	usage func(Usage)
	// nice, if positive, runs the tool at that lower CPU priority.
	nice int
	// held, if set, is asked every tick whether the run should wait: it
	// is stopped (SIGSTOP) while the answer is true and continued after.
	held func() bool
}

func runLimited(ctx context.Context, timeout time.Duration, tool string, args []string, o runOpts) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	if o.nice > 0 {
		// nice(1) execs the tool in its own process: the same pid for the
		// CPU-time watch, every thread at the lower priority from the start.
		cmd = exec.CommandContext(ctx, "nice", append([]string{"-n", strconv.Itoa(o.nice), tool}, args...)...)
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = childAttr()
	cmd.Stdin = nil
	cmd.Stderr = o.stderr
	cmd.Stdout = o.stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	var overBudget atomic.Bool
	watched := make(chan struct{})
	stopWatch := make(chan struct{})
	go func() {
		defer close(watched)
		if o.cpuBudget <= 0 && o.held == nil {
			return
		}
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		stopped := false
		for first := true; ; first = false {
			if !first { // the first look is at once: a run held from its start does no work
				select {
				case <-stopWatch:
					return
				case <-t.C:
				}
			}
			if o.held != nil {
				// A stopped process can still be killed (timeout, cancel).
				if hold := o.held(); hold != stopped {
					sig := syscall.SIGCONT
					if hold {
						sig = syscall.SIGSTOP
					}
					if cmd.Process.Signal(sig) == nil {
						stopped = hold
					}
				}
			}
			if o.cpuBudget <= 0 {
				continue
			}
			if cpu, ok := cpuTime(cmd.Process.Pid); ok && cpu > o.cpuBudget {
				overBudget.Store(true)
				_ = cmd.Process.Kill()
				return
			}
		}
	}()
	err := cmd.Wait()
	close(stopWatch)
	<-watched
	if o.usage != nil && cmd.ProcessState != nil {
		u := Usage{CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.PeakRSS = ru.Maxrss << 10 // kilobytes on Linux
		}
		o.usage(u)
	}
	switch {
	case err == nil:
		return nil
	case overBudget.Load():
		return fmt.Errorf("%s after %s of CPU time: %w", tool, o.cpuBudget, ErrCPUBudget)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s after %s: %w", tool, timeout, ErrTimeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", tool, ctx.Err())
	default:
		return &ExitError{Tool: tool, Err: err, Stderr: o.stderr.String()}
	}
}

// cpuTime is the user plus system time a running process has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuTime(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// tailBuffer keeps the last max bytes written to it; ffmpeg can print a lot.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
