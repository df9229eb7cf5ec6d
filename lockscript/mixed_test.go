package lockscript_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The tests of Options.Mixed (CRONLOCK_MIXED_FLEET): the lock kept in cronlock's string form,
// the record beside it. What cronlock does to a key is written here as cronlock writes it:
// SETNX and GETSET leave the key without a TTL; its release is GETSET then EXPIREAT.

func mixed(owner string, grace, lifetime, lease time.Duration) lockscript.Options {
	o := options(owner, grace, lifetime, lease)
	o.Mixed = true
	return o
}

// cronlockHolds is cronlock's test of a lock it meets: held while its value, a unix second,
// has not passed by its clock (here Redis's).
func cronlockHolds(t *testing.T, c *redis.Client, name string) bool {
	t.Helper()
	v, err := c.Get(t.Context(), name).Int64()
	if errors.Is(err, redis.Nil) {
		return false
	}
	if err != nil {
		t.Fatalf("cronlock's GET %s: %v", name, err)
	}
	return v-redisMS(t, c)/1000 >= 0
}

// checkString fails unless name holds golock's string form for a lease that ends at
// lease ms of Redis's clock (give or take the time the test took): the second in which it
// ends, rounded up, with the TTL of the lease, and the record beside it saying so.
func checkString(t *testing.T, c *redis.Client, name string, leaseEnd int64) {
	t.Helper()
	v, err := c.Get(t.Context(), name).Int64()
	if err != nil {
		t.Fatalf("GET %s: %v (type %s)", name, err, c.Type(t.Context(), name).Val())
	}
	if want := (leaseEnd + 999) / 1000; v < want || v > want+1 {
		t.Errorf("%s = %d, want the second its lease ends, rounded up: %d", name, v, want)
	}
	end := redisMS(t, c) + pttl(t, c, name).Milliseconds()
	if end > v*1000 || end < leaseEnd-200 || end > leaseEnd+200 {
		t.Errorf("%s expires at %d, want at its lease's end %d (and no later than its second %d)", name, end, leaseEnd, v)
	}
	rec := record(t, c, lockscript.RecordKey(name))
	if rec["value"] != strconv.FormatInt(v, 10) {
		t.Errorf("record's value %q, NAME %d", rec["value"], v)
	}
	if d, want := pttl(t, c, lockscript.RecordKey(name)), pttl(t, c, name); d < want-50*time.Millisecond || d > want+50*time.Millisecond {
		t.Errorf("record's TTL %v, NAME's %v: want the same", d, want)
	}
}

func TestMixedAcquire(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.mixed"

	before := redisMS(t, c)
	l := acquire(t, c, name, mixed("a", 0, time.Hour, 3*time.Second))
	if typ := c.Type(ctx, name).Val(); typ != "string" {
		t.Fatalf("NAME is a %s, want cronlock's string", typ)
	}
	checkString(t, c, name, l.Acquired.UnixMilli()+3000)
	if l.Acquired.UnixMilli() < before {
		t.Errorf("acquired %v, before the test's %d", l.Acquired, before)
	}
	rec := record(t, c, lockscript.RecordKey(name))
	for field, want := range map[string]string{"owner": "a", "host": "host-a", "pid": "4242", "cmd": "echo hello",
		"fence": strconv.FormatInt(l.Fence, 10), "acquired_ms": strconv.FormatInt(l.Acquired.UnixMilli(), 10),
		"grace_ms": strconv.FormatInt(l.GraceEnd.UnixMilli(), 10), "deadline_ms": strconv.FormatInt(l.Deadline.UnixMilli(), 10),
		"version": lockscript.RecordVersion} {
		if rec[field] != want {
			t.Errorf("record %s = %q, want %q", field, rec[field], want)
		}
	}
	if !cronlockHolds(t, c, name) {
		t.Error("cronlock would take the lock golock holds")
	}
	// A grace longer than the lease holds the string until the grace ends.
	g := acquire(t, c, name+"-grace", mixed("a", 5*time.Second, time.Hour, time.Second))
	checkString(t, c, name+"-grace", g.GraceEnd.UnixMilli())

	// Another golock in mixed mode sees a golock holder; one without sees cronlock's form
	// and holds off until its second has passed (by then the key has expired).
	_, err := lockscript.Acquire(ctx, c, name, mixed("b", 0, time.Hour, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != lockscript.Golock || h.Owner != "a" || h.Host != "host-a" || h.PID != 4242 || h.Fence != l.Fence {
		t.Errorf("mixed acquire of a mixed holder: holder %+v, want golock a", h)
	}
	snapName, snapRec := snap(t, c, name), snap(t, c, lockscript.RecordKey(name))
	_, err = lockscript.Acquire(ctx, c, name, options("b", 0, time.Hour, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != lockscript.Cronlock {
		t.Errorf("acquire without Mixed: holder %+v, want it taken for cronlock's", h)
	}
	checkUntouched(t, c, name, snapName)
	checkUntouched(t, c, lockscript.RecordKey(name), snapRec)

	// The same owner again (its first reply was lost) gets its own lock back.
	again := acquire(t, c, name, mixed("a", 0, time.Hour, 3*time.Second))
	if again.Fence != l.Fence || !again.Acquired.Equal(l.Acquired) {
		t.Errorf("acquire again by the owner: fence %d at %v, want %d at %v", again.Fence, again.Acquired, l.Fence, l.Acquired)
	}

	// A golock that does not write the string form holds NAME as a hash: held, as today.
	acquire(t, c, "cronlock.hash", options("h", 0, time.Hour, 5*time.Second))
	_, err = lockscript.Acquire(ctx, c, "cronlock.hash", mixed("b", 0, time.Hour, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != lockscript.Golock || h.Owner != "h" {
		t.Errorf("mixed acquire of a hash: holder %+v, want golock h", h)
	}

	// cronlock's lock: live, held; stale by Redis's clock, taken over in the string form.
	now := redisMS(t, c) / 1000
	c.Set(ctx, "cronlock.cron-live", strconv.FormatInt(now+100, 10), 0)
	_, err = lockscript.Acquire(ctx, c, "cronlock.cron-live", mixed("b", 0, time.Hour, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != lockscript.Cronlock {
		t.Errorf("mixed acquire of a live cronlock lock: holder %+v, want cronlock", h)
	}
	c.Set(ctx, "cronlock.cron-stale", strconv.FormatInt(now-2, 10), 0)
	s := acquire(t, c, "cronlock.cron-stale", mixed("b", 0, time.Hour, 4*time.Second))
	checkString(t, c, "cronlock.cron-stale", s.Acquired.UnixMilli()+4000)

	// A record left beside a cronlock lock whose value it does not hold says nothing.
	c.HSet(ctx, lockscript.RecordKey("cronlock.cron-live"), "owner", "z", "value", "1")
	_, err = lockscript.Acquire(ctx, c, "cronlock.cron-live", mixed("b", 0, time.Hour, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != lockscript.Cronlock {
		t.Errorf("a stale record beside cronlock's lock: holder %+v, want cronlock", h)
	}

	if _, err := lockscript.Acquire(ctx, c, "cronlock.limit", lockscript.Options{Owner: "x", Lease: time.Second,
		Lifetime: time.Hour, Limit: 2, Mixed: true}); err == nil {
		t.Error("Mixed with a Limit of 2 was accepted")
	}
	if got, err := lockscript.List(ctx, c, "cronlock."); err != nil || slices.Contains(got, lockscript.RecordKey(name)) || !slices.Contains(got, name) {
		t.Errorf("List = %q, %v; want %s and no record key", got, err, name)
	}
}

func TestMixedRenew(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.mixed-renew"
	l := acquire(t, c, name, mixed("a", 0, time.Hour, 3*time.Second))
	first, _ := c.Get(ctx, name).Int64()

	time.Sleep(1200 * time.Millisecond)
	ext, err := l.Renew(ctx)
	if err != nil || ext.Reestablished {
		t.Fatalf("Renew: %+v, %v", ext, err)
	}
	checkString(t, c, name, ext.Clock.UnixMilli()+3000)
	if v, _ := c.Get(ctx, name).Int64(); v <= first {
		t.Errorf("renewal left NAME at %d, was %d: want it moved forward", v, first)
	}

	// NAME vanished (Redis lost it) and nobody took it since: written again, both keys.
	c.Del(ctx, name, lockscript.RecordKey(name))
	ext, err = l.Renew(ctx)
	if err != nil || !ext.Reestablished {
		t.Fatalf("Renew of a vanished lock: %+v, %v; want re-established", ext, err)
	}
	checkString(t, c, name, ext.Clock.UnixMilli()+3000)
	if rec := record(t, c, lockscript.RecordKey(name)); rec["owner"] != "a" || rec["fence"] != strconv.FormatInt(l.Fence, 10) {
		t.Errorf("re-established record %v", rec)
	}

	// cronlock took the key over with GETSET (its own clock ran ahead): the value is
	// cronlock's and the TTL gone. The renewal finds the lock lost and touches nothing.
	for _, tc := range []struct{ what, value string }{
		{"cronlock's value", strconv.FormatInt(redisMS(t, c)/1000+86401, 10)},
		{"the same value, no TTL", c.Get(ctx, name).Val()},
	} {
		l := acquire(t, c, name+"-"+tc.what, mixed("a", 0, time.Hour, 3*time.Second))
		old := c.GetSet(ctx, l.Name, tc.value).Val() // cronlock's GETSET
		if old == "" {
			t.Fatalf("%s: GETSET found nothing", tc.what)
		}
		before := snap(t, c, l.Name)
		_, err := l.Renew(ctx)
		if h := heldError(t, err, lockscript.ErrLost).Holder; h.Kind != lockscript.Cronlock {
			t.Errorf("%s: lost to %+v, want cronlock", tc.what, h)
		}
		checkUntouched(t, c, l.Name, before)
		// Its release touches nothing either, records the run lost, and drops its record.
		if _, err := l.Release(ctx, lockscript.Outcome{Ran: true}); !errors.Is(err, lockscript.ErrNotOwner) {
			t.Errorf("%s: release: %v, want ErrNotOwner", tc.what, err)
		}
		checkUntouched(t, c, l.Name, before)
		if n := c.Exists(ctx, lockscript.RecordKey(l.Name)).Val(); n != 0 {
			t.Errorf("%s: the record of a lock cronlock took is still there", tc.what)
		}
		if st, err := lockscript.Inspect(ctx, c, l.Name); err != nil || st.Holder == nil || st.Holder.Kind != lockscript.Cronlock ||
			st.Last == nil || st.Last.Ended != lockscript.Lost {
			t.Errorf("%s: Inspect %+v, %v; want cronlock's lock and the run recorded lost", tc.what, st, err)
		}
	}

	// A golock without Mixed took NAME once it had expired: lost to it, by name.
	h := acquire(t, c, name+"-hash", mixed("a", 0, time.Hour, time.Second))
	c.Del(ctx, h.Name)
	acquire(t, c, h.Name, options("b", 0, time.Hour, 5*time.Second))
	_, err = h.Renew(ctx)
	if held := heldError(t, err, lockscript.ErrLost).Holder; held.Kind != lockscript.Golock || held.Owner != "b" {
		t.Errorf("lost to %+v, want golock b", held)
	}
}

func TestMixedRelease(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.mixed-release"

	// Within GRACE: cronlock's own hold, NAME = the second after acquisition + GRACE,
	// expiring at it.
	l := acquire(t, c, name, mixed("a", 3*time.Second, time.Hour, time.Second))
	left, err := l.Release(ctx, lockscript.Outcome{Ran: true})
	if err != nil {
		t.Fatal(err)
	}
	second := l.GraceEnd.UnixMilli()/1000 + 1
	if v, _ := c.Get(ctx, name).Int64(); v != second {
		t.Errorf("NAME %d after release, want acquisition + GRACE + 1 as cronlock writes it: %d", v, second)
	}
	end := redisMS(t, c) + pttl(t, c, name).Milliseconds()
	if end < second*1000-100 || end > second*1000 {
		t.Errorf("NAME expires at %d, want at its second %d", end, second*1000)
	}
	if now := redisMS(t, c); left.Milliseconds() < second*1000-now || left.Milliseconds() > second*1000-now+100 {
		t.Errorf("Release says held %v more, want until %d", left, second*1000)
	}
	rec := record(t, c, lockscript.RecordKey(name))
	if rec["released_ms"] == "" || rec["value"] != strconv.FormatInt(second, 10) {
		t.Errorf("record after release %v", rec)
	}
	if !cronlockHolds(t, c, name) {
		t.Error("cronlock would run within the grace hold")
	}
	_, err = lockscript.Acquire(ctx, c, name, mixed("b", 0, time.Hour, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Owner != "a" || !h.Released {
		t.Errorf("acquire within the grace hold: holder %+v, want a, released", h)
	}
	// Once that second has passed, it is free.
	time.Sleep(time.Until(time.UnixMilli(second*1000 + 50)))
	if n := c.Exists(ctx, name, lockscript.RecordKey(name)).Val(); n != 0 {
		t.Errorf("%d keys left after the grace hold", n)
	}
	acquire(t, c, name, mixed("b", 0, time.Hour, time.Second))

	// Past GRACE, or nothing ran: both keys deleted.
	for _, o := range []lockscript.Outcome{{Ran: true}, lockscript.NotTried} {
		n := name + "-del-" + strconv.FormatBool(o.Ran)
		l := acquire(t, c, n, mixed("a", 0, time.Hour, 5*time.Second))
		if left, err := l.Release(ctx, o); err != nil || left != 0 {
			t.Errorf("release %+v: %v, %v; want deleted", o, left, err)
		}
		if k := c.Exists(ctx, n, lockscript.RecordKey(n)).Val(); k != 0 {
			t.Errorf("release %+v left %d keys", o, k)
		}
	}
	// Another golock's string: untouched.
	a := acquire(t, c, name+"-other", mixed("a", 0, time.Hour, 5*time.Second))
	b := *a
	b.Owner = "b"
	before := snap(t, c, a.Name)
	if _, err := b.Release(ctx, lockscript.Outcome{Ran: true}); !errors.Is(err, lockscript.ErrNotOwner) {
		t.Errorf("release by another owner: %v", err)
	}
	checkUntouched(t, c, a.Name, before)
	if rec := record(t, c, lockscript.RecordKey(a.Name)); rec["owner"] != "a" {
		t.Errorf("release by another owner changed the record: %v", rec)
	}
}

func TestMixedInspectHeldResetReplace(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.mixed-admin"
	by := lockscript.By{Host: "resetter", PID: 99, Lifetime: time.Hour}

	l := acquire(t, c, name, mixed("a", 0, time.Hour, 5*time.Second))
	st, err := lockscript.Inspect(ctx, c, name)
	if err != nil || st.Holder == nil || st.Holder.Kind != lockscript.Golock || st.Holder.Owner != "a" ||
		st.Holder.Fence != l.Fence || st.Record == nil || st.Record.Command != "echo hello" || st.Holder.TTL <= 0 {
		t.Fatalf("Inspect: %+v (holder %+v), %v; want golock a with its record", st, st.Holder, err)
	}
	if a, err := lockscript.Held(ctx, c, name, "a", 0); err != nil || !a.Held || a.Left <= 4*time.Second {
		t.Errorf("Held(a): %v, %v", a, err)
	}
	if a, err := lockscript.Held(ctx, c, name, "b", 0); err != nil || a.Held {
		t.Errorf("Held(b): %v, %v", a, err)
	}

	// A reset revokes the running holder and keeps NAME taken until its job is gone.
	cl, err := lockscript.Reset(ctx, c, name, by)
	if err != nil || cl.Kept != 1 || cl.Holder.Kind != lockscript.Golock || cl.Holder.Owner != "a" {
		t.Errorf("Reset: %+v, %v; want golock a kept", cl, err)
	}
	if !cronlockHolds(t, c, name) {
		t.Error("cronlock would run beside the revoked job")
	}
	if a, err := lockscript.Held(ctx, c, name, "a", 0); err != nil || a.Held {
		t.Errorf("Held(a) after the reset: %v, %v", a, err)
	}
	if _, err := l.Renew(ctx); !heldError(t, err, lockscript.ErrLost).Reset {
		t.Errorf("renewal after the reset: %v, want lost to the reset", err)
	}
	if _, err := l.Release(ctx, lockscript.Outcome{Ran: true, Code: 143, Ended: lockscript.Revoked}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, name, lockscript.RecordKey(name)).Val(); n != 0 {
		t.Errorf("%d keys left after the revoked holder's release", n)
	}

	// A job that has ended (held for grace) and a cronlock lock are deleted, with the record.
	g := acquire(t, c, name, mixed("a", 10*time.Second, time.Hour, time.Second))
	if _, err := g.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	if cl, err := lockscript.Reset(ctx, c, name, by); err != nil || cl.Kept != 0 || cl.Found != 1 || cl.Holder.Kind != lockscript.Golock {
		t.Errorf("Reset of a grace hold: %+v, %v", cl, err)
	}
	if n := c.Exists(ctx, name, lockscript.RecordKey(name)).Val(); n != 0 {
		t.Errorf("%d keys left after resetting a grace hold", n)
	}
	c.Set(ctx, name, strconv.FormatInt(redisMS(t, c)/1000+100, 10), 0)
	c.HSet(ctx, lockscript.RecordKey(name), "owner", "old", "value", "1")
	if cl, err := lockscript.Reset(ctx, c, name, by); err != nil || cl.Holder.Kind != lockscript.Cronlock {
		t.Errorf("Reset of cronlock's lock: %+v, %v", cl, err)
	}
	if n := c.Exists(ctx, name, lockscript.RecordKey(name)).Val(); n != 0 {
		t.Errorf("%d keys left after resetting cronlock's lock", n)
	}

	// CRONLOCK_REPLACE revokes a mixed holder the same way.
	r := acquire(t, c, name, mixed("a", 0, time.Hour, 5*time.Second))
	_, err = lockscript.Acquire(ctx, c, name, mixed("b", 0, time.Hour, 5*time.Second))
	holder := heldError(t, err, lockscript.ErrHeld).Holder
	bound, revoked, err := lockscript.Replace(ctx, c, name, holder, by)
	if err != nil || !revoked || bound <= 0 {
		t.Fatalf("Replace: %v, %v, %v", bound, revoked, err)
	}
	if _, err := r.Renew(ctx); !heldError(t, err, lockscript.ErrLost).Replaced {
		t.Errorf("renewal after Replace: %v, want replaced", err)
	}
	if typ := c.Type(ctx, name).Val(); typ != "string" || !cronlockHolds(t, c, name) {
		t.Errorf("after Replace NAME is a %s; want cronlock's string, still held", typ)
	}
}
