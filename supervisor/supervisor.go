// Package supervisor runs a job as a child process and owns its whole process tree: the
// child leads its own process group; the supervisor is a child subreaper, so it can follow
// every descendant, also those that changed group or session; signals and kills reach the
// group and every descendant outside it; orphans are reaped as they end; and the tree dies
// with the supervisor even when the supervisor is SIGKILLed (Linux parent-death signal and
// a watchdog). It knows nothing of Redis.
package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Forwarded are the signals a supervisor passes on to the job.
var Forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// Notified returns the signals of Forwarded to ask for with signal.Notify: those not
// ignored when the program started. A signal ignored then (nohup ignores SIGHUP; a script's
// cmd & ignores SIGINT) stays ignored, for the program and for the job, which inherits
// that. Call it before any signal.Notify of them, which ends their being ignored. Go can
// tell only of SIGHUP and SIGINT: it installs its own handler for the others at start.
func Notified() []os.Signal {
	var sigs []os.Signal
	for _, sig := range Forwarded {
		if !signal.Ignored(sig) {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}

// Prepare readies, ahead of Run, what Run needs of the runtime: the handler of SIGCHLD.
// Setting up a signal's handler takes a round trip to the runtime's signal thread and
// back; a program may call Prepare beside other work, so that Run starts the job sooner.
// Calling it is optional.
func Prepare() { prepare() }

var prepare = sync.OnceFunc(func() {
	// A channel of its own that nobody reads: a signal for a full channel is dropped.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGCHLD)
})

// Job says what to run and how.
type Job struct {
	Args []string // command and arguments; Args[0] is looked up in PATH
	Env  []string // the child's whole environment, passed as it is; nil is this process's
	// Stdin, Stdout and Stderr are handed to the child as they are; *os.File values are
	// passed through without copying. Nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Timeout kills the job's whole tree with SIGKILL once it has passed; zero never does.
	Timeout time.Duration
	// Signals delivers signals to forward to the job: to its process group and to the
	// processes of its tree outside it (see Forwarded, Notified); nil forwards none.
	Signals <-chan os.Signal
	// Stop asks for the job to end: SIGTERM to its tree at once, SIGKILL at Stop.Kill.
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

// Run runs job to its end: its first process and everything that descends from it,
// wherever it went (other process groups and sessions included). Its error is non-nil only
// when the command could not start.
//
// If the supervisor dies, even of SIGKILL, the kernel kills the job's first process
// (parent-death signal), and a watchdog kills the rest of its tree (see watchdog.go).
//
// Orphans of the job come to the supervisor, a child subreaper. Run takes it that the
// program starts no other children while it runs: while there is one job, every child of
// the program that Run did not start is an orphan of that job (so a daemon that detached
// in a blink is still found); with several jobs at once, only orphans in a job's process
// group or seen in its tree before are told apart.
func Run(job Job) (Result, error) {
	if len(job.Args) == 0 {
		return Result{Code: 127}, errors.New("supervisor: no command")
	}
	// The watchdog starts before the job does; what else the start needs is done beside it.
	guarded := make(chan *guardian, 1)
	go func() { guarded <- guard() }()
	becomeSubreaper() // before the job starts, so that none of its orphans goes to init
	tty := foregroundTTY()
	if tty >= 0 {
		defer reclaimTerminal(tty)
	}
	// Orphans that end are reaped as they come: a job that double-forks all day must not
	// fill the process table with zombies.
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	defer signal.Stop(chld)

	started := make(chan error, 1)
	exited := make(chan syscall.WaitStatus, 1)
	var p *process
	var gone atomic.Bool // the first process has ended
	g := <-guarded
	// The job counts as running before its first process starts: from then on no other
	// job running here takes this one's orphans for its own.
	t := newTree(&gone, g.tell)
	defer t.close()
	go func() {
		// The parent-death signal fires when the thread that forked the child ends, not
		// the process: keep this thread until the child has been reaped.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		p, err = command{job, job.Args, tty}.start()
		if pe := (*os.PathError)(nil); errors.As(err, &pe) && errors.Is(err, syscall.ENOEXEC) && !binaryFile(pe.Path) {
			// A script without "#!": run it with /bin/sh, as sh, bash and cronlock do.
			p, err = command{job, append([]string{"/bin/sh", pe.Path}, job.Args[1:]...), tty}.start()
		}
		if err == nil {
			g.watch(p.pid)
		}
		started <- err
		if err != nil {
			return
		}
		exited <- p.wait(&gone)
	}()
	if err := <-started; err != nil {
		g.abandon()
		return Result{Code: startFailureCode(err)}, fmt.Errorf("cannot run %s: %w", job.Args[0], err)
	}
	t.first = p.pid
	afterStart(job)
	res := supervise(job, exited, t, chld)
	res.Unguarded = g.done()
	p.copies.Wait() // the tree is gone: nothing holds the pipes of its output any more
	return res, nil
}

// afterStart is called once the job's first process has started, before it is supervised;
// a test slows it down, to widen that moment.
var afterStart = func(Job) {}

// binaryFile reports whether path looks like a binary rather than a script, as bash
// judges it: a NUL byte in its first line (within 80 bytes).
func binaryFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 80)
	n, _ := io.ReadFull(f, b)
	b = b[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.IndexByte(b, 0) >= 0
}

// walkEvery is how often the tree is walked while the job runs, to learn of its processes
// that leave the job's group before their parent ends and links to them are lost.
const walkEvery = 100 * time.Millisecond

// supervise is the one place where the child's exit, forwarded signals, the timeout and
// a stop request meet. The child leads the job's process group; signals and kills reach
// the group and every process of the tree outside it.
func supervise(job Job, exited <-chan syscall.WaitStatus, t *tree, chld <-chan os.Signal) Result {
	res := Result{Started: true}
	var timeout, kill <-chan time.Time
	if job.Timeout > 0 {
		tm := time.NewTimer(job.Timeout)
		defer tm.Stop()
		timeout = tm.C
	}
	walk := time.NewTicker(walkEvery)
	defer walk.Stop()
	signals, stop := job.Signals, job.Stop
	firstGone, killed := false, false
	// left is whether anything of the job remains once its first process has gone. What
	// the job left running (cmd &, a daemon) is the job still, holding the lock as
	// flock(1) would, and still subject to the timeout, signals and stops. Once the job is
	// killed (its timeout, or a stop's kill time) nothing of it may outlive the lock:
	// stragglers are killed as they are found. Before a stop's kill time they have the same
	// grace as the first process had, to end on SIGTERM.
	left := func() bool {
		if res.TimedOut || killed {
			return t.signal(syscall.SIGKILL) && becomeSubreaper()
		}
		// Without being subreaper the job's orphans went to init: they can be neither
		// reaped nor all found, and the job counts as ended with its first process.
		return becomeSubreaper() && len(t.walk()) > 0
	}
	// check walks the tree, which reaps the orphans that ended, and reports whether the
	// job has ended.
	check := func() bool {
		if firstGone {
			return !left()
		}
		t.walk()
		return false
	}
	for {
		select {
		case ws := <-exited:
			exited = nil
			firstGone = true
			res.Code = exitCode(ws)
			if check() {
				return res
			}
		case <-chld:
			if check() {
				return res
			}
		case <-walk.C:
			if check() {
				return res
			}
		case sig := <-signals:
			t.signal(sig.(syscall.Signal))
		case <-timeout:
			res.TimedOut = true
			t.signal(syscall.SIGKILL)
		case s := <-stop:
			stop = nil
			res.Stopped = true
			t.signal(syscall.SIGTERM)
			tm := time.NewTimer(time.Until(s.Kill))
			defer tm.Stop()
			kill = tm.C
		case <-kill:
			kill, killed = nil, true
			t.signal(syscall.SIGKILL)
		}
	}
}

// becomeSubreaper has orphaned descendants reparented to this process rather than to init,
// so that the tree can find and reap them (a zombie would count as alive), and reports
// success.
var becomeSubreaper = sync.OnceValue(func() bool {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == nil
})

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
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
