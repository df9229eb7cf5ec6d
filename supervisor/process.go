package supervisor

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// process is a child started with syscall.ForkExec rather than os/exec, whose first start
// in a process probes the kernel's pidfd support (four system calls and a child of its
// own): os/exec's first start of true takes 0.32 ms, ForkExec's 0.15 ms, on every run.
type process struct {
	pid  int
	path string // the program run: args[0] as found in PATH
	// copies are the goroutines copying to and from standard streams that are not files;
	// the child's end of their pipes is closed once it has started.
	copies sync.WaitGroup
}

// command is what to start: the job's settings and the arguments to run.
type command struct {
	job  Job
	args []string
	tty  int // the controlling terminal to make the child's group the foreground of, or -1
}

// lookPath finds the program of args[0] in PATH as os/exec does (a name with a slash is
// taken as it is).
func lookPath(name string) (string, error) {
	if filepath.Base(name) != name {
		return name, nil
	}
	return exec.LookPath(name)
}

// start starts c's process in a process group of its own, with SIGKILL as its parent-death
// signal, registered as a child the supervisor started. The calling goroutine must stay
// locked to its thread until the process has been reaped (see Run).
func (c command) start() (*process, error) {
	path, err := lookPath(c.args[0])
	if err != nil {
		return nil, err
	}
	p := &process{path: path}
	var childEnds, parentEnds []*os.File
	fail := func(err error) (*process, error) {
		for _, f := range append(childEnds, parentEnds...) {
			f.Close()
		}
		return nil, err
	}
	files := make([]uintptr, 3)
	for i, stream := range []any{c.job.Stdin, c.job.Stdout, c.job.Stderr} {
		f, ok := stream.(*os.File)
		switch {
		case ok && f != nil:
		case stream == nil || (ok && f == nil):
			// Nil means /dev/null, as in os/exec.
			if f, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
				return fail(err)
			}
			childEnds = append(childEnds, f)
		default:
			r, w, err := os.Pipe()
			if err != nil {
				return fail(err)
			}
			if i == 0 {
				f = r
				parentEnds = append(parentEnds, w)
			} else {
				f = w
				parentEnds = append(parentEnds, r)
			}
			childEnds = append(childEnds, f)
		}
		files[i] = f.Fd()
	}
	env := c.job.Env
	if env == nil {
		env = os.Environ()
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if c.tty >= 0 {
		sys.Foreground = true
		sys.Ctty = c.tty
	}
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: sys}
	p.pid, err = startChild(func() (int, error) { return syscall.ForkExec(path, c.args, attr) })
	if err != nil {
		return fail(&os.PathError{Op: "fork/exec", Path: path, Err: err})
	}
	for _, f := range childEnds {
		f.Close()
	}
	p.copy(c.job, parentEnds)
	return p, nil
}

// copy starts the goroutines that feed the child's standard input from job.Stdin and pass
// its output on to job.Stdout and job.Stderr, for those that are not files; ends are the
// parent's ends of their pipes, in that order.
func (p *process) copy(job Job, ends []*os.File) {
	next := func() *os.File { f := ends[0]; ends = ends[1:]; return f }
	run := func(f func()) {
		p.copies.Add(1)
		go func() { defer p.copies.Done(); f() }()
	}
	if _, isFile := job.Stdin.(*os.File); job.Stdin != nil && !isFile {
		w := next()
		run(func() {
			_, _ = io.Copy(w, job.Stdin) // the child may stop reading: EPIPE ends it too
			w.Close()
		})
	}
	for _, out := range []io.Writer{job.Stdout, job.Stderr} {
		if _, isFile := out.(*os.File); out != nil && !isFile {
			r := next()
			run(func() {
				_, _ = io.Copy(out, r) // until every holder of the pipe's other end is gone
				r.Close()
			})
		}
	}
}

// wait waits for the process to end, sets gone, and only then reaps it (so that whoever
// reads gone knows when the pid may name another process), and returns its status.
func (p *process) wait(gone *atomic.Bool) syscall.WaitStatus {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	gone.Store(true)
	return reap(p.pid)
}

// reap waits for our child pid to end, reaps it, unregisters it and returns its status.
func reap(pid int) syscall.WaitStatus {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	forget(pid)
	return ws
}
