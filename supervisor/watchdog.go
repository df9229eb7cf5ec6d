package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The watchdog kills the job's tree when the supervisor dies, even of SIGKILL. It is the
// program's own binary run again (/proc/self/exe) with watchdogEnv set, in a process group
// of its own, out of reach of the job's signals. It reads on a pipe what the supervisor
// tells it: "+PID START" and "-PID" for the members of the tree outside the job's group
// as they come and go, and "done" when the job has ended. If the pipe closes without
// "done", the supervisor is gone, and the watchdog kills the tree.

// watchdogEnv, set in a watchdog's environment to the job's process group, makes
// WatchdogMain run the watchdog.
const watchdogEnv = "GOLOCK_SUPERVISOR_WATCHDOG"

// hooked is set by WatchdogMain: the program can run a watchdog.
var hooked atomic.Bool

// WatchdogMain is to be called first thing in main by a program that calls Run: Run starts
// its watchdog by running the program's binary again, and in that process WatchdogMain
// runs the watchdog and exits. Anywhere else it returns at once. In a program that does
// not call it, Run runs its jobs without a watchdog (see Result.Unguarded).
func WatchdogMain() {
	v, ok := os.LookupEnv(watchdogEnv)
	if !ok {
		hooked.Store(true)
		return
	}
	pgid, err := strconv.Atoi(v)
	if err != nil || pgid <= 1 {
		fmt.Fprintln(os.Stderr, "golock-watchdog: bad process group", v)
		os.Exit(2)
	}
	watch(pgid, os.Stdin)
	os.Exit(0)
}

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
	if !hooked.Load() {
		g.err = errors.New("supervisor: no watchdog: the program does not call supervisor.WatchdogMain")
		close(g.wrote)
		return g
	}
	go func() {
		defer close(g.wrote)
		w, err := g.start(pgid)
		if err != nil {
			g.err = fmt.Errorf("supervisor: watchdog: %w", err)
			for range g.lines { // nobody to tell
			}
			return
		}
		if w == nil {
			return // the job ended first
		}
		defer w.Close()
		for l := range g.lines {
			_ = w.SetWriteDeadline(time.Now().Add(time.Second)) // a stuck watchdog must not hold us
			if _, err := io.WriteString(w, l+"\n"); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
		}
		_ = w.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(w, "done\n")
	}()
	return g
}

// start starts the watchdog process and returns the pipe to it, or nil when the job has
// ended already.
func (g *guardian) start(pgid int) (*os.File, error) {
	if g.ended.Load() {
		return nil, nil
	}
	r, w, err := os.Pipe() // close-on-exec: only the watchdog gets an end, the read end
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"golock-watchdog"}
	// One thread does (and starts faster); under the race detector a process lingers a
	// second at exit unless told otherwise.
	cmd.Env = []string{watchdogEnv + "=" + strconv.Itoa(pgid), "GOMAXPROCS=1", "GORACE=atexit_sleep_ms=0"}
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startChild(cmd); err != nil {
		w.Close()
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		forget(cmd.Process.Pid)
	}()
	return w, nil
}

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

// watch is the watchdog's work: it follows what the supervisor tells it on r, and kills
// the tree of the job whose process group is pgid unless r says "done" before it ends.
func watch(pgid int, r io.Reader) {
	known := make(map[int]uint64) // members outside the job's group: pid → start time
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "done" {
			return
		}
		sign, rest := line[:min(1, len(line))], line[min(1, len(line)):]
		pid, start, _ := strings.Cut(rest, " ")
		p, err := strconv.Atoi(pid)
		if err != nil {
			continue
		}
		switch sign {
		case "+":
			known[p], _ = strconv.ParseUint(start, 10, 64)
		case "-":
			delete(known, p)
		}
	}
	killTree(pgid, known)
}

// killTree kills what is left of a job whose supervisor died: its process group, the
// processes of the tree outside it that the watchdog was told of, and everything that
// descends from either. The supervisor's orphans went to init, so the tree is found by
// reading all of /proc. Everything is stopped first, until no new process appears (a
// stopped process forks no more, and killing a parent would hide its children among
// init's), and then killed.
func killTree(pgid int, known map[int]uint64) {
	stopped := make(map[int]bool)
	for range 100 {
		found := false
		for _, pid := range orphanedTree(pgid, known) {
			if !stopped[pid] {
				_ = syscall.Kill(pid, syscall.SIGSTOP)
				stopped[pid] = true
				found = true
			}
		}
		if !found {
			break
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for pid := range stopped {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// orphanedTree returns the live processes in process group pgid or in known (with the
// same start time), and all their descendants.
func orphanedTree(pgid int, known map[int]uint64) []int {
	entries, _ := os.ReadDir("/proc")
	stats := make(map[int]procStat, len(entries))
	kids := make(map[int][]int)
	var roots []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.ended() {
			continue
		}
		stats[pid] = st
		kids[st.ppid] = append(kids[st.ppid], pid)
		if start, ok := known[pid]; st.pgrp == pgid || (ok && start == st.start) {
			roots = append(roots, pid)
		}
	}
	var tree []int
	seen := make(map[int]bool)
	for len(roots) > 0 {
		pid := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		tree = append(tree, pid)
		roots = append(roots, kids[pid]...)
	}
	return tree
}
