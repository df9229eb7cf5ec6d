// Package supervisor runs a job as a child process and owns its whole process tree: the
// child leads its own process group, signals and kills go to that group, and the child
// dies with the supervisor even when the supervisor is SIGKILLed (Linux parent-death
// signal). It knows nothing of Redis.
package supervisor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Forwarded are the signals a supervisor passes on to the job's process group.
var Forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// Job says what to run and how.
type Job struct {
	Args []string // command and arguments; Args[0] is looked up in PATH
	Env  []string // the child's whole environment
	// Stdin, Stdout and Stderr are handed to the child as they are; *os.File values are
	// passed through without copying. Nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Timeout kills the whole process group with SIGKILL once it has passed; zero never does.
	Timeout time.Duration
	// Signals delivers signals to forward to the job's process group (see Forwarded); nil
	// forwards none.
	Signals <-chan os.Signal
	// Stop asks for the job to end: SIGTERM to the group at once, SIGKILL at Stop.Kill.
	// Nil never asks.
	Stop <-chan Stop
}

// Stop asks the supervisor to end the job: SIGTERM now, SIGKILL at Kill.
type Stop struct{ Kill time.Time }

// Result is how the job ended.
type Result struct {
	// Code is the job's exit code, 128+N when it died of signal N, 127 when the command was
	// not found and 126 when it could not be executed.
	Code     int
	Started  bool // the command started; false means Code is 126 or 127
	TimedOut bool // killed by Timeout
	Stopped  bool // ended by a Stop request
	// Unguarded says why no watchdog could be started (see Run); nil when one was.
	Unguarded error
}

// Run runs job to its end. Its error is non-nil only when the command could not start.
//
// If the supervisor dies, even of SIGKILL, the kernel kills the job's first process
// (parent-death signal), and a watchdog kills the rest of its process group: a small shell
// in a group of its own that waits on a pipe from the supervisor and, when the pipe closes
// without the word that the job ended, sends SIGKILL to the job's group.
func Run(job Job) (Result, error) {
	if len(job.Args) == 0 {
		return Result{Code: 127}, errors.New("supervisor: no command")
	}
	cmd := exec.Command(job.Args[0], job.Args[1:]...)
	cmd.Env = job.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = job.Stdin, job.Stdout, job.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	becomeSubreaper() // before the job starts, so that none of its orphans goes to init
	tty := foregroundTTY()
	if tty >= 0 {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = tty
		defer reclaimTerminal(tty)
	}

	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the child ends, not
		// the process: keep this thread until the child has been reaped.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return Result{Code: startFailureCode(err)}, fmt.Errorf("cannot run %s: %w", job.Args[0], err)
	}
	done, guardErr := guard(cmd.Process.Pid)
	res := supervise(cmd, job, exited)
	done()
	res.Unguarded = guardErr
	return res, nil
}

// watchdog SIGKILLs process group $1 unless it reads "done" before its stdin closes.
const watchdog = `IFS= read -r word; [ "$word" = done ] || kill -s KILL -- "-$1"`

// guard starts the watchdog of process group pgid; done tells it the job has ended.
func guard(pgid int) (done func(), err error) {
	r, w, err := os.Pipe() // close-on-exec: only the watchdog gets an end, the read end
	if err != nil {
		return func() {}, fmt.Errorf("supervisor: watchdog: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdog, "golock-watchdog", strconv.Itoa(pgid))
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // out of reach of the job's signals
	if err := cmd.Start(); err != nil {
		w.Close()
		return func() {}, fmt.Errorf("supervisor: watchdog: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	return func() {
		_, _ = io.WriteString(w, "done\n")
		w.Close()
	}, nil
}

// supervise is the one place where the child's exit, forwarded signals, the timeout and
// a stop request meet. The child leads the job's process group.
func supervise(cmd *exec.Cmd, job Job, exited <-chan error) Result {
	pgid := cmd.Process.Pid
	res := Result{Started: true}
	var timeout, kill <-chan time.Time
	if job.Timeout > 0 {
		t := time.NewTimer(job.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	signals, stop := job.Signals, job.Stop
	var drain <-chan time.Time // ticks once the first process has gone but its group has not
	for {
		select {
		case <-exited:
			exited = nil
			res.Code = exitCode(cmd.ProcessState)
			if res.Stopped || res.TimedOut {
				// Nothing of the job may outlive the lock: take any stragglers with it.
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			if groupGone(pgid) {
				return res
			}
			// What the job left running in its group (cmd &) is the job still, holding the
			// lock as flock(1) would, and still subject to the timeout, signals and stops.
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			drain = t.C
		case <-drain:
			if groupGone(pgid) {
				return res
			}
		case sig := <-signals:
			_ = syscall.Kill(-pgid, sig.(syscall.Signal))
		case <-timeout:
			res.TimedOut = true
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		case s := <-stop:
			stop = nil
			res.Stopped = true
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			t := time.NewTimer(time.Until(s.Kill))
			defer t.Stop()
			kill = t.C
		case <-kill:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
}

// groupGone reaps whatever has ended in process group pgid and reports whether nothing of
// it is left. Orphans of the group are ours to reap: Run makes us their subreaper. Where
// that is not allowed, a group whose first process has ended counts as gone.
func groupGone(pgid int) bool {
	if !becomeSubreaper() {
		return true
	}
	for {
		var ws syscall.WaitStatus
		if pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
			break
		}
	}
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// becomeSubreaper has orphaned descendants reparented to this process rather than to init,
// so that groupGone can reap them (a zombie would count as alive), and reports success.
var becomeSubreaper = sync.OnceValue(func() bool {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == nil
})

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// startFailureCode is what a shell would exit with: 127 for a command not found, 126 for
// one found but not executable.
func startFailureCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

// foregroundTTY returns the descriptor of the controlling terminal when our standard input
// is that terminal and we are in its foreground process group; else -1. Then the job is
// made the foreground group, so an interactive command reads the terminal and gets ^C.
func foregroundTTY() int {
	const fd = 0
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || pgrp != syscall.Getpgrp() {
		return -1
	}
	return fd
}

// reclaimTerminal makes our process group the terminal's foreground group again. We are
// in the background when we ask, so SIGTTOU is ignored meanwhile.
func reclaimTerminal(fd int) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, syscall.Getpgrp())
}
