package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// The job's tree is everything descending from its first process, wherever it went:
// processes that changed group or session (setsid, timeout(1)) included. The supervisor
// is a child subreaper, so the tree's orphans become its children rather than init's;
// /proc/<pid>/task/<tid>/children links the rest.

// procStat is what /proc/<pid>/stat tells the tree of a process.
type procStat struct {
	state      byte // 'Z' zombie, 'X' dead: ended, only waiting to be reaped
	ppid, pgrp int
	start      uint64 // clock ticks from boot to its start: with the pid, names one process
}

func (s procStat) ended() bool { return s.state == 'Z' || s.state == 'X' }

// readStat reads pid's /proc/<pid>/stat; false when there is no such process.
func readStat(pid int) (procStat, bool) {
	b, ok := readProc("/proc/" + strconv.Itoa(pid) + "/stat")
	if !ok {
		return procStat{}, false
	}
	// After the command name in parentheses (which may hold anything): state (field 3),
	// ppid, pgrp, and at field 22 the start time.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, false
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp, start: start}, true
}

// readProc reads a small /proc file with plain system calls: os.ReadFile would first try
// to register it with the network poller, several calls more for each of the many files a
// walk reads.
func readProc(path string) ([]byte, bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	var b []byte
	buf := make([]byte, 512)
	for {
		n, err := syscall.Read(fd, buf)
		if n > 0 {
			b = append(b, buf[:n]...)
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if n <= 0 {
			return b, true
		}
	}
}

// children returns pid's children, from each of its threads.
func children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var kids []int
	for _, task := range tasks {
		kids = appendChildren(kids, dir+task.Name()+"/children")
	}
	return kids
}

// orphans returns the children of our main thread: the processes that came to us as
// subreaper. The kernel hands an orphan to the first live thread of the subreaper, and
// the runtime never ends the main thread; our other threads' children are those we
// started (registered in running), so one file is read, not one a thread.
func orphans(self int) []int {
	s := strconv.Itoa(self)
	return appendChildren(nil, "/proc/"+s+"/task/"+s+"/children")
}

// appendChildren appends the pids listed in a /proc children file to kids.
func appendChildren(kids []int, path string) []int {
	b, _ := readProc(path)
	for _, f := range bytes.Fields(b) {
		if kid, err := strconv.Atoi(string(f)); err == nil {
			kids = append(kids, kid)
		}
	}
	return kids
}

// running is what the jobs running in this process share: how many there are, and which
// of our children the supervisor started itself (first processes and watchdogs, which it
// reaps itself). Any other child of ours is an orphan that came to us as subreaper.
var running struct {
	sync.Mutex
	jobs    int
	started map[int]bool
}

// startChild runs start, which starts a child process and returns its pid, and registers
// that process as one the supervisor started; no walk can see it before.
func startChild(start func() (int, error)) (int, error) {
	running.Lock()
	defer running.Unlock()
	pid, err := start()
	if err != nil {
		return 0, err
	}
	if running.started == nil {
		running.started = make(map[int]bool)
	}
	running.started[pid] = true
	return pid, nil
}

// forget unregisters pid once it has been reaped.
func forget(pid int) {
	running.Lock()
	delete(running.started, pid)
	running.Unlock()
}

// member is a live process of a job's tree.
type member struct{ pid, pgrp int }

// tree is one job's process tree.
type tree struct {
	self  int // our pid: the orphans' parent
	first int // the job's first process, which leads the job's process group; set once started
	// gone is set once the first process has ended, before it is reaped: from then on its
	// pid may name another process.
	gone *atomic.Bool
	// outside holds the members seen outside the job's group, pid → start time: they are
	// the job's still when they outlive the parent that linked them to the tree.
	outside map[int]uint64
	tell    func(line string) // passes changes of outside on to the watchdog
}

// newTree registers a job that is about to start and begins its tree; its first process
// is set once started, and gone says when that process has ended (see process.wait).
func newTree(gone *atomic.Bool, tell func(string)) *tree {
	running.Lock()
	running.jobs++
	running.Unlock()
	return &tree{self: os.Getpid(), gone: gone, outside: map[int]uint64{}, tell: tell}
}

// close unregisters the job.
func (t *tree) close() {
	running.Lock()
	running.jobs--
	running.Unlock()
}

// walk reaps the job's orphans that have ended and returns the tree's live processes.
//
// An orphan that came to us is the job's when it is in the job's group, or was seen in
// the tree before, or, while this is the only job running here, whatever it is: so a
// daemon that detached within a blink is still found.
func (t *tree) walk() []member {
	type kid struct {
		pid int
		st  procStat
	}
	var kids []kid
	for _, pid := range orphans(t.self) {
		if pid == t.first {
			continue // Run reaps it
		}
		if st, ok := readStat(pid); ok {
			kids = append(kids, kid{pid, st})
		}
	}
	var roots []int
	if !t.gone.Load() {
		roots = append(roots, t.first)
	}
	// Read /proc before the register: a child started by another job while we read is
	// registered by the time we can lock it.
	running.Lock()
	alone := running.jobs == 1
	for _, k := range kids {
		if running.started[k.pid] {
			continue
		}
		if !alone && k.st.pgrp != t.first && t.outside[k.pid] != k.st.start {
			continue
		}
		if k.st.ended() {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(k.pid, &ws, syscall.WNOHANG, nil)
			continue
		}
		roots = append(roots, k.pid)
	}
	running.Unlock()
	for pid := range t.outside {
		roots = append(roots, pid) // those that went to a parent outside the tree
	}

	var live []member
	seen, alive := make(map[int]bool), make(map[int]bool)
	for len(roots) > 0 {
		pid := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		st, ok := readStat(pid)
		start, known := t.outside[pid]
		switch {
		case !ok, st.ended(),
			known && st.start != start, // the pid names another process now
			pid == t.first && t.gone.Load():
			continue
		}
		live = append(live, member{pid, st.pgrp})
		alive[pid] = true
		if st.pgrp != t.first && !known {
			t.outside[pid] = st.start
			t.tell("+" + strconv.Itoa(pid) + " " + strconv.FormatUint(st.start, 10))
		}
		roots = append(roots, children(pid)...)
	}
	for pid := range t.outside {
		if !alive[pid] {
			delete(t.outside, pid)
			t.tell("-" + strconv.Itoa(pid))
		}
	}
	return live
}

// signal sends sig to the job's process group and to every process of the tree outside it,
// and reports whether anything of the tree is left.
func (t *tree) signal(sig syscall.Signal) bool {
	live := t.walk()
	_ = syscall.Kill(-t.first, sig)
	for _, m := range live {
		if m.pgrp != t.first {
			_ = syscall.Kill(m.pid, sig)
		}
	}
	return len(live) > 0
}
