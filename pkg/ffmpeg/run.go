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
	"os/exec"
	"strings"
	"sync"
	"time"
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
func inputArgs() []string {
	return []string{"-protocol_whitelist", "file", "-format_whitelist", strings.Join(Demuxers, ",")}
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = nil
	cmd.Stderr = stderr
	cmd.Stdout = stdout
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s after %s: %w", tool, timeout, ErrTimeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", tool, ctx.Err())
	default:
		return &ExitError{Tool: tool, Err: err, Stderr: stderr.String()}
	}
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
