package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

//go:generate watchdog/build

// The watchdog kills the job's tree when the supervisor dies, even of SIGKILL. It runs in
// a process group of its own, out of reach of the job's signals, and reads on a pipe what
// the supervisor tells it: "+PID START" and "-PID" for the members of the tree outside the
// job's group as they come and go, and "done" when the job has ended. If the pipe closes
// without "done", the supervisor is gone, and the watchdog kills the tree: the job's group,
// the members it was told of (if still the same processes: same start time), and
// everything descending from them. The supervisor's orphans went to init, so it reads all
// of /proc; it stops each process it finds (a stopped process forks no more, and killing a
// parent first would hide its children among init's) until no new one appears, then kills
// them all.
//
// It is on every run's path, so it must cost next to nothing: on amd64 and arm64 it is
// watchdog/watchdog.c, a static program of a few kilobytes without a C library, embedded
// in golock and started from a memory file (a fork and an exec of almost nothing: well
// under 0.1 ms, and 16 kB). Elsewhere, or where the kernel refuses to run a memory file, it is
// this /bin/sh script of builtins that does the same (about 1 ms of CPU and 1.6 MB).
const watchdog = `pg=$1 known=" "
while IFS= read -r l; do
  case $l in
  done) exit 0 ;;
  +*) e=${l#+}; known="$known${e%% *}:${e#* } " ;;
  -*) p=${l#-} k=" "
      set -f
      for e in $known; do case $e in "$p:"*) ;; *) k="$k$e " ;; esac; done
      set +f
      known=$k ;;
  esac
done
stopped=" "
i=0
while [ $i -lt 100 ]; do
  i=$((i + 1)) found=
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = $$ ] && continue
    case $stopped in *" $p "*) continue ;; esac
    IFS= read -r s 2>/dev/null < "$d/stat" || continue
    s=${s##*) }
    set -f; set -- $s; set +f
    [ $# -ge 20 ] || continue
    case $1 in Z|X) continue ;; esac
    ppid=$2 pgrp=$3; shift 19; start=$1
    case "$pgrp/$known/$stopped" in
    "$pg"/*|*" $p:$start "*/*|*/*" $ppid "*) kill -s STOP "$p" 2>/dev/null
      stopped="$stopped$p " found=1 ;;
    esac
  done
  [ -n "$found" ] || break
done
kill -s KILL -- "-$pg" 2>/dev/null
for p in $stopped; do kill -s KILL "$p" 2>/dev/null; done
exit 0`

// guardian is the supervisor's end of a watchdog.
type guardian struct {
	lines chan string   // to the watchdog; closed when the job has ended
	wrote chan struct{} // closed once "done" is written, or cannot be
	err   error         // why no watchdog could be started; read after wrote is closed
	ended atomic.Bool   // the job has ended: a watchdog not started yet is not needed
}

// guard starts the watchdog of the job whose process group is pgid. It returns at once:
// the watchdog starts beside the job, off the job's critical path, and a job that ends
// before it could start needs none (done says so).
func guard(pgid int) *guardian {
	g := &guardian{lines: make(chan string, 1024), wrote: make(chan struct{})}
	go func() {
		w, pid, err := g.start(pgid)
		if err != nil || w == nil { // none could start, or the job ended first
			if err != nil {
				g.err = fmt.Errorf("supervisor: watchdog: %w", err)
			}
			close(g.wrote)
			return
		}
		g.pass(w)
		w.Close()
		close(g.wrote)
		// Reaped once told "done" (it exits then), not waited for all along: a goroutine
		// blocked in wait4 for the whole run would hold a thread of its own.
		reap(pid)
	}()
	return g
}

// pass writes the lines for the watchdog to w as they come, then "done".
func (g *guardian) pass(w *os.File) {
	for l := range g.lines {
		_ = w.SetWriteDeadline(time.Now().Add(time.Second)) // a stuck watchdog must not hold us
		if _, err := io.WriteString(w, l+"\n"); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
	_ = w.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(w, "done\n")
}

// start starts the watchdog process and returns the pipe to it and its pid; no pipe when
// the job has ended already.
func (g *guardian) start(pgid int) (*os.File, int, error) {
	if g.ended.Load() {
		return nil, 0, nil
	}
	r, w, err := os.Pipe() // close-on-exec: only the watchdog gets an end, the read end
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	pid, err := startWatchdog(r, pgid)
	if err != nil {
		w.Close()
		return nil, 0, err
	}
	return w, pid, nil
}

// startWatchdog starts the watchdog of process group pgid, reading on in, and returns its
// pid: the native one if it can, else the /bin/sh script. It uses syscall.ForkExec rather
// than os/exec, whose first start in a process probes the kernel for pidfd support with
// four system calls and a child of its own.
func startWatchdog(in *os.File, pgid int) (int, error) {
	attr := &syscall.ProcAttr{
		Env: []string{"PATH=/usr/bin:/bin", "LC_ALL=C"},
		// Nothing to print: standard output and error are closed.
		Files: []uintptr{in.Fd(), ^uintptr(0), ^uintptr(0)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	pg := strconv.Itoa(pgid)
	if path, ok := nativeWatchdog(); ok {
		pid, err := startChild(func() (int, error) {
			return syscall.ForkExec(path, []string{"golock-watchdog", pg}, attr)
		})
		if err == nil {
			return pid, nil
		}
	}
	return startChild(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"/bin/sh", "-c", watchdog, "golock-watchdog", pg}, attr)
	})
}

// useNative is false only in tests of the /bin/sh watchdog.
var useNative = true

// nativeWatchdog returns a path that runs the native watchdog, if this machine has one and
// the kernel lets a memory file hold a program: /proc/self/fd/N, a memory file written once
// per process and kept open (the child's /proc/self is the child, which inherits N until
// its exec has read the program).
func nativeWatchdog() (string, bool) {
	if !useNative {
		return "", false
	}
	return native()
}

var native = sync.OnceValues(func() (string, bool) {
	if len(nativeProgram) == 0 {
		return "", false
	}
	// Kernels since 6.3 ask whether a memory file may be executed; older ones refuse the flag.
	fd, err := unix.MemfdCreate("golock-watchdog", unix.MFD_CLOEXEC|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("golock-watchdog", unix.MFD_CLOEXEC)
	}
	if err != nil {
		return "", false
	}
	f := os.NewFile(uintptr(fd), "golock-watchdog")
	if _, err := f.Write(nativeProgram); err != nil {
		f.Close()
		return "", false
	}
	nativeFile = f
	return fmt.Sprintf("/proc/self/fd/%d", fd), true
})

// nativeFile is the memory file holding the native watchdog, open for the process's life.
var nativeFile *os.File

// tell passes line on to the watchdog, or drops it if the watchdog is that far behind.
func (g *guardian) tell(line string) {
	select {
	case g.lines <- line:
	default:
	}
}

// done tells the watchdog that the job has ended, and returns why there was none, if so.
func (g *guardian) done() error {
	g.ended.Store(true)
	close(g.lines)
	<-g.wrote
	return g.err
}
