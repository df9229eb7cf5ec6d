package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redistest"
)

// The failover tests kill Redis for real (SIGKILL) while golock works, and check that
// every attempt golock makes reaches the network: a Redis that is back answers the next
// attempt, and after a Sentinel or Cluster failover golock finds the new master before
// its job would be killed. Their helpers are named fail* to keep clear of other test files.

// failClient is the client newClient makes for the settings env (see baseEnv), closed at
// the test's end.
func failClient(t *testing.T, env []string) redis.UniversalClient {
	t.Helper()
	cfg, _, err := config.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFailoverEveryAttemptDials checks that no attempt is answered from a cache of dial
// errors: Redis is killed, more attempts fail than the pool has connections (after which
// go-redis's pool would stop dialling and repeat its last error until its own probe, once
// a second, got through), Redis comes back, and the very next attempt succeeds. Three
// rounds, so that go-redis's probe cannot pass the test by chance.
func TestFailoverEveryAttemptDials(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := failClient(t, baseEnv(append(srv.Env(), "CRONLOCK_REDIS_TIMEOUT=1")...))
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
