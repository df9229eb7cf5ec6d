package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/redistest"
)

// The failover tests kill Redis for real (SIGKILL) while golock works, and check that
// every attempt golock makes reaches the network: a Redis that is back answers the next
// attempt, and after a Sentinel or Cluster failover golock finds the new master before
// its job would be killed. Their helpers are named fail* to keep clear of other test files.

// failClient is the client newClient makes for the settings env (see golocktest.Env),
// closed at the test's end. Its config file is an empty one of the test's own: loaded in
// the test binary, an empty CRONLOCK_CONFIG would search the machine's /etc.
func failClient(t *testing.T, env []string) redis.UniversalClient {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(append(slices.Clone(env), "CRONLOCK_CONFIG="+empty), "")
	if err != nil {
		t.Fatal(err)
	}
	c := redisclient.New(cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFailoverEveryAttemptDials checks that no attempt is answered from a cache of dial
// errors: Redis is killed, more attempts fail than the pool has connections (after which
// go-redis's pool would stop dialling and repeat its last error until its own probe, once
// a second, got through), Redis comes back, and the very next attempt succeeds. Three
// rounds, so that go-redis's probe cannot pass the test by chance.
func TestFailoverEveryAttemptDials(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := failClient(t, golocktest.Env(append(srv.Env(), "CRONLOCK_REDIS_TIMEOUT=1")...))
	ctx := context.Background()
	attempt := func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
	if err := attempt(); err != nil {
		t.Fatal(err)
	}
	failures := c.(*redis.Client).Options().PoolSize + 5
	for round := range 3 {
		srv.Kill()
		for range failures {
			if err := attempt(); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("round %d: with Redis down an attempt returned %v, want connection refused", round, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		srv.Relaunch()
		back := time.Now()
		err := attempt()
		took := time.Since(back)
		if err != nil {
			t.Fatalf("round %d: Redis is back, but the next attempt failed: %v (a cached dial error?)", round, err)
		}
		t.Logf("measured: round %d, %d failed attempts, then Redis back: the next attempt succeeded in %v",
			round, failures, took.Round(time.Microsecond))
	}
}

// The two tests that kill a master mid-job do not run in parallel with the others: a
// failover has to complete within a few seconds (the kill point), and the machine's load
// from a dozen other Redis processes would only eat that margin.

// failLease is the CRONLOCK_LEASE of the failover tests: golock ends the job
// CRONLOCK_KILL_GRACE (LEASE/3, 2 s) before a lease that was not renewed runs out, 4 s
// after the last confirmed renewal.
const failLease = 6 * time.Second

// failOver is a master killed mid-job and the replica that takes over.
type failOver struct {
	env             []string      // golock's settings, CRONLOCK_KEY among them
	name            string        // the lock's name
	master, replica *redis.Client // the master that holds the lock, and its replica
	kill            func()        // kills the master (SIGKILL)
	took            string        // what took over: "the sentinels named the new master"
	tookOver        func() bool   // whether it has
}

// failRideThrough runs `sh -c 'sleep 12; exit 7'` under golock, kills the master holding
// its lock right after a renewal (so that the failover has the 4 s until the kill point),
// and checks that golock renews the lock on the new master, that a competitor started
// then gets 200, and that the job finishes with its own code, 7. It logs the time from the
// kill to the takeover and to golock's first renewal on the new master, and returns when
// the failover is complete.
func failRideThrough(t *testing.T, f failOver) {
	t.Helper()
	ctx := context.Background()
	wait := golocktest.Start(t, f.env, "sh", "-c", "sleep 12; exit 7").Wait
	var owner string
	if !redistest.Poll(10*time.Second, func() bool {
		owner = topoOwner(f.master, f.name)
		return owner != "" && topoOwner(f.replica, f.name) == owner
	}) {
		r := wait()
		t.Fatalf("the lock did not reach the master and its replica: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// A renewal moves the TTL up again; right after it the master dies.
	last := f.master.PTTL(ctx, f.name).Val()
	if !redistest.Poll(failLease, func() bool {
		ttl := f.master.PTTL(ctx, f.name).Val()
		renewed := ttl > last+500*time.Millisecond
		last = ttl
		return renewed
	}) {
		t.Fatal("no renewal seen on the master")
	}
	f.kill()
	killed := time.Now()

	// Every renewal sent before the kill has the lock expire by killed+lease at the latest
	// on the replica: a later expiry there is a renewal that reached the new master.
	var tookOver, renewed time.Time
	var state string
	ok := redistest.Poll(20*time.Second, func() bool {
		if tookOver.IsZero() && f.tookOver() {
			tookOver = time.Now()
		}
		if renewed.IsZero() {
			got, ttl := topoOwner(f.replica, f.name), f.replica.PTTL(ctx, f.name).Val()
			state = fmt.Sprintf("owner %q, TTL %v", got, ttl)
			if got == owner && time.Now().Add(ttl).After(killed.Add(failLease+50*time.Millisecond)) {
				renewed = time.Now()
			}
		}
		return !tookOver.IsZero() && !renewed.IsZero()
	})
	if !ok {
		r := wait()
		after := func(at time.Time) string {
			if at.IsZero() {
				return "never"
			}
			return at.Sub(killed).Round(time.Millisecond).String() + " after the kill"
		}
		t.Fatalf("%s: %s; renewed on the new master: %s (%s); golock exit %d after %v, stderr %q",
			f.took, after(tookOver), after(renewed), state, r.Code, r.Took.Round(time.Millisecond), r.Stderr)
	}
	t.Logf("measured: %s %v after the kill; golock's first renewal on it %v after the kill (%v after the takeover; the kill point was 4 s after the last renewal)",
		f.took, tookOver.Sub(killed).Round(time.Millisecond), renewed.Sub(killed).Round(time.Millisecond),
		renewed.Sub(tookOver).Round(time.Millisecond))

	marker := cliPath(t, "ran")
	r := golocktest.Run(t, f.env, "touch", marker)
	cliWantCode(t, r, 200)
	if cliExists(marker) {
		t.Error("a competitor ran its job while the lock was held across the failover")
	}
	r = wait()
	cliWantCode(t, r, 7) // a lost lock would have killed the job: 201
	t.Logf("golock's stderr across the failover: %q", r.Stderr)
}

// TestFailoverSentinelMasterKilled kills the master with SIGKILL mid-job (down-after 1 s,
// CRONLOCK_LEASE=6): the sentinels promote the replica, and golock follows them to it in
// time, however long the sentinel it asked first goes on naming the dead master.
func TestFailoverSentinelMasterKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped under -short; runs in the full suite (./tools/test)")
	}
	sen := redistest.StartSentinelDownAfter(t, 3, time.Second)
	newMaster := sen.Replica.Addr()
	failRideThrough(t, failOver{
		env:  topoEnv(sen.Env(), "CRONLOCK_LEASE=6", "CRONLOCK_GRACE=0", "CRONLOCK_KEY=failover-sentinel"),
		name: "cronlock.failover-sentinel", master: sen.Master.Client(), replica: sen.Replica.Client(),
		kill: sen.Master.Kill,
		took: "a sentinel named the new master", tookOver: func() bool { return sen.Naming(newMaster) > 0 },
	})
	sen.AwaitFailover(15 * time.Second)
}

// TestFailoverClusterMasterKilled kills the master that serves the lock's slot with SIGKILL
// mid-job (cluster-node-timeout 1 s, CRONLOCK_LEASE=6): its replica is promoted, and
// golock, reloading the map of slots after a failed dial, follows it in time.
func TestFailoverClusterMasterKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped under -short; runs in the full suite (./tools/test)")
	}
	cl := redistest.StartClusterWithReplicas(t, 3, time.Second)
	const key = "failover-cluster"
	slot := int(cl.Client().ClusterKeySlot(context.Background(), "cronlock."+key).Val())
	i := slices.Index(cl.Nodes, cl.SlotNode(slot))
	replica := cl.Replicas[i]
	failRideThrough(t, failOver{
		env:  topoEnv(cl.Env(), "CRONLOCK_LEASE=6", "CRONLOCK_GRACE=0", "CRONLOCK_KEY="+key),
		name: "cronlock." + key, master: cl.Nodes[i].Client(), replica: redistest.ReadClient(t, replica),
		kill: cl.Nodes[i].Kill,
		took: "the replica was promoted", tookOver: func() bool { return replica.Role() == "master" },
	})
	cl.AwaitPromotion(i, 15*time.Second)
}

// TestFailoverSentinelStale checks that a sentinel still naming a dead master does not
// keep golock from the live one: after a failover, golock is given, besides the three
// sentinels that made it, one that never heard of it. go-redis asks whichever sentinel
// answers first, and when that is the stale one it dials the dead master; golock then asks
// every sentinel and dials the master of the newest configuration. Every run must get
// through on its first attempt (CRONLOCK_RECONNECT_ATTEMPTS=0).
func TestFailoverSentinelStale(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	sen := redistest.StartSentinel(t, 3)
	sen.Failover()
	dead := redistest.FreePort(t)
	hosts := "127.0.0.1:" + strconv.Itoa(redistest.StartStaleSentinel(t, dead))
	for _, p := range sen.SentinelPorts {
		hosts += ",127.0.0.1:" + strconv.Itoa(p)
	}
	env := topoEnv(sen.Env(), "CRONLOCK_SENTINEL_HOST="+hosts, "CRONLOCK_RECONNECT_ATTEMPTS=0",
		"CRONLOCK_GRACE=0", "CRONLOCK_KEY=failover-stale")
	const runs = 16
	var slowest time.Duration
	for n := range runs {
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, env, "touch", marker)
		topoWantRan(t, r, marker)
		if t.Failed() {
			t.Fatalf("run %d of %d failed (exit %d): %s", n+1, runs, r.Code, r.Stderr)
		}
		slowest = max(slowest, r.Took)
	}
	t.Logf("measured: %d runs with a stale sentinel among the live ones, all on their first attempt; slowest %v",
		runs, slowest.Round(time.Millisecond))
}
