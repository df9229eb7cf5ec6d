package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// TestLateAcquireReplyRenewsAtOnce: Redis answers the acquire 1.2 s late (LEASE 3, so the
// kill point is 2 s after the send). The lease counts from the send, so the first renewal
// goes at once, not LEASE/3 after the reply (2.2 s, past the kill point): the job, with
// Redis healthy again, runs to its end.
func TestLateAcquireReplyRenewsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	env := faultEnv("lease-late-reply", proxy.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=1", "CRONLOCK_REDIS_TIMEOUT=3")
	golocktest.Run(t, faultEnv("lease-warm", proxy.Env()), "true") // the scripts loaded: one round trip to delay

	proxy.DelayReplies(1200 * time.Millisecond)
	g := golocktest.Start(t, env, golocktest.Job(dir, 0, "")...)
	golocktest.WaitJob(t, dir)
	proxy.DelayReplies(0)
	time.Sleep(3 * time.Second) // three leases' worth of renewals
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 5*time.Second)
	if r.Code != 0 {
		t.Errorf("a job whose acquire was answered 1.2 s late: exit %d, want 0 (Redis answered in time); stderr:\n%s", r.Code, r.Stderr)
	}
}

// TestRetriedAcquireNoFalseClockStep: the first try of the acquire reaches Redis, but its
// reply comes after REDIS_TIMEOUT, and so does the first retry's; the second retry finds
// the lock already ours, taken 3 s earlier by the first try. golock compares Redis's clock
// as that reply was made, so it sees no clock step, and it renews what is left of the first
// try's lease in time: the job runs to its end.
func TestRetriedAcquireNoFalseClockStep(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	env := faultEnv("lease-retried", proxy.Env(), "CRONLOCK_LEASE=6", "CRONLOCK_REDIS_TIMEOUT=1",
		"CRONLOCK_RECONNECT_ATTEMPTS=2", "CRONLOCK_RECONNECT_BACKOFF=1")
	golocktest.Run(t, faultEnv("lease-warm", proxy.Env()), "true")

	proxy.DelayReplies(5 * time.Second) // tries at 0 s and 1 s time out; the one at 3 s is answered
	g := golocktest.Start(t, env, golocktest.Job(dir, 0, "")...)
	time.Sleep(2500 * time.Millisecond)
	proxy.DelayReplies(0)
	golocktest.WaitJob(t, dir)
	time.Sleep(4 * time.Second) // past the first renewals
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 5*time.Second)
	if r.Code != 0 || len(linesWith(r.Stderr, "clock")) > 0 {
		t.Errorf("a job whose acquire was retried: exit %d, want 0 and no clock step; stderr:\n%s", r.Code, r.Stderr)
	}
}

// TestIntervalSuccessNotLost: under CRONLOCK_INTERVAL, Redis is cut off as the job ends, so
// its release never arrives (golock exits 0 with a warning). The run still counts: once its
// lease has freed the lock, the next tick within the interval exits 200 and runs nothing.
func TestIntervalSuccessNotLost(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	g := golocktest.Start(t, faultEnv("lease-interval", proxy.Env(), "CRONLOCK_INTERVAL=3600"), golocktest.Job(dir, 0, "")...)
	golocktest.WaitJob(t, dir)
	proxy.Blackhole()
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != 0 || len(linesWith(r.Stderr, "cannot release")) != 1 {
		t.Fatalf("the run whose release was cut off: exit %d, want 0 and one warning; stderr:\n%s", r.Code, r.Stderr)
	}
	proxy.Heal()
	lockFreeWithin(t, srv.Client(), "cronlock.lease-interval", 5*time.Second)
	marker := filepath.Join(dir, "second")
	next := golocktest.Run(t, faultEnv("lease-interval", srv.Env(), "CRONLOCK_INTERVAL=3600"), "touch", marker)
	if next.Code != exitHeld || cliExists(marker) {
		t.Errorf("the next tick within the interval: exit %d (ran: %v), want %d and nothing run", next.Code, cliExists(marker), exitHeld)
	}
}
