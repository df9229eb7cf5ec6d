package lockscript_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// Every test of this package runs its scripts on a real redis-server of its own; none is
// mocked. This file holds the helpers the test files share, and the test that every script
// loads; the others are by topic: keys (names, companion keys, cluster slots), acquire,
// renew, release (and reset, abandon), policy (replace, limit, delay, held), fencettl (the
// fence counter), inspect (Inspect, List).

// options are the Options of a run by owner on "host-"+owner, pid 4242; lifetime is its
// CRONLOCK_RELEASE.
func options(owner string, grace, lifetime, lease time.Duration) lockscript.Options {
	return lockscript.Options{Owner: owner, Host: "host-" + owner, PID: 4242, Command: "echo hello",
		Grace: grace, Lifetime: lifetime, Lease: lease}
}

func acquire(t *testing.T, c *redis.Client, name string, o lockscript.Options) *lockscript.Lock {
	t.Helper()
	l, err := lockscript.Acquire(t.Context(), c, name, o)
	if err != nil {
		t.Fatalf("Acquire(%s, owner %s): %v", name, o.Owner, err)
	}
	return l
}

// redisMS is Redis's clock, in unix milliseconds.
func redisMS(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	now, err := c.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixMilli()
}

func pttl(t *testing.T, c *redis.Client, key string) time.Duration {
	t.Helper()
	d, err := c.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func record(t *testing.T, c *redis.Client, name string) map[string]string {
	t.Helper()
	m, err := c.HGetAll(t.Context(), name).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fenceCounter(t *testing.T, c *redis.Client, name string) int64 {
	t.Helper()
	n, err := c.Get(t.Context(), lockscript.FenceKey(name)).Int64()
	if err != nil {
		t.Fatalf("fence counter of %s: %v", name, err)
	}
	return n
}

// snapshot is everything a script could change about a key.
type snapshot struct {
	dump string
	ttl  time.Duration
}

func snap(t *testing.T, c *redis.Client, key string) snapshot {
	t.Helper()
	dump, err := c.Dump(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("DUMP %s: %v", key, err)
	}
	return snapshot{dump: dump, ttl: pttl(t, c, key)}
}

// checkUntouched fails unless key holds the same bytes as at before and its TTL was not
// reset (only run down by the time passed, or still none).
func checkUntouched(t *testing.T, c *redis.Client, key string, before snapshot) {
	t.Helper()
	after := snap(t, c, key)
	if after.dump != before.dump {
		t.Errorf("%s was changed", key)
	}
	switch {
	case before.ttl < 0:
		if after.ttl != before.ttl {
			t.Errorf("%s TTL %v, want %v as before", key, after.ttl, before.ttl)
		}
	case after.ttl > before.ttl || after.ttl < before.ttl-time.Second:
		t.Errorf("%s TTL %v, was %v: it was reset", key, after.ttl, before.ttl)
	}
}

func heldError(t *testing.T, err, want error) *lockscript.HeldError {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var held *lockscript.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("err = %v (%T), want a *HeldError", err, err)
	}
	return held
}

func TestScriptsLoad(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	files, err := filepath.Glob("../scripts/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".lua"); lockscript.All()[name] == nil {
			t.Errorf("scripts/%s.lua is not in lockscript.All(), so no test loads it", name)
		}
	}
	if len(lockscript.All()) != len(files) {
		t.Errorf("lockscript.All() holds %d scripts, scripts/ %d", len(lockscript.All()), len(files))
	}
	for name, script := range lockscript.All() {
		sha, err := script.Load(t.Context(), c).Result()
		if err != nil {
			t.Errorf("SCRIPT LOAD %s: %v", name, err)
			continue
		}
		if sha != script.Hash() {
			t.Errorf("%s: Redis says SHA %s, Script.Hash() %s", name, sha, script.Hash())
		}
		if ok, err := c.ScriptExists(t.Context(), script.Hash()).Result(); err != nil || !ok[0] {
			t.Errorf("%s: SCRIPT EXISTS = %v, %v", name, ok, err)
		}
	}
}

// foreignValue is a value golock did not write, of a kind the tests check.
type foreignValue struct {
	kind lockscript.Kind // what Holder.Kind says of it
	typ  string          // what Holder.Type says of it: the Redis type of a Foreign value
	seed func(ctx context.Context, c *redis.Client, key string) error
}

var foreignValues = []foreignValue{
	{lockscript.Foreign, "string", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, "hello", time.Minute).Err()
	}},
	{lockscript.Foreign, "string", func(ctx context.Context, c *redis.Client, key string) error { // not a whole number
		return c.Set(ctx, key, "12.5", 0).Err()
	}},
	{lockscript.Foreign, "list", func(ctx context.Context, c *redis.Client, key string) error {
		return c.RPush(ctx, key, "x", "y").Err()
	}},
	{lockscript.Foreign, "set", func(ctx context.Context, c *redis.Client, key string) error {
		return c.SAdd(ctx, key, "x").Err()
	}},
	{lockscript.Foreign, "zset", func(ctx context.Context, c *redis.Client, key string) error {
		return c.ZAdd(ctx, key, redis.Z{Score: 1, Member: "x"}).Err()
	}},
}
