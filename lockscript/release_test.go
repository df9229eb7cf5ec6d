package lockscript_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

func TestReleaseWithinGrace(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	name := "cronlock.grace"
	l := acquire(t, c, name, options("a", 3*time.Second, time.Minute, time.Second))
	rec := record(t, c, name)
	time.Sleep(100 * time.Millisecond)

	before := redisMS(t, c)
	left, err := l.Release(t.Context(), lockscript.Outcome{Ran: true})
	after := redisMS(t, c)
	if err != nil {
		t.Fatal(err)
	}
	grace := l.GraceEnd.UnixMilli()
	if want := grace - after; left.Milliseconds() < want || left.Milliseconds() > grace-before {
		t.Errorf("Release says the lock is held %v more, want grace_ms − now ≈ %dms", left, want)
	}
	got := record(t, c, name)
	if rel, _ := strconv.ParseInt(got["released_ms"], 10, 64); rel < before || rel > after ||
		rel != grace-left.Milliseconds() {
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
	if again, err := l.Release(t.Context(), lockscript.Outcome{Ran: true}); err != nil || again <= 0 || again > left {
		t.Errorf("second release: %v, %v", again, err)
	}
	// A renewal that reaches Redis after the release (it was on its way) must not stretch
	// the grace hold to a full lease.
	if _, err := l.Renew(t.Context()); !errors.Is(err, lockscript.ErrExpired) {
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
	if _, err := l.Renew(t.Context()); !errors.Is(err, lockscript.ErrLost) {
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

	afterGrace := acquire(t, c, "cronlock.after-grace", options("a", 100*time.Millisecond, time.Minute, 5*time.Second))
	notRan := acquire(t, c, "cronlock.not-ran", options("a", 5*time.Second, time.Minute, time.Second))
	for redisMS(t, c) <= afterGrace.GraceEnd.UnixMilli() {
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		l   *lockscript.Lock
		ran bool
	}{{afterGrace, true}, {notRan, false}} {
		fence := fenceCounter(t, c, tc.l.Name)
		left, err := tc.l.Release(ctx, lockscript.Outcome{Ran: tc.ran})
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
		if _, err := tc.l.Renew(ctx); !errors.Is(err, lockscript.ErrLost) {
			t.Errorf("%s: a late extend after release: %v, want ErrLost", tc.l.Name, err)
		}
		if n := c.Exists(ctx, tc.l.Name).Val(); n != 0 {
			t.Errorf("%s written back by a late extend", tc.l.Name)
		}
	}
	// A lock already gone is said to be: another run may have held it meanwhile.
	if left, err := notRan.Release(ctx, lockscript.Outcome{Ran: true}); !errors.Is(err, lockscript.ErrGone) || left != 0 {
		t.Errorf("release of a missing lock: %v, %v; want ErrGone", left, err)
	}
}

func TestReleaseNotOwner(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.not-owner"
	ours := acquire(t, c, name, options("a", 0, time.Minute, time.Second))
	if err := c.Del(ctx, name).Err(); err != nil {
		t.Fatal(err)
	}
	acquire(t, c, name, options("b", 5*time.Second, time.Minute, 10*time.Second))
	rec := record(t, c, name)
	before := snap(t, c, name)

	for _, ran := range []bool{true, false} {
		_, err := ours.Release(ctx, lockscript.Outcome{Ran: ran})
		held := heldError(t, err, lockscript.ErrNotOwner)
		if h := held.Holder; h.Owner != "b" || h.Host != "host-b" || h.PID != 4242 || h.Kind != lockscript.Golock {
			t.Errorf("holder %+v, want owner b", h)
		}
		if got := record(t, c, name); !maps.Equal(got, rec) {
			t.Errorf("release by a non-owner changed the record:\n %v\nwant\n %v", got, rec)
		}
		checkUntouched(t, c, name, before)
	}

	// Nor are a cronlock lock or a foreign value ever deleted by release.
	staleCronlock := foreignValue{lockscript.Cronlock, "", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, "1", 0).Err() // stale, even
	}}
	for i, fv := range append([]foreignValue{staleCronlock}, foreignValues...) {
		l := *ours
		l.Name = fmt.Sprintf("cronlock.not-owner-%d", i)
		if err := fv.seed(ctx, c, l.Name); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, l.Name)
		_, err := l.Release(ctx, lockscript.Outcome{Ran: false})
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

	graced := acquire(t, c, name, options("a", 5*time.Second, time.Minute, time.Second))
	if _, err := graced.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	expect("a release held for grace", false)
	other := *graced
	other.Owner = "b"
	if _, err := other.Release(ctx, lockscript.Outcome{Ran: false}); !errors.Is(err, lockscript.ErrNotOwner) {
		t.Fatal(err)
	}
	expect("a refused release", false)
	if _, err := lockscript.Reset(ctx, c, name, lockscript.By{Host: "resetter", PID: 99, Lifetime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	expect("reset", true)

	l := acquire(t, c, name, options("a", 0, time.Minute, time.Second))
	if _, err := l.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	expect("a release that deletes", true)
}

func TestReset(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.reset"
	by := lockscript.By{Host: "resetter", PID: 99, Lifetime: time.Hour}

	cl, err := lockscript.Reset(ctx, c, name, by)
	if err != nil || cl.Found != 0 || cl.Holder != (lockscript.Holder{}) {
		t.Errorf("reset of a free lock: %+v, %v; want nothing found", cl, err)
	}

	// A holder whose job runs: revoked, its lock kept taken until it lets go.
	l := acquire(t, c, name, options("a", 5*time.Second, time.Minute, time.Second))
	cl, err = lockscript.Reset(ctx, c, name, by)
	h := cl.Holder
	if err != nil || cl.Found != 1 || cl.Kept != 1 || h.Kind != lockscript.Golock || h.Owner != "a" || h.Host != "host-a" || h.PID != 4242 {
		t.Errorf("reset of a running golock lock: %+v, %v; want it found and kept", cl, err)
	}
	if n := fenceCounter(t, c, name); n != l.Fence+1 {
		t.Errorf("fence counter %d after reset, want %d: moved past the holder's %d", n, l.Fence+1, l.Fence)
	}
	if h.Fence != l.Fence {
		t.Errorf("reset reports fence %d, want the holder's %d", h.Fence, l.Fence)
	}
	if _, err := lockscript.Acquire(ctx, c, name, options("b", 0, time.Minute, time.Second)); !errors.Is(err, lockscript.ErrHeld) {
		t.Errorf("acquire while the reset holder's job may still run: %v, want ErrHeld", err)
	}
	// The holder is revoked: its next renewal finds the lock lost, says a reset did it and
	// by whom, and does not renew it.
	ttl := pttl(t, c, name)
	_, err = l.Renew(ctx)
	if held := heldError(t, err, lockscript.ErrLost); !held.Reset || held.Holder.Host != "resetter" || held.Holder.PID != 99 ||
		!strings.Contains(err.Error(), "CRONLOCK_RESET") {
		t.Errorf("renewal after a reset: %v (Reset %v, by %s pid %d), want the reset named", err, held.Reset, held.Holder.Host, held.Holder.PID)
	}
	if after := pttl(t, c, name); after > ttl {
		t.Errorf("a renewal after the reset renewed the lock: TTL %v, was %v", after, ttl)
	}
	// Its release deletes the lock at once (no grace hold), recorded as revoked.
	if _, err := l.Release(ctx, lockscript.Outcome{Ran: true, Code: 143, Ended: lockscript.Revoked}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, name).Val(); n != 0 {
		t.Error("lock still there after the revoked holder's release")
	}
	if st, err := lockscript.Inspect(ctx, c, name); err != nil || st.Last == nil || st.Last.Ended != lockscript.Revoked {
		t.Errorf("last run after a reset holder's release: %+v, %v; want it recorded revoked", st.Last, err)
	}
	next := acquire(t, c, name, options("b", 5*time.Second, time.Minute, time.Second))
	if next.Fence <= l.Fence+1 {
		t.Errorf("fence after reset %d, want more than %d", next.Fence, l.Fence+1)
	}
	// A job that has ended (its grace hold) is deleted at once.
	if _, err := next.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	if cl, err := lockscript.Reset(ctx, c, name, by); err != nil || cl.Found != 1 || cl.Kept != 0 {
		t.Errorf("reset of a grace hold: %+v, %v; want found, not kept", cl, err)
	}
	if n := c.Exists(ctx, name).Val(); n != 0 {
		t.Error("a grace hold still there after reset")
	}
	// A reset while the lock's key is gone already (its holder cut off from Redis, its
	// lease run out) revokes that holder too.
	cut := acquire(t, c, "cronlock.reset-cut", options("c", 0, time.Minute, time.Second))
	if err := c.Del(ctx, cut.Name).Err(); err != nil {
		t.Fatal(err)
	}
	if cl, err := lockscript.Reset(ctx, c, cut.Name, by); err != nil || cl.Found != 0 {
		t.Errorf("reset of a vanished lock: %+v, %v; want free", cl, err)
	}
	if _, err := cut.Renew(ctx); !errors.Is(err, lockscript.ErrLost) {
		t.Errorf("extend of a vanished lock after a reset: %v, want ErrLost", err)
	}
	if n := c.Exists(ctx, cut.Name).Val(); n != 0 {
		t.Error("a renewal after the reset wrote the vanished lock back")
	}
	// A reset of a lock that never ran leaves no last run behind.
	if st, err := lockscript.Inspect(ctx, c, cut.Name); err != nil || st.Last != nil {
		t.Errorf("last run after resetting a lock that never ran: %+v, %v; want none", st.Last, err)
	}

	liveCronlock := foreignValue{lockscript.Cronlock, "", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, strconv.FormatInt(time.Now().Unix()+100, 10), 0).Err()
	}}
	for i, fv := range append([]foreignValue{liveCronlock}, foreignValues[2:]...) { // not the strings
		key := fmt.Sprintf("cronlock.reset-%d", i)
		if err := fv.seed(ctx, c, key); err != nil {
			t.Fatal(err)
		}
		cl, err := lockscript.Reset(ctx, c, key, by)
		if h := cl.Holder; err != nil || cl.Found != 1 || cl.Kept != 0 || h.Kind != fv.kind || h.Type != fv.typ || h.Owner != "" {
			t.Errorf("reset of a %v %s: %+v, %v", fv.kind, fv.typ, cl, err)
		}
		if n := c.Exists(ctx, key).Val(); n != 0 {
			t.Errorf("%s still there after reset", key)
		}
	}
}

// TestAbandon: Abandon gives back every slot its owner took (an acquire whose reply never
// came) and nothing of anyone else's.
func TestAbandon(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.abandon"
	a, b := options("a", 5*time.Second, time.Minute, 10*time.Second), options("b", 5*time.Second, time.Minute, 10*time.Second)
	a.Limit, b.Limit = 2, 2
	la, lb := acquire(t, c, name, a), acquire(t, c, name, b)
	if la.Key() == lb.Key() {
		t.Fatalf("both hold %s", la.Key())
	}
	before := snap(t, c, la.Key())

	if err := lockscript.Abandon(ctx, c, name, options("nobody", 0, time.Minute, time.Second)); err != nil {
		t.Errorf("Abandon by an owner that holds nothing: %v", err)
	}
	if err := lockscript.Abandon(ctx, c, name, b); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	if n := c.Exists(ctx, lb.Key()).Val(); n != 0 {
		t.Errorf("%s still there after Abandon by its owner", lb.Key())
	}
	checkUntouched(t, c, la.Key(), before)
	if got := record(t, c, la.Key())["owner"]; got != "a" {
		t.Errorf("the other slot's owner %q after Abandon, want a", got)
	}
	if st, err := lockscript.Inspect(ctx, c, name); err != nil || st.Last != nil {
		t.Errorf("Abandon recorded a last run: %+v, %v", st.Last, err)
	}
}
