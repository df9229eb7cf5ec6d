package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
func survived(t *testing.T, g *faultGolock, job jobInfo, dir string, code int, why string) {
	t.Helper()
	if proctest.Gone(job.pid) {
		t.Fatalf("%s; stderr:\n%s", why, g.stderr())
	}
	finishJob(t, dir)
	if r := g.wait(t, 10*time.Second); r.code != code {
		t.Errorf("exit code %d, want the job's %d; stderr:\n%s", r.code, code, r.stderr)
	}
}

// sleepUntil sleeps until at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// rewrittenWithin waits up to d for name to be held by owner again after Redis lost it;
// it returns when it was.
func rewrittenWithin(t *testing.T, c *redis.Client, name, owner string, d time.Duration, g *faultGolock) time.Time {
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
			t.Fatalf("the lock was not renewed within %v of Redis answering again; golock's stderr:\n%s", d, g.stderr())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRideThroughRedisRestart: Redis killed with SIGKILL across a renewal's tick and
// started again, empty, 0.3 s later, with LEASE 3 and the default KILL_GRACE (1 s, so the
// next tick would be the kill point): the job keeps its lock and ends with its own code.
func TestRideThroughRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const key, name = "ride-restart", "cronlock.ride-restart"
	g := startFaultGolock(t, faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3"), faultJob(dir, 5, "")...)
	job := waitJob(t, dir)
	c := srv.Client()

	at := renewedAt(t, c, name)
	sleepUntil(at.Add(850 * time.Millisecond)) // the next renewal is due at +1 s
	srv.RestartAfter(300 * time.Millisecond)
	back := time.Now()
	renewed := rewrittenWithin(t, c, name, job.owner, 2*time.Second, g)
	t.Logf("measured: Redis down %v across a tick; lock renewed %v after Redis answered again, %v after the tick; kill point was at +2 s",
		back.Sub(at.Add(850*time.Millisecond)).Round(time.Millisecond), renewed.Sub(back).Round(time.Millisecond),
		renewed.Sub(at.Add(time.Second)).Round(time.Millisecond))
	if r := runGolock(t, faultEnv(key, srv.Env()), "true"); r.code != exitHeld {
		t.Errorf("competitor after the restart: exit %d, want %d; stderr:\n%s", r.code, exitHeld, r.stderr)
	}
	time.Sleep(2500 * time.Millisecond) // past where the old heartbeat killed it
	if proctest.Gone(job.pid) {
		t.Fatalf("the job was killed although Redis was back before the kill point; stderr:\n%s", g.stderr())
	}
	finishJob(t, dir)
	r := g.wait(t, 10*time.Second)
	if r.code != 5 {
		t.Errorf("exit code %d, want the job's 5; stderr:\n%s", r.code, r.stderr)
	}
	if n := len(linesWith(r.stderr, "cannot renew")); n != 1 {
		t.Errorf("%d warnings that renewals fail, want 1:\n%s", n, r.stderr)
	}
	if lines := linesWith(r.stderr, "renewed again after"); len(lines) != 1 || !strings.Contains(lines[0], "failed attempts") {
		t.Errorf("want one recovery line with the attempt count, got:\n%s", r.stderr)
	}
}

// TestRideThroughTwoOutages: two 1 s outages (Redis killed, started again empty) a third
// of a lease apart, each across a renewal's tick, with LEASE 6: the job survives both.
func TestRideThroughTwoOutages(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const key, name = "ride-two", "cronlock.ride-two"
	g := startFaultGolock(t, faultEnv(key, srv.Env(), "CRONLOCK_LEASE=6"), faultJob(dir, 6, "")...)
	job := waitJob(t, dir)
	c := srv.Client()

	at := renewedAt(t, c, name)
	for i := range 2 {
		sleepUntil(at.Add(1500 * time.Millisecond)) // the next renewal is due at +2 s
		srv.RestartAfter(time.Second)
		back := time.Now()
		renewed := rewrittenWithin(t, c, name, job.owner, 2500*time.Millisecond, g)
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
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	const key, name = "ride-blackhole", "cronlock.ride-blackhole"
	g := startFaultGolock(t, faultEnv(key, proxy.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_REDIS_TIMEOUT=0.3"),
		faultJob(dir, 3, "")...)
	job := waitJob(t, dir)

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

// TestResetRevokesHolder: CRONLOCK_RESET while the holder's job runs. The lock is free at
// once (--status says so); a run right after the reset takes it with a higher fence; the
// holder's next renewal finds it revoked and never writes it back: under kill its job is
// ended and golock exits 201 naming the reset, under keep the job runs on unlocked.
func TestResetRevokesHolder(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	for _, mode := range []string{"kill", "keep"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			key := "ride-reset-" + mode
			name := "cronlock." + key
			env := faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_ON_LOST="+mode)
			g := startFaultGolock(t, env, faultJob(dir, 4, "")...)
			job := waitJob(t, dir)
			at := renewedAt(t, c, name)

			r := runGolock(t, append(env, "CRONLOCK_RESET=yes", "CRONLOCK_VERBOSE=yes"), faultJob(dir, 0, "")...)
			reset := time.Now()
			if r.code != exitHeld {
				t.Fatalf("reset: exit %d, want %d; stderr:\n%s", r.code, exitHeld, r.stderr)
			}
			if lines := linesWith(r.stderr, "lock reset"); len(lines) != 1 || !strings.Contains(lines[0], job.owner) {
				t.Errorf("the reset does not say whose lock it cleared (owner %s):\n%s", job.owner, r.stderr)
			}
			st := runGolock(t, env, append([]string{"--status"}, faultJob(dir, 0, "")...)...)
			if !strings.Contains(st.stdout, "free") {
				t.Errorf("--status right after the reset: %q, want free", st.stdout)
			}
			next := runGolock(t, env, "sh", "-c", `echo "$CRONLOCK_FENCE"`)
			fence, err := strconv.ParseInt(strings.TrimSpace(next.stdout), 10, 64)
			if next.code != 0 || err != nil || fence <= job.fence {
				t.Errorf("a run after the reset: exit %d, fence %q; want 0 and more than %d", next.code, next.stdout, job.fence)
			}

			if mode == "kill" {
				res := g.wait(t, 5*time.Second)
				if res.code != exitFailed {
					t.Errorf("holder: exit %d, want %d; stderr:\n%s", res.code, exitFailed, res.stderr)
				}
				checkLostLine(t, res.stderr, name, "")
				if lines := linesWith(res.stderr, "job killed"); len(lines) == 1 && !strings.Contains(lines[0], "CRONLOCK_RESET") {
					t.Errorf("the line does not name the reset: %s", lines[0])
				}
				if !proctest.Gone(job.pid) {
					t.Error("the holder's job still runs")
				}
				t.Logf("measured: the holder exited 201 %v after the reset (renewals every 1 s)", g.end.Sub(reset).Round(time.Millisecond))
			} else {
				time.Sleep(time.Until(at.Add(2500 * time.Millisecond))) // two renewals later
				if proctest.Gone(job.pid) {
					t.Fatal("under keep the reset ended the job")
				}
				finishJob(t, dir)
				res := g.wait(t, 5*time.Second)
				if res.code != 4 {
					t.Errorf("holder under keep: exit %d, want the job's 4; stderr:\n%s", res.code, res.stderr)
				}
				if len(linesWith(res.stderr, "CRONLOCK_RESET")) == 0 || len(linesWith(res.stderr, "runs on")) == 0 {
					t.Errorf("want a warning that the reset revoked the lock and the job runs on:\n%s", res.stderr)
				}
			}
			// The holder never wrote the lock back.
			if n := c.Exists(context.Background(), name).Val(); n != 0 {
				t.Errorf("%s held again after the reset: %v", name, c.HGetAll(context.Background(), name).Val())
			}
			if strings.Contains(g.stderr(), "vanished") {
				t.Errorf("the holder wrote the lock back:\n%s", g.stderr())
			}
		})
	}
}

// TestReleaseWithRedisGone: Redis killed for good as the job ends: golock exits within
// REDIS_TIMEOUT + 1 s of the job's end, with the default reconnect schedule (which would
// wait 0 + 5 + 10 + 15 + 20 s).
func TestReleaseWithRedisGone(t *testing.T) {
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
			g := startFaultGolock(t, env, faultJob(dir, 9, "")...)
			waitJob(t, dir)
			at := renewedAt(t, c, "cronlock."+key)
			if when == "noticed" {
				// A renewal has failed: golock knows Redis is gone.
				sleepUntil(at.Add(500 * time.Millisecond))
				srv.Kill()
				g.waitStderr(t, "cannot renew", 1, 3*time.Second)
			} else {
				srv.Kill()
			}
			finishJob(t, dir)
			ended := time.Now()
			r := g.wait(t, 30*time.Second)
			took := g.end.Sub(ended)
			t.Logf("measured: Redis gone at release (%s by the heartbeat): golock exited %v after the job's end (bound 2 s)",
				when, took.Round(time.Millisecond))
			if took > 2*time.Second {
				t.Errorf("golock exited %v after the job's end, want at most REDIS_TIMEOUT + 1 s", took)
			}
			if r.code != 9 {
				t.Errorf("exit code %d, want the job's 9; stderr:\n%s", r.code, r.stderr)
			}
			if len(linesWith(r.stderr, "cannot release")) != 1 {
				t.Errorf("want one line saying the release failed:\n%s", r.stderr)
			}
		})
	}
}

// TestSignalEndsSlowRelease: Redis stopped (SIGSTOP) as the job ends, REDIS_TIMEOUT 30 s: a
// SIGTERM during the release ends it, and golock exits at once with the job's code.
func TestSignalEndsSlowRelease(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	t.Cleanup(srv.Resume)
	dir := t.TempDir()
	env := faultEnv("ride-slow-release", srv.Env(), "CRONLOCK_LEASE=30", "CRONLOCK_REDIS_TIMEOUT=30",
		"CRONLOCK_RECONNECT_ATTEMPTS=5", "CRONLOCK_RECONNECT_BACKOFF=5")
	g := startFaultGolock(t, env, faultJob(dir, 8, "")...)
	job := waitJob(t, dir)
	srv.Pause()
	finishJob(t, dir)
	<-watchGone(job.pid, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // the release is waiting on Redis
	sent := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := g.wait(t, 10*time.Second)
	t.Logf("measured: golock exited %v after SIGTERM during a stuck release", g.end.Sub(sent).Round(time.Millisecond))
	if g.end.Sub(sent) > time.Second {
		t.Errorf("golock exited %v after SIGTERM, want at once", g.end.Sub(sent))
	}
	if r.code != 8 {
		t.Errorf("exit code %d, want the job's 8; stderr:\n%s", r.code, r.stderr)
	}
	if len(linesWith(r.stderr, "release interrupted by terminated")) != 1 {
		t.Errorf("want one line saying the signal ended the release:\n%s", r.stderr)
	}
}

// TestKeepNeverHangs: under CRONLOCK_ON_LOST=keep, two losses for unconfirmed renewals
// (the network blackholed, then healed) and then a renewal that finds another owner must
// all be reported without blocking: golock exits after its job with the job's code.
func TestKeepNeverHangs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	proxy := redistest.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	const key, name = "ride-keep", "cronlock.ride-keep"
	g := startFaultGolock(t, faultEnv(key, proxy.Env(), "CRONLOCK_ON_LOST=keep", "CRONLOCK_REDIS_TIMEOUT=0.2"),
		faultJob(dir, 2, "")...)
	job := waitJob(t, dir)
	for i := 1; i <= 2; i++ {
		proxy.Blackhole()
		g.waitStderr(t, "runs on", i, 5*time.Second)
		proxy.Heal()
		g.waitStderr(t, "renewed again", i, 5*time.Second)
	}
	// Another owner takes the lock: the next renewal reports it, a third loss.
	if err := c.Del(context.Background(), name).Err(); err != nil {
		t.Fatal(err)
	}
	thief := runGolock(t, faultEnv(key, srv.Env(), "CRONLOCK_GRACE=60"), "true")
	if thief.code != 0 {
		t.Fatalf("the thief: exit %d; stderr:\n%s", thief.code, thief.stderr)
	}
	g.waitStderr(t, "runs on", 3, 5*time.Second)
	if proctest.Gone(job.pid) {
		t.Fatal("the job was killed under keep")
	}
	finishJob(t, dir)
	r := g.wait(t, 5*time.Second)
	if r.code != 2 {
		t.Errorf("exit code %d, want the job's 2; stderr:\n%s", r.code, r.stderr)
	}
	if owner := ownerOf(t, c, name); owner == job.owner {
		t.Error("the thief's lock was overwritten")
	}
}

// TestWaitRunsOutMidAcquire: a waiter whose acquire ran in Redis but whose reply came
// after CRONLOCK_WAIT ran out gives the lock back, rather than leaving it held by nobody
// for a lease; under CRONLOCK_LIMIT=2, the slot it took, which is not the first.
func TestWaitRunsOutMidAcquire(t *testing.T) {
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
			startFaultGolock(t, faultEnv(key, srv.Env(), lim, "CRONLOCK_LEASE=20"), "sleep", "60")
			if !redistest.Poll(10*time.Second, func() bool { return c.Exists(ctx, lockscript.SlotKey(name, k)).Val() == 1 }) {
				t.Fatalf("holder %d never took slot %d", k, k)
			}
		}
	}
	slot := lockscript.SlotKey(name, limit) // the one freed for the waiter: the last
	ran := filepath.Join(t.TempDir(), "ran")
	const wait = 2500 * time.Millisecond
	g := startFaultGolock(t, faultEnv(key, proxy.Env(), lim, "CRONLOCK_WAIT=2.5", "CRONLOCK_LEASE=20",
		"CRONLOCK_REDIS_TIMEOUT=8"), "touch", ran)
	// Once the waiter is subscribed and its first retry has been answered, every reply is
	// held back for longer than WAIT, and the slot is freed without a word: the waiter's next
	// poll (within a second) takes it in Redis, and hears of it only after WAIT has run out.
	if !redistest.Poll(10*time.Second, func() bool {
		n := c.PubSubNumSub(ctx, lockscript.Channel(name)).Val()[lockscript.Channel(name)]
		return n > 0
	}) {
		t.Fatalf("the waiter never subscribed; stderr:\n%s", g.stderr())
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
		t.Fatalf("the waiter's acquire never ran in Redis; stderr:\n%s", g.stderr())
	}
	r := g.wait(t, 15*time.Second)
	t.Logf("measured: LIMIT=%d: the slot the cut acquire took was held %v in all (lease 20 s); the waiter exited %v after it started",
		limit, freed.Sub(taken).Round(time.Millisecond), r.took.Round(time.Millisecond))
	// At most WAIT, then the undo (a new connection and the release), held back by the
	// proxy; without the undo, the lease: 20 s.
	if held := freed.Sub(taken); held > wait+3*(wait+time.Second) {
		t.Errorf("the cut acquire's slot was held %v, want it given back as soon as WAIT ran out", held)
	}
	if r.code != exitHeld {
		t.Errorf("waiter: exit %d, want %d; stderr:\n%s", r.code, exitHeld, r.stderr)
	}
	if cliExists(ran) {
		t.Error("the job ran although WAIT ran out")
	}
	if limit > 1 {
		return // the holders hold the other slots
	}
	if next := runGolock(t, faultEnv(key, srv.Env()), "true"); next.code != 0 {
		t.Errorf("a run after the waiter: exit %d, want 0; stderr:\n%s", next.code, next.stderr)
	}
}

// TestClockStep: Redis's wall clock steps forward 10 s while the job runs (its lease of
// 3 s ends at once in Redis). The next renewal sees Redis's clock against golock's
// monotonic one: a warning, and under kill the job ends as for a lost lock; under keep it
// runs on.
func TestClockStep(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"kill", "keep"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			clk := redistest.NewClock(t)
			srv := redistest.Start(t, redistest.WithClock(clk))
			c := srv.Client()
			dir := t.TempDir()
			key := "ride-clock-" + mode
			g := startFaultGolock(t, faultEnv(key, srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_ON_LOST="+mode),
				faultJob(dir, 3, "")...)
			job := waitJob(t, dir)
			at := renewedAt(t, c, "cronlock."+key)
			sleepUntil(at.Add(300 * time.Millisecond))
			clk.Step(10 * time.Second)
			stepped := time.Now()
			g.waitStderr(t, "clock jumped forward", 1, 3*time.Second)
			t.Logf("measured: step of Redis's clock reported %v after it happened: %s", time.Since(stepped).Round(time.Millisecond),
				linesWith(g.stderr(), "clock jumped forward")[0])
			if mode == "kill" {
				r := g.wait(t, 5*time.Second)
				if r.code != exitFailed {
					t.Errorf("exit %d, want %d; stderr:\n%s", r.code, exitFailed, r.stderr)
				}
				checkLostLine(t, r.stderr, "cronlock."+key, "")
				if !proctest.Gone(job.pid) {
					t.Error("the job still runs")
				}
				return
			}
			time.Sleep(1500 * time.Millisecond)
			if proctest.Gone(job.pid) {
				t.Fatal("under keep the step ended the job")
			}
			finishJob(t, dir)
			if r := g.wait(t, 5*time.Second); r.code != 3 {
				t.Errorf("exit %d, want the job's 3; stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}
