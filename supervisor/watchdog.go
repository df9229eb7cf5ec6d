package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

//go:generate watchdog/build

// The watchdog kills the job's tree when the supervisor dies, even of SIGKILL. It starts
// before the job, so that no moment of the job is unguarded, in a process group of its own,
// out of reach of the job's signals, and reads on a pipe what the supervisor tells it:
// "=PGID" (the job's process group) the moment the job has started, then "+PID START" and
// "-PID" for the members of the tree outside the job's group as they come and go, and
// "done" when the job has ended. If the pipe closes before "=PGID", no job started and it
// exits. If the pipe closes without "done", the supervisor is gone, and the watchdog kills
// the tree: the job's group, the members it was told of (if still the same processes: same
// start time), and everything descending from them. The supervisor's orphans went to init,
// so it reads all of /proc; it stops each process it finds (a stopped process forks no
// more, and killing a parent first would hide its children among init's) until no new one
// appears, then kills them all.
//
// It is on every run's path, so it must cost next to nothing: on amd64 and arm64 it is
// watchdog/watchdog.c, a static program of a few kilobytes without a C library, embedded
// in golock and started from a memory file (a fork and an exec of almost nothing, and
// 16 kB). Elsewhere, or where the kernel refuses to run a memory file, it is this /bin/sh
// script of builtins that does the same (about 1 ms of CPU and 1.6 MB).
const watchdog = `pg= known=" "
while IFS= read -r l; do
  case $l in
  done) exit 0 ;;
  =*) [ -n "$pg" ] || pg=${l#=} ;;
  +*) e=${l#+}; known="$known${e%% *}:${e#* } " ;;
  -*) p=${l#-} k=" "
      set -f
      for e in $known; do case $e in "$p:"*) ;; *) k="$k$e " ;; esac; done
      set +f
      known=$k ;;
  esac
done
[ -n "$pg" ] || exit 0
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
	w     *os.File      // the pipe to the watchdog; nil when none could start
	pid   int           // the watchdog's
	err   error         // why no watchdog could be started
	lines chan string   // to the watchdog once the job has started; closed when it has ended
	wrote chan struct{} // closed once "done" is written, or cannot be
}

// guard starts a watchdog, which waits to be told the job's process group (watch).
func guard() *guardian {
	g := &guardian{lines: make(chan string, 1024), wrote: make(chan struct{})}
	r, w, err := os.Pipe() // close-on-exec: only the watchdog gets an end, the read end
	if err == nil {
		g.pid, err = startWatchdog(r)
		r.Close()
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		g.err = fmt.Errorf("supervisor: watchdog: %w", err)
		close(g.wrote)
		return g
	}
	g.w = w
	return g
}

// watch tells the watchdog the job's process group, at once: it is called the moment the
// job has started, and before the job can fork the watchdog knows whose tree to kill. Then
// it passes on what the tree tells, and "done" when the job has ended.
func (g *guardian) watch(pgid int) {
	if g.w == nil {
		return
	}
	if _, err := io.WriteString(g.w, "="+strconv.Itoa(pgid)+"\n"); err != nil { // a pipe's first bytes: never blocks
		g.err = fmt.Errorf("supervisor: watchdog: %w", err)
	}
	go func() {
		g.pass()
		g.w.Close()
		close(g.wrote)
		// Reaped once told "done" (it exits then), not waited for all along: a goroutine
		// blocked in wait4 for the whole run would hold a thread of its own.
		reap(g.pid)
	}()
}

// pass writes the lines for the watchdog as they come, then "done".
func (g *guardian) pass() {
	for l := range g.lines {
		_ = g.w.SetWriteDeadline(time.Now().Add(time.Second)) // a stuck watchdog must not hold us
		if _, err := io.WriteString(g.w, l+"\n"); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
	_ = g.w.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(g.w, "done\n")
}

// abandon ends a watchdog whose job never started: its pipe closes before it was told a
// process group, and it exits.
func (g *guardian) abandon() {
	if g.w == nil {
		return
	}
	g.w.Close()
	reap(g.pid)
}

// startWatchdog starts a watchdog reading on in, and returns its pid: the native one if it
// can, else the /bin/sh script. It uses syscall.ForkExec rather than os/exec, whose first
// start in a process probes the kernel for pidfd support with four system calls and a
// child of its own.
func startWatchdog(in *os.File) (int, error) {
	attr := &syscall.ProcAttr{
		Env: []string{"PATH=/usr/bin:/bin", "LC_ALL=C"},
		// Nothing to print: standard output and error are closed.
		Files: []uintptr{in.Fd(), ^uintptr(0), ^uintptr(0)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if path, ok := nativeWatchdog(); ok {
		pid, err := startChild(func() (int, error) {
			return syscall.ForkExec(path, []string{"golock-watchdog"}, attr)
		})
		if err == nil {
			return pid, nil
		}
	}
	return startChild(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"/bin/sh", "-c", watchdog, "golock-watchdog"}, attr)
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
	close(g.lines)
	<-g.wrote
	return g.err
}
