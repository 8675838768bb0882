package ffmpeg

import "syscall"

// childAttr makes the kernel kill a tool when hlsd dies, however it dies:
// a SIGKILL or an out-of-memory kill leaves no time to cancel contexts, and
// an orphaned encode would hold the cores until its timeout. (The signal is
// tied to the thread that started the child; Go ends threads only under
// runtime.LockOSThread, which nothing here uses.)
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
