package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// A fault that has passed before the kill point must not kill a job: after a failed
// renewal the heartbeat tries again within half a second, not at the next tick. Each test
// here breaks Redis or the network for real, across a renewal's tick, for less time than
// the lease allows, and the job must end with its own code. The older heartbeat, which
// waited for the next tick (LEASE/3 later, with the default KILL_GRACE the kill point
// itself), killed every one of these jobs.

// renewedAt waits for the heartbeat to renew name and returns about when it did.
func renewedAt(t *testing.T, c *redis.Client, name string) time.Time {
	t.Helper()
	nextRenewal(t, c, name)
	return time.Now().Add(-20 * time.Millisecond) // nextRenewal waits 20 ms after it
}

// survived checks that the job outlived the fault (why says what it survived), then lets
// it finish and checks that golock exits with the job's own code.
func survived(t *testing.T, g *golocktest.Process, job golocktest.JobInfo, dir string, code int, why string) {
	t.Helper()
	if proctest.Gone(job.PID) {
		t.Fatalf("%s; stderr:\n%s", why, g.Stderr())
	}
	golocktest.FinishJob(t, dir)
	if r := g.WaitWithin(t, 10*time.Second); r.Code != code {
		t.Errorf("exit code %d, want the job's %d; stderr:\n%s", r.Code, code, r.Stderr)
	}
}

// sleepUntil sleeps until at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// rewrittenWithin waits up to d for name to be held by owner again after Redis lost it;
// it returns when it was.
func rewrittenWithin(t *testing.T, c *redis.Client, name, owner string, d time.Duration, g *golocktest.Process) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if got, err := c.HGet(context.Background(), name, "owner").Result(); err == nil {
			if got != owner {
				t.Fatalf("the lock came back owned by %s, not by the job's %s", got, owner)
			}
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock was not renewed within %v of Redis answering again; golock's stderr:\n%s", d, g.Stderr())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRideThroughRedisRestart: Redis killed with SIGKILL across a renewal's tick and
// started again, empty, 0.3 s later, with LEASE 3 and the default KILL_GRACE (1 s, so the
// next tick would be the kill point): the job keeps its lock and ends with its own code.
func TestRideThroughRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const key, name = "ride-restart", "cronlock.ride-restart"
	g := golocktest.Start(t, faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3"), golocktest.Job(dir, 5, "")...)
	job := golocktest.WaitJob(t, dir)
	c := srv.Client()

	at := renewedAt(t, c, name)
	sleepUntil(at.Add(850 * time.Millisecond)) // the next renewal is due at +1 s
	srv.RestartAfter(300 * time.Millisecond)
	back := time.Now()
	renewed := rewrittenWithin(t, c, name, job.Owner, 2*time.Second, g)
	t.Logf("measured: Redis down %v across a tick; lock renewed %v after Redis answered again, %v after the tick; kill point was at +2 s",
		back.Sub(at.Add(850*time.Millisecond)).Round(time.Millisecond), renewed.Sub(back).Round(time.Millisecond),
		renewed.Sub(at.Add(time.Second)).Round(time.Millisecond))
	if r := golocktest.Run(t, faultEnv(key, srv.Env()), "true"); r.Code != exitHeld {
		t.Errorf("competitor after the restart: exit %d, want %d; stderr:\n%s", r.Code, exitHeld, r.Stderr)
	}
	time.Sleep(2500 * time.Millisecond) // past where the old heartbeat killed it
	if proctest.Gone(job.PID) {
		t.Fatalf("the job was killed although Redis was back before the kill point; stderr:\n%s", g.Stderr())
	}
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != 5 {
		t.Errorf("exit code %d, want the job's 5; stderr:\n%s", r.Code, r.Stderr)
	}
	if n := len(linesWith(r.Stderr, "cannot renew")); n != 1 {
		t.Errorf("%d warnings that renewals fail, want 1:\n%s", n, r.Stderr)
	}
	if lines := linesWith(r.Stderr, "renewed again after"); len(lines) != 1 || !strings.Contains(lines[0], "failed attempts") {
		t.Errorf("want one recovery line with the attempt count, got:\n%s", r.Stderr)
	}
}

// TestRideThroughTwoOutages: two 1 s outages (Redis killed, started again empty) a third
// of a lease apart, each across a renewal's tick, with LEASE 6: the job survives both.
func TestRideThroughTwoOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const key, name = "ride-two", "cronlock.ride-two"
	g := golocktest.Start(t, faultEnv(key, srv.Env(), "CRONLOCK_LEASE=6"), golocktest.Job(dir, 6, "")...)
	job := golocktest.WaitJob(t, dir)
	c := srv.Client()

	at := renewedAt(t, c, name)
	for i := range 2 {
		sleepUntil(at.Add(1500 * time.Millisecond)) // the next renewal is due at +2 s
		srv.RestartAfter(time.Second)
		back := time.Now()
		renewed := rewrittenWithin(t, c, name, job.Owner, 2500*time.Millisecond, g)
		t.Logf("measured: outage %d: lock renewed %v after Redis answered again (kill point %v later than that)",
			i+1, renewed.Sub(back).Round(time.Millisecond), at.Add(4*time.Second).Sub(renewed).Round(time.Millisecond))
		at = renewed
		time.Sleep(2 * time.Second) // a third of the lease
		at = renewedAt(t, c, name)
	}
	survived(t, g, job, dir, 6, "the job was killed by outages that passed")
}

// TestRideThroughBlackhole: a network that silently drops everything across a renewal's
// tick and recovers before the kill point: the job survives.
func TestRideThroughBlackhole(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	const key, name = "ride-blackhole", "cronlock.ride-blackhole"
	g := golocktest.Start(t, faultEnv(key, proxy.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_REDIS_TIMEOUT=0.3"),
		golocktest.Job(dir, 3, "")...)
	job := golocktest.WaitJob(t, dir)

	at := renewedAt(t, c, name)
	sleepUntil(at.Add(800 * time.Millisecond))
	proxy.Blackhole()
	sleepUntil(at.Add(1600 * time.Millisecond)) // the tick at +1 s went unanswered
	proxy.Heal()
	healed := time.Now()
	renewed := nextRenewal(t, c, name)
	t.Logf("measured: blackhole of 0.8 s across a tick; renewal confirmed %v after the network healed (lease now ends %v later)",
		time.Since(healed).Round(time.Millisecond), time.Until(renewed).Round(time.Millisecond))
	if time.Since(at) > 2*time.Second {
		t.Errorf("renewed %v after the last success, past the kill point (+2 s)", time.Since(at))
	}
	time.Sleep(time.Second)
	survived(t, g, job, dir, 3, "the job was killed although the network healed before the kill point")
}

// TestResetRevokesHolder: CRONLOCK_RESET while the holder's job runs. The lock stays taken,
// marked revoked, until the old job is gone: --status shows it held and a run right after
// the reset exits 200 without running. The holder's next renewal finds it revoked and never
// renews it: under kill its job gets SIGTERM (its TERM handler runs), golock exits 201 with
// one line naming the reset, the run is recorded revoked, and only then may a new run take
// the lock, with a higher fence; under keep the job runs on and its end frees the lock.
func TestResetRevokesHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	for _, mode := range []string{"kill", "keep"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			key := "ride-reset-" + mode
			name := "cronlock." + key
			env := faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_ON_LOST="+mode)
			g := golocktest.Start(t, env, golocktest.Job(dir, 4, "")...)
			job := golocktest.WaitJob(t, dir)
			at := renewedAt(t, c, name)

			r := golocktest.Run(t, append(env, "CRONLOCK_RESET=yes", "CRONLOCK_VERBOSE=yes"), golocktest.Job(dir, 0, "")...)
			reset := time.Now()
			if r.Code != exitHeld {
				t.Fatalf("reset: exit %d, want %d; stderr:\n%s", r.Code, exitHeld, r.Stderr)
			}
			if lines := linesWith(r.Stderr, "lock reset"); len(lines) != 1 || !strings.Contains(lines[0], job.Owner) {
				t.Errorf("the reset does not say whose lock it cleared (owner %s):\n%s", job.Owner, r.Stderr)
			}
			st := golocktest.Run(t, env, append([]string{"--status"}, golocktest.Job(dir, 0, "")...)...)
			if !strings.Contains(st.Stdout, "held by") {
				t.Errorf("--status right after the reset: %q, want it held until the old job is gone", st.Stdout)
			}
			ran := filepath.Join(dir, "second-ran")
			if next := golocktest.Run(t, env, "touch", ran); next.Code != exitHeld || cliExists(ran) {
				t.Errorf("a run right after the reset: exit %d (ran: %v), want %d and nothing run beside the old job",
					next.Code, cliExists(ran), exitHeld)
			}

			if mode == "kill" {
				res := g.WaitWithin(t, 5*time.Second)
				if res.Code != exitFailed {
					t.Errorf("holder: exit %d, want %d; stderr:\n%s", res.Code, exitFailed, res.Stderr)
				}
				if lines := linesWith(res.Stderr, "job killed"); len(lines) != 1 || !strings.Contains(lines[0], "CRONLOCK_RESET") ||
					!strings.Contains(lines[0], name) {
					t.Errorf("want one line naming the lock and the reset, got:\n%s", res.Stderr)
				}
				if !cliExists(filepath.Join(dir, "term")) {
					t.Error("the holder's job got no SIGTERM it could handle before it was killed")
				}
				if !proctest.Gone(job.PID) {
					t.Error("the holder's job still runs")
				}
				t.Logf("measured: the holder exited 201 %v after the reset (renewals every 1 s)", g.End().Sub(reset).Round(time.Millisecond))
				var last statusJSON
				st := golocktest.Run(t, env, append([]string{"--status", "--json"}, golocktest.Job(dir, 0, "")...)...)
				if err := json.Unmarshal([]byte(st.Stdout), &last); err != nil || last.LastRun == nil || last.LastRun.Outcome != "revoked" {
					t.Errorf("the holder's run is not recorded revoked: %s (%v)", st.Stdout, err)
				}
			} else {
				time.Sleep(time.Until(at.Add(2500 * time.Millisecond))) // two renewals later
				if proctest.Gone(job.PID) {
					t.Fatal("under keep the reset ended the job")
				}
				golocktest.FinishJob(t, dir)
				res := g.WaitWithin(t, 5*time.Second)
				if res.Code != 4 {
					t.Errorf("holder under keep: exit %d, want the job's 4; stderr:\n%s", res.Code, res.Stderr)
				}
				if len(linesWith(res.Stderr, "CRONLOCK_RESET")) == 0 || len(linesWith(res.Stderr, "runs on")) == 0 {
					t.Errorf("want a warning that the reset revoked the lock and the job runs on:\n%s", res.Stderr)
				}
			}
			// The old job is gone: the lock is free, and the next run takes it with a higher fence.
			next := golocktest.Run(t, env, "sh", "-c", `echo "$CRONLOCK_FENCE"`)
			fence, err := strconv.ParseInt(strings.TrimSpace(next.Stdout), 10, 64)
			if next.Code != 0 || err != nil || fence <= job.Fence {
				t.Errorf("a run after the old job ended: exit %d, fence %q; want 0 and more than %d", next.Code, next.Stdout, job.Fence)
			}
			if strings.Contains(g.Stderr(), "vanished") {
				t.Errorf("the holder wrote the lock back:\n%s", g.Stderr())
			}
		})
	}
}

// TestReleaseWithRedisGone: Redis killed for good as the job ends: golock exits within
// REDIS_TIMEOUT + 1 s of the job's end, with the default reconnect schedule (which would
// wait 0 + 5 + 10 + 15 + 20 s).
func TestReleaseWithRedisGone(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	for _, when := range []string{"noticed", "unnoticed"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			c := srv.Client()
			dir := t.TempDir()
			key := "ride-release-gone-" + when
			env := faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_REDIS_TIMEOUT=1",
				"CRONLOCK_RECONNECT_ATTEMPTS=5", "CRONLOCK_RECONNECT_BACKOFF=5")
			g := golocktest.Start(t, env, golocktest.Job(dir, 9, "")...)
			golocktest.WaitJob(t, dir)
			at := renewedAt(t, c, "cronlock."+key)
			if when == "noticed" {
				// A renewal has failed: golock knows Redis is gone.
				sleepUntil(at.Add(500 * time.Millisecond))
				srv.Kill()
				g.WaitStderr(t, "cannot renew", 1, 3*time.Second)
			} else {
				srv.Kill()
			}
			golocktest.FinishJob(t, dir)
			ended := time.Now()
			r := g.WaitWithin(t, 30*time.Second)
			took := g.End().Sub(ended)
			t.Logf("measured: Redis gone at release (%s by the heartbeat): golock exited %v after the job's end (bound 2 s)",
				when, took.Round(time.Millisecond))
			if took > 2*time.Second {
				t.Errorf("golock exited %v after the job's end, want at most REDIS_TIMEOUT + 1 s", took)
			}
			if r.Code != 9 {
				t.Errorf("exit code %d, want the job's 9; stderr:\n%s", r.Code, r.Stderr)
			}
			if len(linesWith(r.Stderr, "cannot release")) != 1 {
				t.Errorf("want one line saying the release failed:\n%s", r.Stderr)
			}
		})
	}
}

// TestSignalEndsSlowRelease: Redis stopped (SIGSTOP) as the job ends, REDIS_TIMEOUT 30 s: a
// SIGTERM during the release ends it, and golock exits at once with the job's code.
func TestSignalEndsSlowRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	t.Cleanup(srv.Resume)
	dir := t.TempDir()
	env := faultEnv("ride-slow-release", srv.Env(), "CRONLOCK_LEASE=30", "CRONLOCK_REDIS_TIMEOUT=30",
		"CRONLOCK_RECONNECT_ATTEMPTS=5", "CRONLOCK_RECONNECT_BACKOFF=5")
	g := golocktest.Start(t, env, golocktest.Job(dir, 8, "")...)
	job := golocktest.WaitJob(t, dir)
	srv.Pause()
	golocktest.FinishJob(t, dir)
	<-watchGone(job.PID, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // the release is waiting on Redis
	sent := time.Now()
	if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := g.WaitWithin(t, 10*time.Second)
	t.Logf("measured: golock exited %v after SIGTERM during a stuck release", g.End().Sub(sent).Round(time.Millisecond))
	if g.End().Sub(sent) > time.Second {
		t.Errorf("golock exited %v after SIGTERM, want at once", g.End().Sub(sent))
	}
	if r.Code != 8 {
		t.Errorf("exit code %d, want the job's 8; stderr:\n%s", r.Code, r.Stderr)
	}
	if len(linesWith(r.Stderr, "release interrupted by terminated")) != 1 {
		t.Errorf("want one line saying the signal ended the release:\n%s", r.Stderr)
	}
}

// TestKeepNeverHangs: under CRONLOCK_ON_LOST=keep, two losses for unconfirmed renewals
// (the network blackholed, then healed) and then a renewal that finds another owner must
// all be reported without blocking: golock exits after its job with the job's code.
func TestKeepNeverHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	const key, name = "ride-keep", "cronlock.ride-keep"
	g := golocktest.Start(t, faultEnv(key, proxy.Env(), "CRONLOCK_ON_LOST=keep", "CRONLOCK_REDIS_TIMEOUT=0.2"),
		golocktest.Job(dir, 2, "")...)
	job := golocktest.WaitJob(t, dir)
	for i := 1; i <= 2; i++ {
		proxy.Blackhole()
		g.WaitStderr(t, "runs on", i, 5*time.Second)
		proxy.Heal()
		g.WaitStderr(t, "renewed again", i, 5*time.Second)
	}
	// Another owner takes the lock: the next renewal reports it, a third loss.
	if err := c.Del(context.Background(), name).Err(); err != nil {
		t.Fatal(err)
	}
	thief := golocktest.Run(t, faultEnv(key, srv.Env(), "CRONLOCK_GRACE=60"), "true")
	if thief.Code != 0 {
		t.Fatalf("the thief: exit %d; stderr:\n%s", thief.Code, thief.Stderr)
	}
	g.WaitStderr(t, "runs on", 3, 5*time.Second)
	if proctest.Gone(job.PID) {
		t.Fatal("the job was killed under keep")
	}
	golocktest.FinishJob(t, dir)
	r := g.WaitWithin(t, 5*time.Second)
	if r.Code != 2 {
		t.Errorf("exit code %d, want the job's 2; stderr:\n%s", r.Code, r.Stderr)
	}
	if owner := ownerOf(t, c, name); owner == job.Owner {
		t.Error("the thief's lock was overwritten")
	}
}

// TestWaitRunsOutMidAcquire: a waiter whose acquire ran in Redis but whose reply came
// after CRONLOCK_WAIT ran out gives the lock back, rather than leaving it held by nobody
// for a lease; under CRONLOCK_LIMIT=2, the slot it took, which is not the first.
func TestWaitRunsOutMidAcquire(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	for _, limit := range []int{1, 2} {
		t.Run("LIMIT="+strconv.Itoa(limit), func(t *testing.T) {
			t.Parallel()
			waitRunsOutMidAcquire(t, limit)
		})
	}
}

func waitRunsOutMidAcquire(t *testing.T, limit int) {
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	const key, name = "ride-wait-cut", "cronlock.ride-wait-cut"
	ctx := context.Background()
	// The release script is in Redis already, so that the waiter's undo is one round trip.
	if err := lockscript.All()["release"].Load(ctx, c).Err(); err != nil {
		t.Fatal(err)
	}
	lim := "CRONLOCK_LIMIT=" + strconv.Itoa(limit)
	// Every slot held: by a record of our own for one, by golocks (straight to Redis) for more.
	if limit == 1 {
		cliHold(t, c, name)
	} else {
		for k := 1; k <= limit; k++ {
			golocktest.Start(t, faultEnv(key, srv.Env(), lim, "CRONLOCK_LEASE=20"), "sleep", "60")
			if !redistest.Poll(10*time.Second, func() bool { return c.Exists(ctx, lockscript.SlotKey(name, k)).Val() == 1 }) {
				t.Fatalf("holder %d never took slot %d", k, k)
			}
		}
	}
	slot := lockscript.SlotKey(name, limit) // the one freed for the waiter: the last
	ran := filepath.Join(t.TempDir(), "ran")
	const wait = 2500 * time.Millisecond
	g := golocktest.Start(t, faultEnv(key, proxy.Env(), lim, "CRONLOCK_WAIT=2.5", "CRONLOCK_LEASE=20",
		"CRONLOCK_REDIS_TIMEOUT=8"), "touch", ran)
	// Once the waiter is subscribed and its first retry has been answered, every reply is
	// held back for longer than WAIT, and the slot is freed without a word: the waiter's next
	// poll (within a second) takes it in Redis, and hears of it only after WAIT has run out.
	if !redistest.Poll(10*time.Second, func() bool {
		n := c.PubSubNumSub(ctx, lockscript.Channel(name)).Val()[lockscript.Channel(name)]
		return n > 0
	}) {
		t.Fatalf("the waiter never subscribed; stderr:\n%s", g.Stderr())
	}
	time.Sleep(300 * time.Millisecond)
	proxy.DelayReplies(wait + time.Second)
	if err := c.Del(ctx, slot).Err(); err != nil {
		t.Fatal(err)
	}
	var taken time.Time
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		owner := c.HGet(ctx, slot, "owner").Val()
		if taken.IsZero() && owner != "" {
			taken = time.Now()
		}
		if !taken.IsZero() && owner == "" {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	freed := time.Now()
	if taken.IsZero() {
		t.Fatalf("the waiter's acquire never ran in Redis; stderr:\n%s", g.Stderr())
	}
	r := g.WaitWithin(t, 15*time.Second)
	t.Logf("measured: LIMIT=%d: the slot the cut acquire took was held %v in all (lease 20 s); the waiter exited %v after it started",
		limit, freed.Sub(taken).Round(time.Millisecond), r.Took.Round(time.Millisecond))
	// At most WAIT, then the undo (a new connection and the release), held back by the
	// proxy; without the undo, the lease: 20 s.
	if held := freed.Sub(taken); held > wait+3*(wait+time.Second) {
		t.Errorf("the cut acquire's slot was held %v, want it given back as soon as WAIT ran out", held)
	}
	if r.Code != exitHeld {
		t.Errorf("waiter: exit %d, want %d; stderr:\n%s", r.Code, exitHeld, r.Stderr)
	}
	if cliExists(ran) {
		t.Error("the job ran although WAIT ran out")
	}
	if limit > 1 {
		return // the holders hold the other slots
	}
	if next := golocktest.Run(t, faultEnv(key, srv.Env()), "true"); next.Code != 0 {
		t.Errorf("a run after the waiter: exit %d, want 0; stderr:\n%s", next.Code, next.Stderr)
	}
}

// TestClockStep: Redis's wall clock steps forward 10 s while the job runs (its lease of
// 3 s ends at once in Redis). The next renewal sees Redis's clock against golock's
// monotonic one: a warning, and under kill the job ends as for a lost lock; under keep it
// runs on.
func TestClockStep(t *testing.T) {
	if testing.Short() {
		t.Skip("ride-through test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	for _, mode := range []string{"kill", "keep"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			clk := redistest.NewClock(t)
			srv := redistest.Start(t, redistest.WithClock(clk))
			c := srv.Client()
			dir := t.TempDir()
			key := "ride-clock-" + mode
			g := golocktest.Start(t, faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_ON_LOST="+mode),
				golocktest.Job(dir, 3, "")...)
			job := golocktest.WaitJob(t, dir)
			at := renewedAt(t, c, "cronlock."+key)
			sleepUntil(at.Add(300 * time.Millisecond))
			clk.Step(10 * time.Second)
			stepped := time.Now()
			g.WaitStderr(t, "clock jumped forward", 1, 3*time.Second)
			t.Logf("measured: step of Redis's clock reported %v after it happened: %s", time.Since(stepped).Round(time.Millisecond),
				linesWith(g.Stderr(), "clock jumped forward")[0])
			if mode == "kill" {
				r := g.WaitWithin(t, 5*time.Second)
				if r.Code != exitFailed {
					t.Errorf("exit %d, want %d; stderr:\n%s", r.Code, exitFailed, r.Stderr)
				}
				checkLostLine(t, r.Stderr, "cronlock."+key, "")
				if !proctest.Gone(job.PID) {
					t.Error("the job still runs")
				}
				return
			}
			time.Sleep(1500 * time.Millisecond)
			if proctest.Gone(job.PID) {
				t.Fatal("under keep the step ended the job")
			}
			golocktest.FinishJob(t, dir)
			if r := g.WaitWithin(t, 5*time.Second); r.Code != 3 {
				t.Errorf("exit %d, want the job's 3; stderr:\n%s", r.Code, r.Stderr)
			}
		})
	}
}
