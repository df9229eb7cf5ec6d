package lockscript_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// Every test here runs its scripts on a real redis-server of its own; none is mocked.

func params(owner string, grace, release, lease time.Duration) lockscript.Params {
	return lockscript.Params{Owner: owner, Host: "host-" + owner, PID: 4242, Command: "echo hello",
		Grace: grace, Release: release, Lease: lease}
}

func acquire(t *testing.T, c *redis.Client, name string, p lockscript.Params) *lockscript.Lock {
	t.Helper()
	l, err := lockscript.Acquire(t.Context(), c, name, p)
	if err != nil {
		t.Fatalf("Acquire(%s, owner %s): %v", name, p.Owner, err)
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

func TestName(t *testing.T) {
	for _, tc := range []struct {
		prefix, key string
		args        []string
		want        string
	}{
		{"cronlock.", "", []string{"pwd"}, "cronlock.c6ad4d9c5b03d1b42aec7d14899614db"},
		{"cronlock.", "", []string{"ls", "-al"}, "cronlock.116a0615d30dbfdede6a4c955715af7d"},
		{"cronlock.", "nightly", []string{"ls", "-al"}, "cronlock.nightly"},
		{"", "", []string{"pwd"}, "c6ad4d9c5b03d1b42aec7d14899614db"},
		{"x:", "", []string{"pwd"}, "x:c6ad4d9c5b03d1b42aec7d14899614db"},
	} {
		if got := lockscript.Name(tc.prefix, tc.key, tc.args); got != tc.want {
			t.Errorf("Name(%q, %q, %q) = %q, want %q", tc.prefix, tc.key, tc.args, got, tc.want)
		}
	}
}

func TestFenceKey(t *testing.T) {
	for name, want := range map[string]string{
		"cronlock.c6ad4d9c5b03d1b42aec7d14899614db": "{cronlock.c6ad4d9c5b03d1b42aec7d14899614db}.fence",
		"cronlock.{web}backup":                      "cronlock.{web}backup.fence",
		"{x}":                                       "{x}.fence",
		"a{b":                                       "{a{b}.fence",
	} {
		if got := lockscript.FenceKey(name); got != want {
			t.Errorf("FenceKey(%q) = %q, want %q", name, got, want)
		}
	}
	// An empty tag is no tag: the name gets braces of its own.
	for _, name := range []string{"a{}b", "{}", "x}y"} {
		if got := lockscript.FenceKey(name); !strings.HasPrefix(got, "{") || !strings.HasSuffix(got, "}.fence") {
			t.Errorf("FenceKey(%q) = %q, want {...}.fence", name, got)
		}
	}
}

// TestFenceKeySameSlot asks a cluster-enabled redis-server (a plain one refuses CLUSTER
// KEYSLOT) whether the fence key and channel hash to the lock's slot, also for names that hold
// braces in every odd place.
func TestFenceKeySameSlot(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t, redistest.WithArgs("--cluster-enabled", "yes")).Client()
	names := []string{"cronlock.c6ad4d9c5b03d1b42aec7d14899614db", "cronlock.{web}backup", "a{}b", "{}", "}",
		"{", "}{", "x}y", "a{b", "a{b}c}d", "{a}{b}", "{}{a}", "a{}b{c}", "}}{{", "cronlock.{}", ""}
	for i := range 300 { // plus pseudo-random mixes of braces and other bytes
		var b strings.Builder
		for j := range 1 + i%9 {
			b.WriteByte("{}a.é#0"[(i*7+j*13+i*j)%7])
		}
		names = append(names, b.String())
	}
	pipe := c.Pipeline()
	type check struct {
		name          string
		lock, fence   *redis.IntCmd
		channel       *redis.IntCmd
		fenceKey, chn string
	}
	var checks []check
	for _, name := range names {
		fk, ch := lockscript.FenceKey(name), lockscript.Channel(name)
		checks = append(checks, check{name: name, fenceKey: fk, chn: ch,
			lock: pipe.ClusterKeySlot(t.Context(), name), fence: pipe.ClusterKeySlot(t.Context(), fk),
			channel: pipe.ClusterKeySlot(t.Context(), ch)})
	}
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	for _, ck := range checks {
		if ck.fence.Val() != ck.lock.Val() {
			t.Errorf("FenceKey(%q) = %q is in slot %d, the lock in %d", ck.name, ck.fenceKey, ck.fence.Val(), ck.lock.Val())
		}
		if ck.channel.Val() != ck.lock.Val() {
			t.Errorf("Channel(%q) = %q is in slot %d, the lock in %d", ck.name, ck.chn, ck.channel.Val(), ck.lock.Val())
		}
		if ck.fenceKey == ck.name || ck.chn == ck.name || ck.fenceKey == ck.chn {
			t.Errorf("%q: fence key %q and channel %q must differ from it and each other", ck.name, ck.fenceKey, ck.chn)
		}
	}
}

func TestAcquireFree(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	for _, tc := range []struct {
		what                  string
		grace, release, lease time.Duration
		ttl                   time.Duration // min(release, max(lease, grace))
	}{
		{"grace-bound", 3 * time.Second, 10 * time.Second, time.Second, 3 * time.Second},
		{"lease-bound", 100 * time.Millisecond, 10 * time.Second, 2 * time.Second, 2 * time.Second},
		{"release-bound", time.Second, 2 * time.Second, 5 * time.Second, 2 * time.Second},
		{"no grace", 0, 10 * time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond},
	} {
		t.Run(tc.what, func(t *testing.T) {
			name := "cronlock.free-" + tc.what
			p := params("owner-"+tc.what, tc.grace, tc.release, tc.lease)
			before := redisMS(t, c)
			l := acquire(t, c, name, p)
			after := redisMS(t, c)

			if l.Name != name || l.Params != p {
				t.Errorf("Lock names %q with %+v, want %q with %+v", l.Name, l.Params, name, p)
			}
			if l.AcquiredMS < before || l.AcquiredMS > after {
				t.Errorf("AcquiredMS %d outside Redis time %d..%d", l.AcquiredMS, before, after)
			}
			if l.GraceMS != l.AcquiredMS+tc.grace.Milliseconds() || l.DeadlineMS != l.AcquiredMS+tc.release.Milliseconds() {
				t.Errorf("GraceMS %d, DeadlineMS %d: want acquired %d + %v, + %v",
					l.GraceMS, l.DeadlineMS, l.AcquiredMS, tc.grace, tc.release)
			}
			if l.TTL != tc.ttl {
				t.Errorf("TTL %v, want %v", l.TTL, tc.ttl)
			}
			if d := pttl(t, c, name); d > tc.ttl || d < tc.ttl-time.Second {
				t.Errorf("PTTL %v, want about %v", d, tc.ttl)
			}
			want := map[string]string{
				"owner": p.Owner, "fence": strconv.FormatInt(l.Fence, 10), "host": p.Host, "pid": "4242",
				"cmd": "echo hello", "acquired_ms": strconv.FormatInt(l.AcquiredMS, 10),
				"grace_ms": strconv.FormatInt(l.GraceMS, 10), "deadline_ms": strconv.FormatInt(l.DeadlineMS, 10),
				"version": lockscript.RecordVersion,
			}
			if got := record(t, c, name); !maps.Equal(got, want) {
				t.Errorf("record\n got %v\nwant %v", got, want)
			}
			if n := fenceCounter(t, c, name); n != l.Fence {
				t.Errorf("fence counter %d, lock's fence %d", n, l.Fence)
			}
		})
	}
}

func TestAcquireHeld(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	name := "cronlock.held"
	first := acquire(t, c, name, params("a", 0, time.Minute, 10*time.Second))
	time.Sleep(120 * time.Millisecond)
	before := snap(t, c, name)
	fence := fenceCounter(t, c, name)

	_, err := lockscript.Acquire(t.Context(), c, name, params("b", 0, time.Minute, 10*time.Second))
	held := heldError(t, err, lockscript.ErrHeld)
	h := held.Holder
	if held.Name != name || h.Kind != "golock" || h.Owner != "a" || h.Host != "host-a" || h.PID != "4242" ||
		h.Fence != first.Fence || h.Released {
		t.Errorf("HeldError %+v, want %s held by owner a, host-a, pid 4242, fence %d", held, name, first.Fence)
	}
	if h.Age < 100*time.Millisecond || h.Age > 5*time.Second {
		t.Errorf("holder's age %v, want about 120ms", h.Age)
	}
	if h.TTL <= 9*time.Second || h.TTL > 10*time.Second {
		t.Errorf("holder's TTL %v, want a little under 10s", h.TTL)
	}
	if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "host-a") {
		t.Errorf("error %q should name the lock and the holder's host", err)
	}
	checkUntouched(t, c, name, before)
	if n := fenceCounter(t, c, name); n != fence {
		t.Errorf("a refused acquire moved the fence counter from %d to %d", fence, n)
	}

	// A lock whose job ended but is held for its grace is still held, and says so.
	graced := acquire(t, c, "cronlock.graced", params("a", 5*time.Second, time.Minute, time.Second))
	if _, err := lockscript.Release(t.Context(), c, graced, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(t.Context(), c, "cronlock.graced", params("b", 0, time.Minute, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; !h.Released || h.Owner != "a" {
		t.Errorf("holder %+v, want owner a, released", h)
	}
}

func TestAcquireSameOwnerAgain(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	name := "cronlock.retry"
	p := params("a", 2*time.Second, time.Minute, time.Second)
	first := acquire(t, c, name, p)
	rec := record(t, c, name)
	fence := fenceCounter(t, c, name)
	time.Sleep(20 * time.Millisecond)

	// The reply to the first acquire was lost and the client tries again: the lock is ours.
	again := acquire(t, c, name, p)
	if again.Fence != first.Fence || again.AcquiredMS != first.AcquiredMS || again.GraceMS != first.GraceMS ||
		again.DeadlineMS != first.DeadlineMS {
		t.Errorf("second acquire %+v, want the first's %+v", again, first)
	}
	if again.TTL <= 0 || again.TTL > first.TTL {
		t.Errorf("second acquire TTL %v, want the key's remaining PTTL (≤ %v)", again.TTL, first.TTL)
	}
	if got := record(t, c, name); !maps.Equal(got, rec) {
		t.Errorf("record changed by the retry:\n got %v\nwant %v", got, rec)
	}
	if n := fenceCounter(t, c, name); n != fence {
		t.Errorf("retry moved the fence counter from %d to %d", fence, n)
	}
}

func TestAcquireLegacyLive(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	for _, tc := range []struct {
		what  string
		ex    time.Duration // cronlock's own expiry on the key; 0 = none
		ahead int64         // seconds from now, by Redis TIME
	}{
		{"future, with TTL", 100 * time.Second, 100},
		{"future, no TTL", 0, 100},
	} {
		name := "cronlock.legacy-" + strings.ReplaceAll(tc.what, " ", "")
		v := strconv.FormatInt(redisMS(t, c)/1000+tc.ahead, 10)
		if err := c.Set(ctx, name, v, tc.ex).Err(); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, name)
		_, err := lockscript.Acquire(ctx, c, name, params("a", 0, time.Minute, time.Second))
		h := heldError(t, err, lockscript.ErrHeld).Holder
		if h.Kind != "cronlock" {
			t.Errorf("%s: holder kind %q, want cronlock", tc.what, h.Kind)
		}
		if (tc.ex > 0) != (h.TTL > 0) {
			t.Errorf("%s: holder TTL %v", tc.what, h.TTL)
		}
		checkUntouched(t, c, name, before)
	}

	// cronlock holds its lock until its second has passed: in that very second it is held.
	name := "cronlock.legacy-now"
	for redisMS(t, c)%1000 > 700 { // leave the test most of a second
		time.Sleep(10 * time.Millisecond)
	}
	sec := redisMS(t, c) / 1000
	if err := c.Set(ctx, name, strconv.FormatInt(sec, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := lockscript.Acquire(ctx, c, name, params("a", 0, time.Minute, time.Second))
	if redisMS(t, c)/1000 == sec { // only then is the answer certain
		heldError(t, err, lockscript.ErrHeld)
	}
}

func TestAcquireLegacyStale(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.stale"
	if err := c.Set(ctx, name, strconv.FormatInt(redisMS(t, c)/1000-1, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	l := acquire(t, c, name, params("a", 0, time.Minute, 2*time.Second))
	if rec := record(t, c, name); rec["owner"] != "a" || rec["fence"] != strconv.FormatInt(l.Fence, 10) {
		t.Errorf("after taking over a stale cronlock lock the record is %v", rec)
	}
	if d := pttl(t, c, name); d <= 0 || d > 2*time.Second {
		t.Errorf("PTTL %v, want the 2s lease", d)
	}

	// Many golocks find the same stale lock at once: exactly one takes it over.
	name = "cronlock.stale-race"
	if err := c.Set(ctx, name, "1", 0).Err(); err != nil { // 1970: long stale
		t.Fatal(err)
	}
	const n = 8
	type result struct {
		owner string
		err   error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			owner := fmt.Sprintf("racer-%d", i)
			_, err := lockscript.Acquire(ctx, c, name, params(owner, 0, time.Minute, 5*time.Second))
			results <- result{owner, err}
		}()
	}
	var winners []string
	var losers []*lockscript.HeldError
	for range n {
		r := <-results
		var held *lockscript.HeldError
		switch {
		case r.err == nil:
			winners = append(winners, r.owner)
		case errors.As(r.err, &held) && errors.Is(r.err, lockscript.ErrHeld):
			losers = append(losers, held)
		default:
			t.Errorf("%s: %v", r.owner, r.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d acquires took the stale lock (%v), want exactly 1", len(winners), winners)
	}
	for _, held := range losers {
		if held.Holder.Owner != winners[0] {
			t.Errorf("a loser saw holder %q, want the winner %q", held.Holder.Owner, winners[0])
		}
	}
	if got := record(t, c, name)["owner"]; got != winners[0] {
		t.Errorf("record owner %q, want %q", got, winners[0])
	}
}

// foreignValue is a value golock did not write, of a kind the tests check.
type foreignValue struct {
	kind string // what Holder.Kind says of it
	seed func(ctx context.Context, c *redis.Client, key string) error
}

var foreignValues = []foreignValue{
	{"string", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, "hello", time.Minute).Err()
	}},
	{"string", func(ctx context.Context, c *redis.Client, key string) error { // not a whole number
		return c.Set(ctx, key, "12.5", 0).Err()
	}},
	{"list", func(ctx context.Context, c *redis.Client, key string) error {
		return c.RPush(ctx, key, "x", "y").Err()
	}},
	{"set", func(ctx context.Context, c *redis.Client, key string) error {
		return c.SAdd(ctx, key, "x").Err()
	}},
	{"zset", func(ctx context.Context, c *redis.Client, key string) error {
		return c.ZAdd(ctx, key, redis.Z{Score: 1, Member: "x"}).Err()
	}},
}

func TestAcquireForeignValue(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	for i, fv := range foreignValues {
		name := fmt.Sprintf("cronlock.foreign-%d", i)
		if err := fv.seed(t.Context(), c, name); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, name)
		_, err := lockscript.Acquire(t.Context(), c, name, params("a", 0, time.Minute, time.Second))
		if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != fv.kind || h.Owner != "" {
			t.Errorf("%s: holder %+v, want kind %q", name, h, fv.kind)
		}
		checkUntouched(t, c, name, before)
		if n := c.Exists(t.Context(), lockscript.FenceKey(name)).Val(); n != 0 {
			t.Errorf("%s: a refused acquire created the fence counter", name)
		}
	}
}

func TestAcquireLongCommand(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	for _, tc := range []struct {
		cmd  string
		want string
	}{
		{strings.Repeat("x", 5000), strings.Repeat("x", lockscript.MaxCommand)},
		{strings.Repeat("x", lockscript.MaxCommand), strings.Repeat("x", lockscript.MaxCommand)},
		// 'é' is two bytes: a cut at an odd byte would split one in half.
		{"x" + strings.Repeat("é", lockscript.MaxCommand), "x" + strings.Repeat("é", (lockscript.MaxCommand-1)/2)},
	} {
		name := fmt.Sprintf("cronlock.long-%d", len(tc.cmd))
		p := params("a", 0, time.Minute, time.Second)
		p.Command = tc.cmd
		l := acquire(t, c, name, p)
		got := record(t, c, name)["cmd"]
		if got != tc.want || l.Command != tc.want {
			t.Errorf("command of %d bytes recorded as %d bytes (Lock has %d), want %d",
				len(tc.cmd), len(got), len(l.Command), len(tc.want))
		}
		if len(got) > lockscript.MaxCommand || !utf8.ValidString(got) {
			t.Errorf("recorded command is %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
	}
}

// checkExtension checks ext against SPEC §6: TTL = min(deadline − now, max(lease, grace − now)),
// with now the Redis time of the extend, which UntilDeadline gives away; and the key's PTTL.
func checkExtension(t *testing.T, c *redis.Client, l *lockscript.Lock, ext lockscript.Extension, before, after int64) {
	t.Helper()
	now := l.DeadlineMS - ext.UntilDeadline.Milliseconds()
	if now < before || now > after {
		t.Fatalf("UntilDeadline %v means Redis time %d, outside %d..%d", ext.UntilDeadline, now, before, after)
	}
	want := min(l.DeadlineMS-now, max(l.Lease.Milliseconds(), l.GraceMS-now))
	if ext.TTL != time.Duration(want)*time.Millisecond {
		t.Errorf("TTL %v, want %dms", ext.TTL, want)
	}
	if d := pttl(t, c, l.Name); d > ext.TTL || d < ext.TTL-time.Second {
		t.Errorf("PTTL %v, want about %v", d, ext.TTL)
	}
}

func TestExtendTTL(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	for _, tc := range []struct {
		what                  string
		grace, release, lease time.Duration
		bound                 string // which term of the formula must win
	}{
		{"grace-bound", 4 * time.Second, time.Minute, time.Second, "grace"},
		{"lease-bound", 0, time.Minute, 3 * time.Second, "lease"},
		{"lease-bound after grace", 100 * time.Millisecond, time.Minute, 3 * time.Second, "lease"},
		{"deadline-bound", 0, 5 * time.Second, 20 * time.Second, "deadline"},
		{"deadline-bound with grace", 5 * time.Second, 5 * time.Second, 20 * time.Second, "deadline"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			name := "cronlock.extend-" + strings.ReplaceAll(tc.what, " ", "-")
			l := acquire(t, c, name, params("a", tc.grace, tc.release, tc.lease))
			// A TTL no term of the formula gives, so an extend that does nothing shows; and
			// time moves on, past the grace of the one that has a short grace.
			if ok, err := c.PExpire(ctx, name, time.Minute).Result(); err != nil || !ok {
				t.Fatalf("PEXPIRE: %v, %v", ok, err)
			}
			for redisMS(t, c) <= l.AcquiredMS+150 {
				time.Sleep(20 * time.Millisecond)
			}
			before := redisMS(t, c)
			ext, err := lockscript.Extend(ctx, c, l)
			after := redisMS(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if ext.Reestablished {
				t.Error("Reestablished on a lock that was there")
			}
			checkExtension(t, c, l, ext, before, after)
			now := l.DeadlineMS - ext.UntilDeadline.Milliseconds()
			ttl := ext.TTL.Milliseconds()
			switch tc.bound {
			case "grace":
				if ttl != l.GraceMS-now || ttl <= tc.lease.Milliseconds() {
					t.Errorf("TTL %dms, want grace_ms − now = %dms", ttl, l.GraceMS-now)
				}
			case "lease":
				if ttl != tc.lease.Milliseconds() {
					t.Errorf("TTL %dms, want the lease %v", ttl, tc.lease)
				}
			case "deadline":
				if ext.TTL != ext.UntilDeadline || ttl >= tc.release.Milliseconds() {
					t.Errorf("TTL %v, want deadline − now = %v", ext.TTL, ext.UntilDeadline)
				}
			}
			if rec := record(t, c, name); rec["owner"] != "a" || rec["reestablished_ms"] != "" {
				t.Errorf("record after extend: %v", rec)
			}
		})
	}
}

func TestExtendMissing(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.vanished"
	p := params("a", 0, time.Minute, 2*time.Second)
	p.Command = "backup --all"
	l := acquire(t, c, name, p)
	rec := record(t, c, name)

	for _, how := range []string{"DEL", "FLUSHALL"} { // the lock alone, or with its fence counter
		var err error
		if how == "DEL" {
			err = c.Del(ctx, name).Err()
		} else {
			err = c.FlushAll(ctx).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
		before := redisMS(t, c)
		ext, err := lockscript.Extend(ctx, c, l)
		after := redisMS(t, c)
		if err != nil {
			t.Fatalf("after %s: %v", how, err)
		}
		if !ext.Reestablished {
			t.Errorf("after %s: Reestablished false", how)
		}
		checkExtension(t, c, l, ext, before, after)
		got := record(t, c, name)
		if re, _ := strconv.ParseInt(got["reestablished_ms"], 10, 64); re < before || re > after {
			t.Errorf("after %s: reestablished_ms %q outside %d..%d", how, got["reestablished_ms"], before, after)
		}
		delete(got, "reestablished_ms")
		if !maps.Equal(got, rec) {
			t.Errorf("after %s, record written again as\n %v\nwant\n %v", how, got, rec)
		}
		if n := fenceCounter(t, c, name); n < l.Fence {
			t.Errorf("after %s: fence counter %d is behind the lock's fence %d", how, n, l.Fence)
		}
		_, err = lockscript.Acquire(ctx, c, name, params("b", 0, time.Minute, time.Second))
		if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Owner != "a" || h.Fence != l.Fence {
			t.Errorf("after %s: competitor saw holder %+v, want owner a, fence %d", how, h, l.Fence)
		}
	}

	// Once ours is released, the next lock's fence is past ours although Redis lost the counter.
	if _, err := lockscript.Release(ctx, c, l, lockscript.Outcome{Ran: false}); err != nil {
		t.Fatal(err)
	}
	if next := acquire(t, c, name, params("b", 0, time.Minute, time.Second)); next.Fence <= l.Fence {
		t.Errorf("next fence %d, want more than %d", next.Fence, l.Fence)
	}
}

func TestExtendLost(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.lost"
	ours := acquire(t, c, name, params("a", 0, time.Minute, time.Second))
	if err := c.Del(ctx, name).Err(); err != nil {
		t.Fatal(err)
	}
	theirs := acquire(t, c, name, params("b", 0, time.Minute, 5*time.Second))
	before := snap(t, c, name)

	_, err := lockscript.Extend(ctx, c, ours)
	held := heldError(t, err, lockscript.ErrLost)
	if h := held.Holder; h.Kind != "golock" || h.Owner != "b" || h.Host != "host-b" || h.PID != "4242" {
		t.Errorf("holder %+v, want owner b on host-b", h)
	}
	checkUntouched(t, c, name, before)
	if n := fenceCounter(t, c, name); n != theirs.Fence {
		t.Errorf("fence counter %d, want theirs %d", n, theirs.Fence)
	}

	// Our lock was deleted (CRONLOCK_RESET, say), someone took it and let it go again before
	// our next extend: lost, not written back, although NAME is free now.
	gone := acquire(t, c, "cronlock.lost-between", params("a", 0, time.Minute, time.Second))
	if _, _, err := lockscript.Reset(ctx, c, gone.Name); err != nil {
		t.Fatal(err)
	}
	between := acquire(t, c, gone.Name, params("b", 0, time.Minute, time.Second))
	if _, err := lockscript.Release(ctx, c, between, lockscript.Outcome{Ran: false}); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Extend(ctx, c, gone)
	heldError(t, err, lockscript.ErrLost)
	if n := c.Exists(ctx, gone.Name).Val(); n != 0 {
		t.Errorf("%s written back after another owner held it", gone.Name)
	}
	if n := fenceCounter(t, c, gone.Name); n != between.Fence+1 { // +1: its release
		t.Errorf("fence counter %d, want the later owner's %d + 1", n, between.Fence)
	}

	// A value golock did not write is not ours either: lost, and left alone.
	for i, fv := range foreignValues {
		l := acquire(t, c, fmt.Sprintf("cronlock.lost-foreign-%d", i), params("a", 0, time.Minute, time.Second))
		if err := c.Del(ctx, l.Name).Err(); err != nil {
			t.Fatal(err)
		}
		if err := fv.seed(ctx, c, l.Name); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, l.Name)
		_, err := lockscript.Extend(ctx, c, l)
		heldError(t, err, lockscript.ErrLost)
		checkUntouched(t, c, l.Name, before)
	}
	// So is a cronlock string lock.
	l := acquire(t, c, "cronlock.lost-legacy", params("a", 0, time.Minute, time.Second))
	if err := c.Set(ctx, l.Name, strconv.FormatInt(redisMS(t, c)/1000+100, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	before = snap(t, c, l.Name)
	_, err = lockscript.Extend(ctx, c, l)
	heldError(t, err, lockscript.ErrLost)
	checkUntouched(t, c, l.Name, before)
}

func TestExtendPastDeadline(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	const release = time.Second

	// The key is still there (someone set a longer TTL): expired, and left untouched.
	l := acquire(t, c, "cronlock.deadline", params("a", 0, release, 5*time.Second))
	if ok, err := c.PExpire(ctx, l.Name, time.Minute).Result(); err != nil || !ok {
		t.Fatalf("PEXPIRE: %v, %v", ok, err)
	}
	// And the key is gone: expired, and not written again.
	gone := acquire(t, c, "cronlock.deadline-gone", params("a", 0, release, 5*time.Second))
	for redisMS(t, c) <= max(l.DeadlineMS, gone.DeadlineMS) {
		time.Sleep(10 * time.Millisecond)
	}
	before := snap(t, c, l.Name)
	if _, err := lockscript.Extend(ctx, c, l); !errors.Is(err, lockscript.ErrExpired) {
		t.Errorf("extend past the deadline: %v, want ErrExpired", err)
	}
	checkUntouched(t, c, l.Name, before)

	if n := c.Exists(ctx, gone.Name).Val(); n != 0 {
		t.Fatalf("%s still there after its deadline", gone.Name)
	}
	if _, err := lockscript.Extend(ctx, c, gone); !errors.Is(err, lockscript.ErrExpired) {
		t.Errorf("extend of a vanished lock past its deadline: %v, want ErrExpired", err)
	}
	if n := c.Exists(ctx, gone.Name).Val(); n != 0 {
		t.Errorf("a lock past its deadline was written again")
	}
}

func TestReleaseWithinGrace(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	name := "cronlock.grace"
	l := acquire(t, c, name, params("a", 3*time.Second, time.Minute, time.Second))
	rec := record(t, c, name)
	time.Sleep(100 * time.Millisecond)

	before := redisMS(t, c)
	left, err := lockscript.Release(t.Context(), c, l, lockscript.Outcome{Ran: true})
	after := redisMS(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := l.GraceMS - after; left.Milliseconds() < want || left.Milliseconds() > l.GraceMS-before {
		t.Errorf("Release says the lock is held %v more, want grace_ms − now ≈ %dms", left, want)
	}
	got := record(t, c, name)
	if rel, _ := strconv.ParseInt(got["released_ms"], 10, 64); rel < before || rel > after ||
		rel != l.GraceMS-left.Milliseconds() {
		t.Errorf("released_ms %q, want Redis time of the release in %d..%d", got["released_ms"], before, after)
	}
	delete(got, "released_ms")
	if !maps.Equal(got, rec) {
		t.Errorf("release changed the record:\n %v\nwant\n %v", got, rec)
	}
	if d := pttl(t, c, name); d > left || d < left-time.Second {
		t.Errorf("PTTL %v, want about the grace left, %v", d, left)
	}
	// Releasing again (a retry whose first reply was lost) changes nothing for the worse.
	if again, err := lockscript.Release(t.Context(), c, l, lockscript.Outcome{Ran: true}); err != nil || again <= 0 || again > left {
		t.Errorf("second release: %v, %v", again, err)
	}
	// A renewal that reaches Redis after the release (it was on its way) must not stretch
	// the grace hold to a full lease.
	if _, err := lockscript.Extend(t.Context(), c, l); !errors.Is(err, lockscript.ErrExpired) {
		t.Errorf("extend after release: %v, want ErrExpired", err)
	}
	if d := pttl(t, c, name); d > left {
		t.Errorf("PTTL %v after a late extend, want at most the grace left, %v", d, left)
	}
	// Once the grace hold has expired, a renewal that was still in the network must not
	// bring the finished run's lock back for a lease.
	if !redistest.Poll(5*time.Second, func() bool { return c.Exists(t.Context(), name).Val() == 0 }) {
		t.Fatal("the grace hold did not expire")
	}
	if _, err := lockscript.Extend(t.Context(), c, l); !errors.Is(err, lockscript.ErrLost) {
		t.Errorf("extend after the grace hold expired: %v, want ErrLost", err)
	}
	if n := c.Exists(t.Context(), name).Val(); n != 0 {
		t.Error("a late renewal re-created the lock after its grace hold expired")
	}
}

func TestReleaseDeletes(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()

	afterGrace := acquire(t, c, "cronlock.after-grace", params("a", 100*time.Millisecond, time.Minute, 5*time.Second))
	notRan := acquire(t, c, "cronlock.not-ran", params("a", 5*time.Second, time.Minute, time.Second))
	for redisMS(t, c) <= afterGrace.GraceMS {
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		l   *lockscript.Lock
		ran bool
	}{{afterGrace, true}, {notRan, false}} {
		fence := fenceCounter(t, c, tc.l.Name)
		left, err := lockscript.Release(ctx, c, tc.l, lockscript.Outcome{Ran: tc.ran})
		if err != nil || left != 0 {
			t.Errorf("%s: Release = %v, %v, want 0, nil", tc.l.Name, left, err)
		}
		if n := c.Exists(ctx, tc.l.Name).Val(); n != 0 {
			t.Errorf("%s still there after release", tc.l.Name)
		}
		// Moved one past, so that a late renewal of ours cannot write the lock back.
		if n := fenceCounter(t, c, tc.l.Name); n != fence+1 {
			t.Errorf("%s: fence counter %d after release, want %d", tc.l.Name, n, fence+1)
		}
		if _, err := lockscript.Extend(ctx, c, tc.l); !errors.Is(err, lockscript.ErrLost) {
			t.Errorf("%s: a late extend after release: %v, want ErrLost", tc.l.Name, err)
		}
		if n := c.Exists(ctx, tc.l.Name).Val(); n != 0 {
			t.Errorf("%s written back by a late extend", tc.l.Name)
		}
	}
	// A lock already gone is not an error.
	if left, err := lockscript.Release(ctx, c, notRan, lockscript.Outcome{Ran: true}); err != nil || left != 0 {
		t.Errorf("release of a missing lock: %v, %v", left, err)
	}
}

func TestReleaseNotOwner(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.not-owner"
	ours := acquire(t, c, name, params("a", 0, time.Minute, time.Second))
	if err := c.Del(ctx, name).Err(); err != nil {
		t.Fatal(err)
	}
	acquire(t, c, name, params("b", 5*time.Second, time.Minute, 10*time.Second))
	rec := record(t, c, name)
	before := snap(t, c, name)

	for _, ran := range []bool{true, false} {
		_, err := lockscript.Release(ctx, c, ours, lockscript.Outcome{Ran: ran})
		held := heldError(t, err, lockscript.ErrNotOwner)
		if h := held.Holder; h.Owner != "b" || h.Host != "host-b" || h.PID != "4242" || h.Kind != "golock" {
			t.Errorf("holder %+v, want owner b", h)
		}
		if got := record(t, c, name); !maps.Equal(got, rec) {
			t.Errorf("release by a non-owner changed the record:\n %v\nwant\n %v", got, rec)
		}
		checkUntouched(t, c, name, before)
	}

	// Nor are a cronlock lock or a foreign value ever deleted by release.
	staleCronlock := foreignValue{"cronlock", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, "1", 0).Err() // stale, even
	}}
	for i, fv := range append([]foreignValue{staleCronlock}, foreignValues...) {
		l := *ours
		l.Name = fmt.Sprintf("cronlock.not-owner-%d", i)
		if err := fv.seed(ctx, c, l.Name); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, l.Name)
		_, err := lockscript.Release(ctx, c, &l, lockscript.Outcome{Ran: false})
		heldError(t, err, lockscript.ErrNotOwner)
		checkUntouched(t, c, l.Name, before)
	}
}

func TestReleasePublishes(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.publish"
	sub := c.Subscribe(ctx, lockscript.Channel(name))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}
	msgs := sub.Channel()
	expect := func(what string, want bool) {
		t.Helper()
		wait := 2 * time.Second
		if !want {
			wait = 300 * time.Millisecond
		}
		select {
		case m := <-msgs:
			if !want {
				t.Errorf("%s published %q on %s", what, m.Payload, m.Channel)
			} else if m.Channel != lockscript.Channel(name) || m.Payload != "released" {
				t.Errorf("%s published %q on %s", what, m.Payload, m.Channel)
			}
		case <-time.After(wait):
			if want {
				t.Errorf("%s published nothing on %s", what, lockscript.Channel(name))
			}
		}
	}

	graced := acquire(t, c, name, params("a", 5*time.Second, time.Minute, time.Second))
	if _, err := lockscript.Release(ctx, c, graced, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	expect("a release held for grace", false)
	other := *graced
	other.Owner = "b"
	if _, err := lockscript.Release(ctx, c, &other, lockscript.Outcome{Ran: false}); !errors.Is(err, lockscript.ErrNotOwner) {
		t.Fatal(err)
	}
	expect("a refused release", false)
	if _, _, err := lockscript.Reset(ctx, c, name); err != nil {
		t.Fatal(err)
	}
	expect("reset", true)

	l := acquire(t, c, name, params("a", 0, time.Minute, time.Second))
	if _, err := lockscript.Release(ctx, c, l, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	expect("a release that deletes", true)
}

func TestReset(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.reset"

	h, found, err := lockscript.Reset(ctx, c, name)
	if err != nil || found || h != (lockscript.Holder{}) {
		t.Errorf("reset of a free lock: %+v, %v, %v; want nothing found", h, found, err)
	}

	l := acquire(t, c, name, params("a", 5*time.Second, time.Minute, time.Second))
	h, found, err = lockscript.Reset(ctx, c, name)
	if err != nil || !found || h.Kind != "golock" || h.Owner != "a" || h.Host != "host-a" || h.PID != "4242" {
		t.Errorf("reset of a golock lock: %+v, %v, %v", h, found, err)
	}
	if n := c.Exists(ctx, name).Val(); n != 0 {
		t.Error("lock still there after reset")
	}
	if n := fenceCounter(t, c, name); n != l.Fence+1 {
		t.Errorf("fence counter %d after reset, want %d: moved past the holder's %d", n, l.Fence+1, l.Fence)
	}
	if h.Fence != l.Fence {
		t.Errorf("reset reports fence %d, want the holder's %d", h.Fence, l.Fence)
	}
	// The holder is revoked: its next renewal finds the lock lost, says a reset did it,
	// and does not write the lock back.
	_, err = lockscript.Extend(ctx, c, l)
	if held := heldError(t, err, lockscript.ErrLost); !held.Reset || !strings.Contains(err.Error(), "CRONLOCK_RESET") {
		t.Errorf("extend after a reset: %v (Reset %v), want the reset named", err, held.Reset)
	}
	if n := c.Exists(ctx, name).Val(); n != 0 {
		t.Error("a renewal after the reset wrote the lock back")
	}
	next := acquire(t, c, name, params("b", 0, time.Minute, time.Second))
	if next.Fence <= l.Fence+1 {
		t.Errorf("fence after reset %d, want more than %d", next.Fence, l.Fence+1)
	}
	// A reset while the lock's key is gone already (its holder cut off from Redis, its
	// lease run out) revokes that holder too.
	cut := acquire(t, c, "cronlock.reset-cut", params("c", 0, time.Minute, time.Second))
	if err := c.Del(ctx, cut.Name).Err(); err != nil {
		t.Fatal(err)
	}
	if _, found, err := lockscript.Reset(ctx, c, cut.Name); err != nil || found {
		t.Errorf("reset of a vanished lock: found %v, %v; want free", found, err)
	}
	if _, err := lockscript.Extend(ctx, c, cut); !errors.Is(err, lockscript.ErrLost) {
		t.Errorf("extend of a vanished lock after a reset: %v, want ErrLost", err)
	}
	if n := c.Exists(ctx, cut.Name).Val(); n != 0 {
		t.Error("a renewal after the reset wrote the vanished lock back")
	}

	liveCronlock := foreignValue{"cronlock", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, strconv.FormatInt(time.Now().Unix()+100, 10), 0).Err()
	}}
	for i, fv := range append([]foreignValue{liveCronlock}, foreignValues[2:]...) { // not the strings
		key := fmt.Sprintf("cronlock.reset-%d", i)
		if err := fv.seed(ctx, c, key); err != nil {
			t.Fatal(err)
		}
		h, found, err := lockscript.Reset(ctx, c, key)
		if err != nil || !found || h.Kind != fv.kind || h.Owner != "" {
			t.Errorf("reset of a %s: %+v, %v, %v", fv.kind, h, found, err)
		}
		if n := c.Exists(ctx, key).Val(); n != 0 {
			t.Errorf("%s still there after reset", key)
		}
	}
}

func TestFenceIncreases(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.fence"
	var last int64
	for i := range 100 {
		before := redisMS(t, c)
		l := acquire(t, c, name, params(fmt.Sprint("owner-", i), 0, time.Minute, time.Second))
		if l.Fence <= last {
			t.Fatalf("cycle %d: fence %d after %d", i, l.Fence, last)
		}
		if l.Fence < before*1000 {
			t.Fatalf("cycle %d: fence %d is behind Redis TIME in µs (%d000)", i, l.Fence, before)
		}
		last = l.Fence
		if _, err := lockscript.Release(ctx, c, l, lockscript.Outcome{Ran: i%2 == 0}); err != nil { // no grace: deleted either way
			t.Fatal(err)
		}
	}

	// A counter ahead of the clock (a clock stepped back, say) is still counted up from.
	ahead := last + int64(time.Hour/time.Microsecond)
	if err := c.Set(ctx, lockscript.FenceKey(name), ahead, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if l := acquire(t, c, name, params("ahead", 0, time.Minute, time.Second)); l.Fence != ahead+1 {
		t.Errorf("fence %d, want the counter %d + 1", l.Fence, ahead)
	}
}

// TestFenceAfterDataLoss: a Redis that lost everything (FLUSHALL, restart without
// persistence) still hands out fences above every earlier one: Redis TIME in µs is.
func TestFenceAfterDataLoss(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	c := s.Client()
	ctx := t.Context()
	name := "cronlock.data-loss"

	l := acquire(t, c, name, params("a", 0, time.Minute, time.Second))
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	l2 := acquire(t, c, name, params("b", 0, time.Minute, time.Second))
	if l2.Fence <= l.Fence {
		t.Errorf("fence after FLUSHALL %d, want more than %d", l2.Fence, l.Fence)
	}

	s.Restart()
	c = s.Client() // the old client's connections died with the server
	if n := c.Exists(ctx, name, lockscript.FenceKey(name)).Val(); n != 0 {
		t.Fatal("Restart kept data")
	}
	l3 := acquire(t, c, name, params("c", 0, time.Minute, time.Second))
	if l3.Fence <= l2.Fence {
		t.Errorf("fence after a restart %d, want more than %d", l3.Fence, l2.Fence)
	}
}
