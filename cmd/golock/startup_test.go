package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// TestSlowAcquireDoesNotStartJob: when the acquire's reply comes so late that the lease is
// nearly over, the job must not start at all (it would be killed at once, or outlive the
// lease). Redis is paused while golock asks, and resumed after more than the lease.
func TestSlowAcquireDoesNotStartJob(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	marker := cliPath(t, "ran")
	env := faultEnv("slow-acquire", srv.Env(), "CRONLOCK_LEASE=0.6", "CRONLOCK_KILL_GRACE=0.2",
		"CRONLOCK_REDIS_TIMEOUT=5", "CRONLOCK_RECONNECT_ATTEMPTS=0")
	srv.Pause()
	g := golocktest.Start(t, env, "touch", marker)
	time.Sleep(1200 * time.Millisecond) // longer than the lease
	srv.Resume()
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != exitFailed || cliExists(marker) {
		t.Errorf("exit %d, job ran: %v; want 201 and no job\n%s", r.Code, cliExists(marker), r.Stderr)
	}
	if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "not running") {
		t.Errorf("want one line saying the job did not run, got:\n%s", r.Stderr)
	}
	if n := srv.Client().Exists(context.Background(), "cronlock.slow-acquire").Val(); n != 0 {
		t.Error("the lock was not given back")
	}
}

// TestSignalDuringAcquireGivesLockBack: a signal that comes while the acquire request is
// under way ends golock (nothing runs), and the lock that request takes is given back: the
// request is not abandoned, or the lock it takes would stay behind.
func TestSignalDuringAcquireGivesLockBack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	marker := cliPath(t, "ran")
	env := faultEnv("signal-acquire", srv.Env(), "CRONLOCK_REDIS_TIMEOUT=5", "CRONLOCK_GRACE=60")
	// Loaded scripts: golock's first EVALSHA takes the lock, rather than failing NOSCRIPT.
	for _, script := range lockscript.All() {
		if err := script.Load(context.Background(), srv.Client()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	srv.Pause()
	g := golocktest.Start(t, env, "touch", marker)
	time.Sleep(300 * time.Millisecond) // the acquire is waiting on the paused server
	if !redistest.Poll(5*time.Second, func() bool { return proctest.Catches(g.Cmd.Process.Pid, syscall.SIGTERM) }) {
		t.Fatal("golock never caught SIGTERM")
	}
	if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	srv.Resume() // the acquire runs now, then the give-back
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != exitFailed || cliExists(marker) {
		t.Errorf("exit %d, job ran: %v; want 201 and no job\n%s", r.Code, cliExists(marker), r.Stderr)
	}
	if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "interrupted") {
		t.Errorf("want one line saying it was interrupted, got:\n%s", r.Stderr)
	}
	if n := srv.Client().Exists(context.Background(), "cronlock.signal-acquire").Val(); n != 0 {
		t.Errorf("the lock the request took was left behind (it would block the job for GRACE); stderr:\n%s", r.Stderr)
	}
}

// TestBackgroundProcessesKeepTheLock: a job that leaves a process running in the
// background (cmd &) holds the lock until that ends too, as flock(1) would; a competitor
// meanwhile gets 200.
func TestBackgroundProcessesKeepTheLock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := faultEnv("background", srv.Env())
	wait := golocktest.Start(t, env, "sh", "-c", "sleep 1.2 & exit 0").Wait
	time.Sleep(500 * time.Millisecond) // the job's first process is long gone
	if r := golocktest.Run(t, env, "true"); r.Code != exitHeld {
		t.Errorf("a competitor while the background sleep runs: exit %d, want 200\n%s", r.Code, r.Stderr)
	}
	r := wait()
	if r.Code != 0 || r.Took < 1100*time.Millisecond || r.Stderr != "" {
		t.Errorf("exit %d after %v, stderr %q; want 0 after the background sleep, silently", r.Code, r.Took, r.Stderr)
	}
	if r := golocktest.Run(t, env, "true"); r.Code != 0 {
		t.Errorf("a run after it: exit %d, want 0\n%s", r.Code, r.Stderr)
	}
}

// TestStuckConnectionDoesNotCostTheLease: a renewal stuck on a connection that went dead
// (its packets lost, no reset) gives up in time for the next tick to renew on a new
// connection, so the job keeps its lock although CRONLOCK_REDIS_TIMEOUT is longer than
// the lease.
func TestStuckConnectionDoesNotCostTheLease(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	env := faultEnv("stuck-connection", proxy.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=0.5",
		"CRONLOCK_REDIS_TIMEOUT=10")
	g := golocktest.Start(t, env, "sleep", "3.5")
	if !redistest.Poll(5*time.Second, func() bool {
		return srv.Client().Exists(context.Background(), "cronlock.stuck-connection").Val() == 1
	}) {
		t.Fatal("the lock never appeared")
	}
	time.Sleep(200 * time.Millisecond)
	proxy.Freeze() // every connection golock has now goes dead; new ones work
	r := g.WaitWithin(t, 20*time.Second)
	if r.Code != 0 {
		t.Errorf("exit %d, want 0: the job should have kept its lock\n%s", r.Code, r.Stderr)
	}
}
