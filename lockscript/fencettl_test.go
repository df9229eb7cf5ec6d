package lockscript_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// TestFenceCounterExpires: every script that writes a lock's fence counter leaves it a TTL
// (a day beyond RELEASE and the last-run record's 30 days), an acquire refreshes it and
// nothing shortens it; and fences still rise when the counter has expired or Redis lost it.
func TestFenceCounterExpires(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	c := s.Client()
	ctx := t.Context()
	name := "cronlock.fence-ttl"
	fence := lockscript.FenceKey(name)
	release := 2 * time.Hour
	want := lockscript.FenceTTL(release)
	if want <= release+lockscript.LastRunTTL {
		t.Fatalf("FenceTTL(%v) = %v, want more than RELEASE + %v", release, want, lockscript.LastRunTTL)
	}
	near := func(what string, min time.Duration) {
		t.Helper()
		if got := pttl(t, c, fence); got < min-time.Minute || got > min+time.Second {
			t.Errorf("%s: fence counter TTL %v, want %v", what, got, min)
		}
	}

	l := acquire(t, c, name, options("a", 0, release, 10*time.Second))
	near("after an acquire", want)
	t.Logf("measured: fence counter TTL after an acquire with RELEASE=%v: %v", release, pttl(t, c, fence))

	// A renewal that finds the lock gone writes it, and the counter, again: with a TTL.
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if ext, err := l.Renew(ctx); err != nil || !ext.Reestablished {
		t.Fatalf("extend after FLUSHALL: %+v, %v", ext, err)
	}
	near("after a renewal wrote it again", want)

	if _, err := l.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	near("after a release", want)

	// A reset of a lock whose counter is gone gives it a TTL too: the holder's deadline plus
	// FenceTTL(0).
	l2 := acquire(t, c, name, options("b", 0, release, 10*time.Second))
	if err := c.Del(ctx, fence).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := lockscript.Reset(ctx, c, name, lockscript.By{Host: "resetter", PID: 99, Lifetime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	near("after a reset", lockscript.FenceTTL(release))
	// The reset holder's job ends: its release deletes the revoked lock at once.
	if _, err := l2.Release(ctx, lockscript.Outcome{Ran: true, Ended: lockscript.Revoked}); err != nil {
		t.Fatal(err)
	}

	// A run with a shorter RELEASE never shortens the TTL a longer one set.
	l3 := acquire(t, c, name, options("c", 0, time.Minute, 10*time.Second))
	near("after an acquire with a shorter RELEASE", lockscript.FenceTTL(release))
	if l3.Fence <= l2.Fence {
		t.Errorf("fence %d after a reset, want more than %d", l3.Fence, l2.Fence)
	}
	if _, err := l3.Release(ctx, lockscript.NotTried); err != nil {
		t.Fatal(err)
	}

	// The counter expires (made to, here, at once): the next fence still rises.
	before := fenceCounter(t, c, name)
	if err := c.PExpire(ctx, fence, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if !redistest.Poll(5*time.Second, func() bool { return c.Exists(ctx, fence).Val() == 0 }) {
		t.Fatal("the fence counter did not expire")
	}
	l4 := acquire(t, c, name, options("d", 0, release, 10*time.Second))
	if l4.Fence <= before {
		t.Errorf("fence %d after the counter expired, want more than %d", l4.Fence, before)
	}
	near("after an acquire with no counter", want)

	// And across a FLUSHALL.
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	l5 := acquire(t, c, name+".2", options("e", 0, release, 10*time.Second))
	l6 := acquire(t, c, name, options("f", 0, release, 10*time.Second))
	if l6.Fence <= l4.Fence || l5.Fence <= l4.Fence {
		t.Errorf("fences after FLUSHALL %d, %d; want more than %d", l5.Fence, l6.Fence, l4.Fence)
	}
	near("after FLUSHALL and an acquire", want)
}

func TestFenceIncreases(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.fence"
	var last int64
	for i := range 100 {
		before := redisMS(t, c)
		l := acquire(t, c, name, options(fmt.Sprint("owner-", i), 0, time.Minute, time.Second))
		if l.Fence <= last {
			t.Fatalf("cycle %d: fence %d after %d", i, l.Fence, last)
		}
		if l.Fence < before*1000 {
			t.Fatalf("cycle %d: fence %d is behind Redis TIME in µs (%d000)", i, l.Fence, before)
		}
		last = l.Fence
		if _, err := l.Release(ctx, lockscript.Outcome{Ran: i%2 == 0}); err != nil { // no grace: deleted either way
			t.Fatal(err)
		}
	}

	// A counter ahead of the clock (a clock stepped back, say) is still counted up from.
	ahead := last + int64(time.Hour/time.Microsecond)
	if err := c.Set(ctx, lockscript.FenceKey(name), ahead, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if l := acquire(t, c, name, options("ahead", 0, time.Minute, time.Second)); l.Fence != ahead+1 {
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

	l := acquire(t, c, name, options("a", 0, time.Minute, time.Second))
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	l2 := acquire(t, c, name, options("b", 0, time.Minute, time.Second))
	if l2.Fence <= l.Fence {
		t.Errorf("fence after FLUSHALL %d, want more than %d", l2.Fence, l.Fence)
	}

	s.Restart()
	c = s.Client() // the old client's connections died with the server
	if n := c.Exists(ctx, name, lockscript.FenceKey(name)).Val(); n != 0 {
		t.Fatal("Restart kept data")
	}
	l3 := acquire(t, c, name, options("c", 0, time.Minute, time.Second))
	if l3.Fence <= l2.Fence {
		t.Errorf("fence after a restart %d, want more than %d", l3.Fence, l2.Fence)
	}
}
