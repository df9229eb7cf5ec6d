package proctest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// StartTied starts cmd with SIGKILL as its parent-death signal, so that it dies with the
// test binary however that ends: a timeout, a SIGKILL, a crash. Other SysProcAttr fields
// of cmd are kept.
//
// Linux sends the signal when the thread that forked the child exits, not the process, and
// the Go runtime ends a thread when a goroutine locked to it returns. So every child is
// forked from one goroutine that locks its thread and never returns.
func StartTied(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error)
	forker() <- func() { done <- cmd.Start() }
	return <-done
}

// forker is the channel of the goroutine that forks tied children.
var forker = sync.OnceValue(func() chan<- func() {
	c := make(chan func())
	go func() {
		runtime.LockOSThread() // for ever: the thread must outlive every child it forks
		for start := range c {
			start()
		}
	}()
	return c
})
