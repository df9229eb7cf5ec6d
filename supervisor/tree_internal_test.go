package supervisor

import (
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestTreeWalk walks the tree of a job with a process in its group and one in a session
// of its own, checks it finds both and the job, and measures what a walk costs: the
// supervisor walks every 0.1 s while a job runs.
func TestTreeWalk(t *testing.T) {
	t.Parallel()
	ready := filepath.Join(t.TempDir(), "ready")
	runtime.LockOSThread() // the parent-death signal is the thread's
	defer runtime.UnlockOSThread()
	p, err := command{args: []string{"sh", "-c", `sleep 60 & setsid sleep 60 & echo > "$0"; wait`, ready}, tty: -1}.start()
	if err != nil {
		t.Fatal(err)
	}
	var gone atomic.Bool
	defer p.wait(&gone)
	var told []string
	tr := newTree(&gone, func(l string) { told = append(told, l) })
	tr.first = p.pid
	defer tr.close()
	defer tr.signal(syscall.SIGKILL)
	for _, err := os.Stat(ready); err != nil; _, err = os.Stat(ready) {
		time.Sleep(5 * time.Millisecond)
	}
	// setsid makes its session, then execs sleep: on a busy machine that takes a while.
	var inGroup, outside int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		inGroup, outside = 0, 0
		for _, m := range tr.walk() {
			if m.pgrp == p.pid {
				inGroup++
			} else {
				outside++
			}
		}
		if outside == 1 || time.Now().After(deadline) {
			break
		}
	}
	if inGroup != 2 || outside != 1 || len(told) != 1 {
		t.Fatalf("walk found %d in the group, %d outside (want 2, 1); the watchdog was told %q", inGroup, outside, told)
	}
	const n = 200
	start := time.Now()
	for range n {
		tr.walk()
	}
	per := time.Since(start) / n
	t.Logf("measured: a walk of a 3-process tree takes %v: %.2f%% of a CPU at one walk each %v",
		per.Round(time.Microsecond), 100*per.Seconds()/walkEvery.Seconds(), walkEvery)
}
