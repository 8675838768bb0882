package ffmpeg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/testutil"
)

// A tool dies with the process that ran it, even when that process is
// killed outright (SIGKILL: no context is cancelled). The test runs itself
// again as the parent, which starts a long tool and blocks; the test kills
// that parent and waits for the tool to go.
func TestToolDiesWithParent(t *testing.T) {
	if pidFile := os.Getenv("HLSD_TEST_TOOL_PARENT"); pidFile != "" {
		// The parent: exec keeps the shell's pid, the one it wrote.
		_ = runLimited(context.Background(), time.Hour, "sh", []string{"-c", `echo $$ > "$1.tmp" && mv "$1.tmp" "$1" && exec sleep 600`, "sh", pidFile},
			runOpts{stderr: &tailBuffer{max: 1 << 10}})
		os.Exit(0)
	}
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(os.Args[0], "-test.run=^TestToolDiesWithParent$")
	parent.Env = append(os.Environ(), "HLSD_TEST_TOOL_PARENT="+pidFile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	var pid string
	testutil.WaitFor(t, "the tool to start", 20*time.Second, func() bool {
		b, err := os.ReadFile(pidFile)
		pid = strings.TrimSpace(string(b))
		return err == nil && testutil.ProcessState(pid) != ""
	})
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// Gone, or a zombie where nothing reaps orphans (a container's init).
	testutil.WaitFor(t, "the tool to die with its parent", 20*time.Second, func() bool {
		s := testutil.ProcessState(pid)
		return s == "" || s == "Z"
	})
}
