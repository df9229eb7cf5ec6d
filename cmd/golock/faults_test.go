package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/ptytest"
	"github.com/golock/golock/internal/redistest"
)

// The fault tests run the golock binary against a real redis-server and break things for
// real: the server killed, restarted empty or stopped with SIGSTOP, the connection cut or
// blackholed by a proxy, the lock stolen, golock itself SIGKILLed. Leases are short so
// that each fault plays out in a few seconds.

// watchGone polls pid every millisecond from now on; the channel gets the time it was
// first seen gone, or is closed without one after d.
func watchGone(pid int, d time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	go func() {
		defer close(c)
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if proctest.Gone(pid) {
				c <- time.Now()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return c
}

// golockLines returns golock's own lines in stderr, which the job shares.
func golockLines(stderr string) []string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "golock: ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// linesWith returns the lines of out that contain s.
func linesWith(out, s string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			lines = append(lines, l)
		}
	}
	return lines
}

// expiry returns the unix time at which name expires in Redis: when its lease ends.
func expiry(t *testing.T, c *redis.Client, name string) time.Time {
	t.Helper()
	ms, err := c.Do(context.Background(), "PEXPIRETIME", name).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", name, err)
	}
	if ms < 0 {
		t.Fatalf("PEXPIRETIME %s = %d: no lock with a lease", name, ms)
	}
	return time.UnixMilli(ms)
}

// nextRenewal waits for the heartbeat to renew name (its expiry moves) and returns the new
// end of the lease in Redis, which holds unless a later renewal moves it again.
func nextRenewal(t *testing.T, c *redis.Client, name string) time.Time {
	t.Helper()
	was := expiry(t, c, name)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if now := expiry(t, c, name); !now.Equal(was) {
			// Let the reply reach golock before the test breaks anything: a renewal that
			// Redis ran but golock never heard of is another fault.
			time.Sleep(20 * time.Millisecond)
			return now
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s not renewed within 10s", name)
	return time.Time{}
}

// lockFreeWithin waits up to d for name to vanish from Redis; it returns when it did.
func lockFreeWithin(t *testing.T, c *redis.Client, name string, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		n, err := c.Exists(context.Background(), name).Result()
		if err == nil && n == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still held %v later (err %v)", name, d, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func ownerOf(t *testing.T, c *redis.Client, name string) string {
	t.Helper()
	owner, err := c.HGet(context.Background(), name, "owner").Result()
	if err != nil {
		t.Fatalf("HGET %s owner: %v", name, err)
	}
	return owner
}

// faultEnv is golock's environment for the fault tests: short leases, no grace hold, and
// Redis waits bounded to half a second, one retry. Later settings in extra win.
func faultEnv(key string, redisEnv []string, extra ...string) []string {
	env := golocktest.Env(redisEnv...)
	env = append(env, "CRONLOCK_KEY="+key, "CRONLOCK_GRACE=0", "CRONLOCK_LEASE=1.5",
		"CRONLOCK_REDIS_TIMEOUT=0.5", "CRONLOCK_RECONNECT_ATTEMPTS=1", "CRONLOCK_RECONNECT_BACKOFF=0.1")
	return append(env, extra...)
}

// TestFaultRedisPausedAtStart: a Redis that accepts connections but never answers gives 201
// within REDIS_TIMEOUT × (ATTEMPTS + 1) plus the backoff, and nothing runs.
func TestFaultRedisPausedAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	srv.Pause()
	t.Cleanup(srv.Resume)
	ran := filepath.Join(t.TempDir(), "ran")
	env := faultEnv("fault-paused-start", srv.Env(),
		"CRONLOCK_RECONNECT_ATTEMPTS=2", "CRONLOCK_RECONNECT_BACKOFF=0.25")
	r := golocktest.Run(t, env, "touch", ran)
	// 3 attempts of 0.5 s each, and waits of 0 and 0.25 s between them.
	const bound = 3*500*time.Millisecond + 250*time.Millisecond
	t.Logf("golock gave up after %v (bound %v)", r.Took.Round(time.Millisecond), bound)
	if r.Code != exitFailed {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, exitFailed, r.Stderr)
	}
	if r.Took < 3*500*time.Millisecond-50*time.Millisecond || r.Took > bound+time.Second {
		t.Errorf("golock took %v, want about %v", r.Took, bound)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the command ran without the lock")
	}
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "cannot take the lock at "+srv.Addr()) {
		t.Errorf("stderr is not one line naming the server:\n%s", r.Stderr)
	}
}

// TestFaultRedisPausedMidJob stops Redis with SIGSTOP while the job runs: renewals go
// unanswered, so the job must be gone before its lease could end in Redis, and golock
// must exit 201 without waiting on Redis for longer than REDIS_TIMEOUT at a time.
func TestFaultRedisPausedMidJob(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	dir := t.TempDir()
	const name = "cronlock.fault-paused-mid-job"
	g := golocktest.Start(t, faultEnv("fault-paused-mid-job", srv.Env()), golocktest.Job(dir, 0, "")...)
	job := golocktest.WaitJob(t, dir)

	leaseEnd := nextRenewal(t, c, name)
	srv.Pause()
	t.Cleanup(srv.Resume)
	died := watchGone(job.PID, 10*time.Second)
	r := g.WaitWithin(t, 10*time.Second)
	death, ok := <-died
	if !ok {
		t.Fatal("the job outlived golock")
	}
	margin := leaseEnd.Sub(death)
	termed := "never (killed outright)"
	if b, err := os.ReadFile(filepath.Join(dir, "term")); err == nil {
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		termed = leaseEnd.Sub(time.Unix(0, ns)).Round(time.Millisecond).String() + " before the lease end"
	}
	t.Logf("Redis paused: the job was gone %v before its lease could end in Redis (SIGTERM: %s); golock exited %v after the lease end",
		margin.Round(time.Millisecond), termed, g.End().Sub(leaseEnd).Round(time.Millisecond))
	if margin <= 0 {
		t.Errorf("the job was gone %v after its lease ended in Redis", -margin)
	}
	if r.Code != exitFailed {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, exitFailed, r.Stderr)
	}
	// Releasing against the stopped server: 2 attempts of 0.5 s and 0.1 s between them,
	// after the renewal in flight has timed out (0.5 s).
	if late := g.End().Sub(leaseEnd); late > 3*time.Second {
		t.Errorf("golock exited %v after the lease ended: some wait on Redis was not bounded", late)
	}
	checkLostLine(t, r.Stderr, name, "")
	if n := len(linesWith(r.Stderr, "cannot renew")); n > 1 {
		t.Errorf("%d warnings for one outage:\n%s", n, r.Stderr)
	}
}

// checkLostLine checks golock's stderr for the one line that says the lock was lost and
// the job killed, naming the lock and, when holder is not empty, the new holder.
func checkLostLine(t *testing.T, stderr, name, holder string) {
	t.Helper()
	lines := linesWith(stderr, "job killed")
	if len(lines) != 1 {
		t.Fatalf("want one line saying the job was killed, got:\n%s", stderr)
	}
	if !strings.Contains(lines[0], name) {
		t.Errorf("the line does not name the lock %s: %s", name, lines[0])
	}
	if holder != "" && !strings.Contains(lines[0], holder) {
		t.Errorf("the line does not name the new holder %s: %s", holder, lines[0])
	}
}

// TestFaultRedisRestartedEmpty kills Redis and starts it again without its data while the
// job runs: the next heartbeat writes the lock again under the same owner, a competitor
// after that gets 200, and the job ends with its own code.
func TestFaultRedisRestartedEmpty(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const key, name = "fault-restart", "cronlock.fault-restart"
	// Two renewals may fail while the server comes back; the lock is lost only after 2.5 s.
	env := faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=0.5")
	g := golocktest.Start(t, env, golocktest.Job(dir, 5, "")...)
	job := golocktest.WaitJob(t, dir)

	srv.Restart()
	c := srv.Client()
	deadline := time.Now().Add(5 * time.Second)
	for {
		owner, err := c.HGet(context.Background(), name, "owner").Result()
		if err == nil {
			if owner != job.Owner {
				t.Fatalf("after the restart the lock is owned by %s, not by the job's %s", owner, job.Owner)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock was not written again within 5s of the restart (%v); golock's stderr:\n%s", err, g.Stderr())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if fence, _ := c.HGet(context.Background(), name, "fence").Int64(); fence != job.Fence {
		t.Errorf("the lock came back with fence %d, want the job's %d", fence, job.Fence)
	}
	if r := golocktest.Run(t, faultEnv(key, srv.Env()), "true"); r.Code != exitHeld {
		t.Errorf("competitor after the restart: exit %d, want %d; stderr:\n%s", r.Code, exitHeld, r.Stderr)
	}
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != 5 {
		t.Errorf("exit code %d, want the job's 5; stderr:\n%s", r.Code, r.Stderr)
	}
	if n := len(linesWith(r.Stderr, "vanished")); n != 1 {
		t.Errorf("want one line saying the lock vanished and was written again, got:\n%s", r.Stderr)
	}
	// The fence goes on increasing after the data loss.
	next := golocktest.Run(t, faultEnv(key, srv.Env()), "sh", "-c", `echo "$CRONLOCK_FENCE"`)
	if fence, err := strconv.ParseInt(strings.TrimSpace(next.Stdout), 10, 64); err != nil || fence <= job.Fence {
		t.Errorf("next run's fence %q (exit %d), want more than %d", next.Stdout, next.Code, job.Fence)
	}
}

// TestFaultProxyDropThenBlackhole cuts the connection between golock and Redis with a TCP
// proxy: dropped connections are made again without losing the lock; a short blackhole is
// one warning and one recovery line; a long one ends the job before its lease can end.
func TestFaultProxyDropThenBlackhole(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	const key, name = "fault-proxy", "cronlock.fault-proxy"
	// Renewals every second; a renewal may fail once and the next one still saves the lock:
	// it is given up 2.5 s after the last one confirmed.
	env := faultEnv(key, proxy.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=0.5", "CRONLOCK_REDIS_TIMEOUT=0.3")
	g := golocktest.Start(t, env, golocktest.Job(dir, 0, "")...)
	job := golocktest.WaitJob(t, dir)

	// Drop: the next renewals connect again.
	proxy.Drop()
	nextRenewal(t, c, name)
	nextRenewal(t, c, name)
	if r := golocktest.Run(t, faultEnv(key, srv.Env()), "true"); r.Code != exitHeld {
		t.Errorf("competitor after the drop: exit %d, want %d", r.Code, exitHeld)
	}

	// A blackhole shorter than the lease: one warning, then one line on recovery.
	warned := len(linesWith(g.Stderr(), "cannot renew"))
	nextRenewal(t, c, name)
	proxy.Blackhole()
	g.WaitStderr(t, "cannot renew", warned+1, 3*time.Second)
	proxy.Heal()
	g.WaitStderr(t, "renewed again", 1, 3*time.Second)
	if proctest.Gone(job.PID) {
		t.Fatalf("the job ended during a short outage; stderr:\n%s", g.Stderr())
	}

	// A blackhole for good: the job must be gone before the lease ends in Redis.
	leaseEnd := nextRenewal(t, c, name)
	proxy.Blackhole()
	died := watchGone(job.PID, 10*time.Second)
	r := g.WaitWithin(t, 10*time.Second)
	death, ok := <-died
	if !ok {
		t.Fatal("the job outlived golock")
	}
	lockFreeWithin(t, c, name, 5*time.Second) // Redis is alive: the lease really runs out
	margin := leaseEnd.Sub(death)
	t.Logf("blackhole: the job was gone %v before its lease ended in Redis; golock exited %v after the lease end",
		margin.Round(time.Millisecond), g.End().Sub(leaseEnd).Round(time.Millisecond))
	if margin <= 0 {
		t.Errorf("the job was gone %v after its lease ended in Redis", -margin)
	}
	if r.Code != exitFailed {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, exitFailed, r.Stderr)
	}
	checkLostLine(t, r.Stderr, name, "")
	if n := len(linesWith(r.Stderr, "renewed again")); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, r.Stderr)
	}
	// One warning per outage however many renewals failed during it.
	if n := len(linesWith(r.Stderr, "cannot renew")); n != warned+2 {
		t.Errorf("%d renewal warnings for %d outages:\n%s", n, warned+2, r.Stderr)
	}
}

// TestFaultLostKillsAtLeaseEnd: a job that ignores SIGTERM is killed with SIGKILL when the
// lease ends.
func TestFaultLostKillsAtLeaseEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	const name = "cronlock.fault-ignore-term"
	g := golocktest.Start(t, faultEnv("fault-ignore-term", proxy.Env()), golocktest.Job(dir, 0, "ignore-term")...)
	job := golocktest.WaitJob(t, dir)
	leaseEnd := nextRenewal(t, c, name)
	proxy.Blackhole()
	died := watchGone(job.PID, 10*time.Second)
	r := g.WaitWithin(t, 10*time.Second)
	death, ok := <-died
	if !ok {
		t.Fatal("the job outlived golock")
	}
	// golock measures the lease from when it sent the renewal, a little before Redis ran it.
	t.Logf("SIGTERM ignored: the job was gone %v after its lease ended in Redis (negative: before)",
		death.Sub(leaseEnd).Round(time.Millisecond))
	// SIGTERM came 0.5 s (KILL_GRACE) before the end and was ignored; SIGKILL comes just
	// before the end (killMargin), never after it, and not much earlier.
	if d := death.Sub(leaseEnd); d < -400*time.Millisecond || d > 0 {
		t.Errorf("the job was gone %v after the lease end, want it gone just before (SIGKILL %v before the end)", d, killMargin)
	}
	if r.Code != exitFailed {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, exitFailed, r.Stderr)
	}
	checkLostLine(t, r.Stderr, name, "")
}

// TestFaultLockStolen deletes the lock while the job runs and lets a second golock take it.
func TestFaultLockStolen(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	// steal starts a golock whose job exits 7 when told, then deletes its lock (right after
	// a renewal) and starts a second golock, the thief, that takes it.
	steal := func(t *testing.T, key string, env ...string) (first *golocktest.Process, dir string, thief golocktest.JobInfo, thiefDir string, stolen time.Time) {
		t.Helper()
		dir, thiefDir = t.TempDir(), t.TempDir()
		first = golocktest.Start(t, faultEnv(key, srv.Env(), env...), golocktest.Job(dir, 7, "")...)
		golocktest.WaitJob(t, dir)
		nextRenewal(t, c, "cronlock."+key)
		stolen = time.Now()
		if err := c.Del(context.Background(), "cronlock."+key).Err(); err != nil {
			t.Fatal(err)
		}
		second := golocktest.Start(t, faultEnv(key, srv.Env()), golocktest.Job(thiefDir, 0, "")...)
		thief = golocktest.WaitJob(t, thiefDir)
		t.Cleanup(func() {
			golocktest.FinishJob(t, thiefDir)
			second.WaitWithin(t, 10*time.Second)
		})
		return first, dir, thief, thiefDir, stolen
	}

	t.Run("kill", func(t *testing.T) {
		t.Parallel()
		const key, name = "fault-stolen-kill", "cronlock.fault-stolen-kill"
		first, dir, thief, _, stolen := steal(t, key, "CRONLOCK_ON_LOST=kill")
		job := golocktest.WaitJob(t, dir)
		died := watchGone(job.PID, 10*time.Second)
		r := first.WaitWithin(t, 10*time.Second)
		death, ok := <-died
		if !ok {
			t.Fatal("the job outlived golock")
		}
		t.Logf("the job was gone %v after its lock was stolen", death.Sub(stolen).Round(time.Millisecond))
		if d := death.Sub(stolen); d > 1500*time.Millisecond {
			t.Errorf("the job ran on for %v after losing its lock, longer than the lease", d)
		}
		if r.Code != exitFailed {
			t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, exitFailed, r.Stderr)
		}
		checkLostLine(t, r.Stderr, name, "pid "+strconv.Itoa(thiefPID(t, c, name)))
		if !strings.Contains(r.Stderr, "left: the lock vanished early from Redis") {
			t.Errorf("the line does not say the lock vanished while the lease still ran:\n%s", r.Stderr)
		}
		if lines := golockLines(r.Stderr); len(lines) != 1 {
			t.Errorf("want one line from golock, got:\n%s", r.Stderr)
		}
		if owner := ownerOf(t, c, name); owner != thief.Owner {
			t.Errorf("the lock is owned by %s, want the new holder %s", owner, thief.Owner)
		}
	})

	t.Run("keep", func(t *testing.T) {
		t.Parallel()
		const key, name = "fault-stolen-keep", "cronlock.fault-stolen-keep"
		first, dir, thief, _, _ := steal(t, key, "CRONLOCK_ON_LOST=keep")
		job := golocktest.WaitJob(t, dir)
		first.WaitStderr(t, "runs on", 1, 5*time.Second)
		if proctest.Gone(job.PID) {
			t.Fatal("CRONLOCK_ON_LOST=keep, but the job was stopped")
		}
		golocktest.FinishJob(t, dir)
		r := first.WaitWithin(t, 10*time.Second)
		if r.Code != 7 {
			t.Errorf("exit code %d, want the job's 7; stderr:\n%s", r.Code, r.Stderr)
		}
		if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "warning:") ||
			!strings.Contains(lines[0], "left: the lock vanished early from Redis") {
			t.Errorf("want one warning line saying the lock vanished while the lease still ran, got:\n%s", r.Stderr)
		}
		if owner := ownerOf(t, c, name); owner != thief.Owner {
			t.Errorf("the lock is owned by %s after the first job's release, want the new holder %s untouched", owner, thief.Owner)
		}
		if ttl := c.PTTL(context.Background(), name).Val(); ttl <= 0 {
			t.Errorf("the new holder's lock has TTL %v", ttl)
		}
	})

	// The job ends before the heartbeat has noticed: release finds the thief's lock,
	// leaves it alone and says who holds it.
	t.Run("job ends first", func(t *testing.T) {
		t.Parallel()
		const key, name = "fault-stolen-unnoticed", "cronlock.fault-stolen-unnoticed"
		// Renewals every second: the job ends long before the next one.
		first, dir, thief, _, _ := steal(t, key, "CRONLOCK_LEASE=3")
		golocktest.FinishJob(t, dir)
		r := first.WaitWithin(t, 10*time.Second)
		if r.Code != 7 {
			t.Errorf("exit code %d, want the job's 7; stderr:\n%s", r.Code, r.Stderr)
		}
		holder := "pid " + strconv.Itoa(thiefPID(t, c, name))
		if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "left untouched") ||
			!strings.Contains(lines[0], holder) || !strings.Contains(lines[0], name) {
			t.Errorf("want one line saying the lock, held by %s, was left untouched; got:\n%s", holder, r.Stderr)
		}
		if owner := ownerOf(t, c, name); owner != thief.Owner {
			t.Errorf("the lock is owned by %s after the first job's release, want the new holder %s untouched", owner, thief.Owner)
		}
	})
}

// thiefPID is the pid recorded in name's lock.
func thiefPID(t *testing.T, c *redis.Client, name string) int {
	t.Helper()
	pid, err := c.HGet(context.Background(), name, "pid").Int()
	if err != nil {
		t.Fatalf("HGET %s pid: %v", name, err)
	}
	return pid
}

// TestFaultGolockKilled SIGKILLs golock itself: its job dies with it at once (parent-death
// signal) and the lock frees itself within LEASE.
func TestFaultGolockKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	dir := t.TempDir()
	const key, name = "fault-golock-killed", "cronlock.fault-golock-killed"
	g := golocktest.Start(t, faultEnv(key, srv.Env()), golocktest.Job(dir, 0, "grandchild")...)
	job := golocktest.WaitJob(t, dir)
	grandchild, _ := strconv.Atoi(golocktest.WaitForFile(t, filepath.Join(dir, "gpid"), time.Second))
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })

	died := watchGone(job.PID, 5*time.Second)
	grandchildDied := watchGone(grandchild, 5*time.Second)
	killed := time.Now()
	if err := g.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	death, ok := <-died
	if !ok || death.Sub(killed) > time.Second {
		t.Fatalf("the job outlived golock's SIGKILL by more than a second")
	}
	freed := lockFreeWithin(t, c, name, 3*time.Second)
	t.Logf("golock SIGKILLed: the job was gone %v later, the lock free %v later",
		death.Sub(killed).Round(time.Millisecond), freed.Sub(killed).Round(time.Millisecond))
	// A renewal golock sent just before it died can still reach Redis up to its timeout
	// (LEASE/6) later and set a full lease from there.
	if d := freed.Sub(killed); d > 1500*time.Millisecond+250*time.Millisecond+100*time.Millisecond {
		t.Errorf("the lock freed %v after golock died, want within LEASE (1.5s) of its last renewal", d)
	}
	// The parent-death signal reaches golock's own child; the watchdog, the rest of its group.
	if gone, ok := <-grandchildDied; !ok || gone.Sub(killed) > time.Second {
		t.Errorf("the job's own background child %d outlived golock's SIGKILL by more than a second", grandchild)
	} else {
		t.Logf("the job's background child was gone %v after golock's SIGKILL", gone.Sub(killed).Round(time.Millisecond))
	}
	if r := golocktest.Run(t, faultEnv(key, srv.Env()), "true"); r.Code != 0 {
		t.Errorf("the next run: exit %d, want 0; stderr:\n%s", r.Code, r.Stderr)
	}
}

// TestFaultTimeoutKillsTree: CRONLOCK_TIMEOUT kills the whole tree, grandchildren behind sh -c
// included, and exits 202 with one line naming the command and the timeout.
func TestFaultTimeoutKillsTree(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	dir := t.TempDir()
	const name = "cronlock.fault-timeout"
	g := golocktest.Start(t, faultEnv("fault-timeout", srv.Env(), "CRONLOCK_TIMEOUT=1"), golocktest.Job(dir, 0, "grandchild")...)
	job := golocktest.WaitJob(t, dir)
	grandchild, _ := strconv.Atoi(golocktest.WaitForFile(t, filepath.Join(dir, "gpid"), time.Second))
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != exitTimeout {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, exitTimeout, r.Stderr)
	}
	if r.Took < time.Second || r.Took > 3*time.Second {
		t.Errorf("golock took %v with CRONLOCK_TIMEOUT=1", r.Took)
	}
	if lines := golockLines(r.Stderr); len(lines) != 1 ||
		!strings.Contains(lines[0], `"sh -c d=$1\n`) || !strings.Contains(lines[0], "CRONLOCK_TIMEOUT=1") {
		t.Errorf("want one line naming the command and the timeout, got:\n%s", r.Stderr)
	}
	for _, pid := range []int{job.PID, grandchild} {
		if gone, ok := <-watchGone(pid, time.Second); !ok {
			t.Errorf("process %d of the job still alive after the timeout", pid)
		} else {
			t.Logf("process %d gone %v after golock exited", pid, gone.Sub(g.End()).Round(time.Millisecond))
		}
	}
	if n, _ := c.Exists(context.Background(), name).Result(); n != 0 {
		t.Error("the lock was not released after the timeout")
	}
}

// TestFaultSignalsForwarded sends each forwarded signal to golock: it reaches the job's
// process group, golock waits for the job, releases, and exits with the job's code
// (128+N when the job dies of the signal).
func TestFaultSignalsForwarded(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	signals := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
		syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}
	for _, sig := range signals {
		name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
		t.Run(name+" trapped", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := "fault-signal-trapped-" + name
			// The job takes its time after the signal: golock must wait for it.
			script := fmt.Sprintf(`trap 'echo %s > "$1/got"; sleep 0.3; exit 3' %s
echo $$ > "$1/pid"
while :; do sleep 0.05; done`, name, name)
			g := golocktest.Start(t, faultEnv(key, srv.Env()), "sh", "-c", script, "job", dir)
			golocktest.WaitForFile(t, filepath.Join(dir, "pid"), 10*time.Second)
			sent := time.Now()
			if err := g.Cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			r := g.WaitWithin(t, 10*time.Second)
			if r.Code != 3 {
				t.Errorf("exit code %d, want the job's 3; stderr:\n%s", r.Code, r.Stderr)
			}
			if got := golocktest.WaitForFile(t, filepath.Join(dir, "got"), time.Second); got != name {
				t.Errorf("the job got %s, want %s", got, name)
			}
			if d := g.End().Sub(sent); d < 300*time.Millisecond {
				t.Errorf("golock exited %v after the signal, before its job ended", d)
			}
			if n, _ := c.Exists(context.Background(), "cronlock."+key).Result(); n != 0 {
				t.Error("the lock was not released")
			}
			if lines := golockLines(r.Stderr); len(lines) != 0 {
				t.Errorf("golock said: %s", lines)
			}
		})
		t.Run(name+" untrapped", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := "fault-signal-untrapped-" + name
			g := golocktest.Start(t, faultEnv(key, srv.Env()), "sh", "-c", `echo $$ > "$1/pid"; exec sleep 60`, "job", dir)
			golocktest.WaitForFile(t, filepath.Join(dir, "pid"), 10*time.Second)
			if err := g.Cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			r := g.WaitWithin(t, 10*time.Second)
			if r.Code != 128+int(sig) {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.Code, 128+int(sig), r.Stderr)
			}
			if n, _ := c.Exists(context.Background(), "cronlock."+key).Result(); n != 0 {
				t.Error("the lock was not released")
			}
		})
	}
}

// TestFaultLongJobKeepsLock runs a job for several leases: the heartbeat keeps the lock,
// a competitor in the middle gets 200, and golock says nothing.
func TestFaultLongJobKeepsLock(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	dir := t.TempDir()
	const key, name = "fault-long-job", "cronlock.fault-long-job"
	env := faultEnv(key, srv.Env(), "CRONLOCK_LEASE=1.5")
	g := golocktest.Start(t, env, golocktest.Job(dir, 0, "")...)
	golocktest.WaitJob(t, dir)
	for range 7 { // renewals every half second: past two leases
		nextRenewal(t, c, name)
	}
	if r := golocktest.Run(t, env, "true"); r.Code != exitHeld {
		t.Errorf("competitor in the middle: exit %d, want %d", r.Code, exitHeld)
	}
	for range 5 {
		nextRenewal(t, c, name)
	}
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 10*time.Second)
	t.Logf("the job ran %v under a lease of 1.5s", r.Took.Round(time.Millisecond))
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("exit code %d, stderr %q; want 0 and silence", r.Code, r.Stderr)
	}
	if n, _ := c.Exists(context.Background(), name).Result(); n != 0 {
		t.Error("the lock was not released")
	}
}

// TestFaultForegroundTerminal runs golock from a real pseudo-terminal, under a shell as
// cron's or a user's would be: the job's process group is the terminal's foreground group,
// so it reads the terminal, and the shell has the terminal back afterwards.
func TestFaultForegroundTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	job := `cut -d" " -f5,8 /proc/$$/stat; read line; echo "got:$line"` // pgrp, tpgid
	script := `"$GOLOCK" sh -c "$JOB"; echo "code=$?"; echo "shell: $(cut -d" " -f5,8 /proc/$$/stat)"`
	sh := exec.Command("sh", "-c", script)
	sh.Env = append(faultEnv("fault-terminal", srv.Env()), "GOLOCK="+golocktest.Binary(t), "JOB="+job)
	term := ptytest.Start(t, sh)
	next := func() string { return term.Next(t) }
	f := strings.Fields(next())
	if len(f) != 2 || f[0] != f[1] {
		t.Fatalf("the job's pgid and the terminal's foreground group: %q, want two equal numbers", f)
	}
	if f[0] == strconv.Itoa(sh.Process.Pid) {
		t.Errorf("the job runs in golock's process group %s", f[0])
	}
	term.Type(t, "hello\n")
	var got, code, shell string
	for shell == "" {
		switch l := next(); {
		case strings.HasPrefix(l, "got:"):
			got = l
		case strings.HasPrefix(l, "code="):
			code = l
		case strings.HasPrefix(l, "shell:"):
			shell = l
		}
	}
	if got != "got:hello" || code != "code=0" {
		t.Errorf("the job read %q and golock ended with %q; want got:hello and code=0", got, code)
	}
	pid := strconv.Itoa(sh.Process.Pid)
	if f := strings.Fields(strings.TrimPrefix(shell, "shell:")); len(f) != 2 || f[0] != pid || f[1] != pid {
		t.Errorf("after golock: %q, want the shell's group %s in the foreground", shell, pid)
	}
}
