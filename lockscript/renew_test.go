package lockscript_test

import (
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

// checkRenewal checks ext against SPEC §6: TTL = min(deadline − now, max(lease, grace − now)),
// with now the Redis time of the renewal, which UntilDeadline gives away (and Clock says);
// and the key's PTTL.
func checkRenewal(t *testing.T, c *redis.Client, l *lockscript.Lock, ext lockscript.Renewal, before, after int64) {
	t.Helper()
	now := l.Deadline.UnixMilli() - ext.UntilDeadline.Milliseconds()
	if now < before || now > after {
		t.Fatalf("UntilDeadline %v means Redis time %d, outside %d..%d", ext.UntilDeadline, now, before, after)
	}
	if ext.Clock.UnixMilli() != now {
		t.Errorf("Clock %d (unix ms), want deadline − UntilDeadline = %d", ext.Clock.UnixMilli(), now)
	}
	want := min(l.Deadline.UnixMilli()-now, max(l.Lease.Milliseconds(), l.GraceEnd.UnixMilli()-now))
	if ext.TTL != time.Duration(want)*time.Millisecond {
		t.Errorf("TTL %v, want %dms", ext.TTL, want)
	}
	if d := pttl(t, c, l.Name); d > ext.TTL || d < ext.TTL-time.Second {
		t.Errorf("PTTL %v, want about %v", d, ext.TTL)
	}
}

func TestRenewTTL(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	for _, tc := range []struct {
		what                   string
		grace, lifetime, lease time.Duration
		bound                  string // which term of the formula must win
	}{
		{"grace-bound", 4 * time.Second, time.Minute, time.Second, "grace"},
		{"lease-bound", 0, time.Minute, 3 * time.Second, "lease"},
		{"lease-bound after grace", 100 * time.Millisecond, time.Minute, 3 * time.Second, "lease"},
		{"deadline-bound", 0, 5 * time.Second, 20 * time.Second, "deadline"},
		{"deadline-bound with grace", 5 * time.Second, 5 * time.Second, 20 * time.Second, "deadline"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			name := "cronlock.extend-" + strings.ReplaceAll(tc.what, " ", "-")
			l := acquire(t, c, name, options("a", tc.grace, tc.lifetime, tc.lease))
			// A TTL no term of the formula gives, so an extend that does nothing shows; and
			// time moves on, past the grace of the one that has a short grace.
			if ok, err := c.PExpire(ctx, name, time.Minute).Result(); err != nil || !ok {
				t.Fatalf("PEXPIRE: %v, %v", ok, err)
			}
			for redisMS(t, c) <= l.Acquired.UnixMilli()+150 {
				time.Sleep(20 * time.Millisecond)
			}
			before := redisMS(t, c)
			ext, err := l.Renew(ctx)
			after := redisMS(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if ext.Reestablished {
				t.Error("Reestablished on a lock that was there")
			}
			checkRenewal(t, c, l, ext, before, after)
			now := l.Deadline.UnixMilli() - ext.UntilDeadline.Milliseconds()
			ttl := ext.TTL.Milliseconds()
			switch tc.bound {
			case "grace":
				if grace := l.GraceEnd.UnixMilli(); ttl != grace-now || ttl <= tc.lease.Milliseconds() {
					t.Errorf("TTL %dms, want grace_ms − now = %dms", ttl, grace-now)
				}
			case "lease":
				if ttl != tc.lease.Milliseconds() {
					t.Errorf("TTL %dms, want the lease %v", ttl, tc.lease)
				}
			case "deadline":
				if ext.TTL != ext.UntilDeadline || ttl >= tc.lifetime.Milliseconds() {
					t.Errorf("TTL %v, want deadline − now = %v", ext.TTL, ext.UntilDeadline)
				}
			}
			if rec := record(t, c, name); rec["owner"] != "a" || rec["reestablished_ms"] != "" {
				t.Errorf("record after extend: %v", rec)
			}
		})
	}
}

func TestRenewMissing(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.vanished"
	p := options("a", 0, time.Minute, 2*time.Second)
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
		ext, err := l.Renew(ctx)
		after := redisMS(t, c)
		if err != nil {
			t.Fatalf("after %s: %v", how, err)
		}
		if !ext.Reestablished {
			t.Errorf("after %s: Reestablished false", how)
		}
		checkRenewal(t, c, l, ext, before, after)
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
		_, err = lockscript.Acquire(ctx, c, name, options("b", 0, time.Minute, time.Second))
		if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Owner != "a" || h.Fence != l.Fence {
			t.Errorf("after %s: competitor saw holder %+v, want owner a, fence %d", how, h, l.Fence)
		}
	}

	// Once ours is released, the next lock's fence is past ours although Redis lost the counter.
	if _, err := l.Release(ctx, lockscript.Outcome{Ran: false}); err != nil {
		t.Fatal(err)
	}
	if next := acquire(t, c, name, options("b", 0, time.Minute, time.Second)); next.Fence <= l.Fence {
		t.Errorf("next fence %d, want more than %d", next.Fence, l.Fence)
	}
}

func TestRenewLost(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.lost"
	ours := acquire(t, c, name, options("a", 0, time.Minute, time.Second))
	if err := c.Del(ctx, name).Err(); err != nil {
		t.Fatal(err)
	}
	theirs := acquire(t, c, name, options("b", 0, time.Minute, 5*time.Second))
	before := snap(t, c, name)

	_, err := ours.Renew(ctx)
	held := heldError(t, err, lockscript.ErrLost)
	if h := held.Holder; h.Kind != lockscript.Golock || h.Owner != "b" || h.Host != "host-b" || h.PID != 4242 {
		t.Errorf("holder %+v, want owner b on host-b", h)
	}
	checkUntouched(t, c, name, before)
	if n := fenceCounter(t, c, name); n != theirs.Fence {
		t.Errorf("fence counter %d, want theirs %d", n, theirs.Fence)
	}

	// Our lock was deleted (evicted, say), someone took it and let it go again before our
	// next extend: lost, not written back, although NAME is free now.
	gone := acquire(t, c, "cronlock.lost-between", options("a", 0, time.Minute, time.Second))
	if err := c.Del(ctx, gone.Name).Err(); err != nil {
		t.Fatal(err)
	}
	between := acquire(t, c, gone.Name, options("b", 0, time.Minute, time.Second))
	if _, err := between.Release(ctx, lockscript.Outcome{Ran: false}); err != nil {
		t.Fatal(err)
	}
	_, err = gone.Renew(ctx)
	heldError(t, err, lockscript.ErrLost)
	if n := c.Exists(ctx, gone.Name).Val(); n != 0 {
		t.Errorf("%s written back after another owner held it", gone.Name)
	}
	if n := fenceCounter(t, c, gone.Name); n != between.Fence+1 { // +1: its release
		t.Errorf("fence counter %d, want the later owner's %d + 1", n, between.Fence)
	}

	// A value golock did not write is not ours either: lost, and left alone.
	for i, fv := range foreignValues {
		l := acquire(t, c, fmt.Sprintf("cronlock.lost-foreign-%d", i), options("a", 0, time.Minute, time.Second))
		if err := c.Del(ctx, l.Name).Err(); err != nil {
			t.Fatal(err)
		}
		if err := fv.seed(ctx, c, l.Name); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, l.Name)
		_, err := l.Renew(ctx)
		heldError(t, err, lockscript.ErrLost)
		checkUntouched(t, c, l.Name, before)
	}
	// So is a cronlock string lock.
	l := acquire(t, c, "cronlock.lost-legacy", options("a", 0, time.Minute, time.Second))
	if err := c.Set(ctx, l.Name, strconv.FormatInt(redisMS(t, c)/1000+100, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	before = snap(t, c, l.Name)
	_, err = l.Renew(ctx)
	heldError(t, err, lockscript.ErrLost)
	checkUntouched(t, c, l.Name, before)
}

func TestRenewPastDeadline(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	const release = time.Second

	// The key is still there (someone set a longer TTL): expired, and left untouched.
	l := acquire(t, c, "cronlock.deadline", options("a", 0, release, 5*time.Second))
	if ok, err := c.PExpire(ctx, l.Name, time.Minute).Result(); err != nil || !ok {
		t.Fatalf("PEXPIRE: %v, %v", ok, err)
	}
	// And the key is gone: expired, and not written again.
	gone := acquire(t, c, "cronlock.deadline-gone", options("a", 0, release, 5*time.Second))
	for redisMS(t, c) <= max(l.Deadline.UnixMilli(), gone.Deadline.UnixMilli()) {
		time.Sleep(10 * time.Millisecond)
	}
	before := snap(t, c, l.Name)
	if _, err := l.Renew(ctx); !errors.Is(err, lockscript.ErrExpired) {
		t.Errorf("extend past the deadline: %v, want ErrExpired", err)
	}
	checkUntouched(t, c, l.Name, before)

	if n := c.Exists(ctx, gone.Name).Val(); n != 0 {
		t.Fatalf("%s still there after its deadline", gone.Name)
	}
	if _, err := gone.Renew(ctx); !errors.Is(err, lockscript.ErrExpired) {
		t.Errorf("extend of a vanished lock past its deadline: %v, want ErrExpired", err)
	}
	if n := c.Exists(ctx, gone.Name).Val(); n != 0 {
		t.Errorf("a lock past its deadline was written again")
	}
}
