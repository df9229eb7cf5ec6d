package lockscript_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The fleet policies: CRONLOCK_REPLACE (Replace, and Held of a revoked holder) and
// CRONLOCK_LIMIT with CRONLOCK_LOCK_DELAY (slots, Held in each, the key kept past its
// lease, reset of every slot).

// jobOptions are the Options of a run by owner with no grace, a lifetime of an hour and a
// lease of 10 s.
func jobOptions(owner string) lockscript.Options {
	return lockscript.Options{Owner: owner, Host: "h", PID: 1, Command: "job", Grace: 0,
		Lifetime: time.Hour, Lease: 10 * time.Second}
}

// TestReplace: a holder is revoked but its lock stays until it lets go; its renewal then
// reports the loss as a replace; its release deletes the lock at once, grace or not. A
// keep-mode holder, a job that has ended and a cronlock lock are not replaced.
func TestReplace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	by := lockscript.By{Host: "new-host", PID: 77, Lifetime: time.Hour}

	p := jobOptions("old")
	p.Grace = time.Minute
	lock, err := lockscript.Acquire(ctx, c, "r", p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(ctx, c, "r", jobOptions("new"))
	var held *lockscript.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v", err)
	}
	bound, revoked, err := lockscript.Replace(ctx, c, "r", held.Holder, by)
	if err != nil || !revoked || bound <= 0 || bound > time.Minute {
		t.Fatalf("Replace = %v, %v, %v", bound, revoked, err)
	}
	if _, err := lockscript.Acquire(ctx, c, "r", jobOptions("third")); !errors.Is(err, lockscript.ErrHeld) {
		t.Fatalf("a revoked lock must stay held until its holder lets go: %v", err)
	}
	if a, _ := lockscript.Held(ctx, c, "r", "old", 0); a.Held || a.Why != "replace" {
		t.Errorf("Held of the revoked holder = %+v", a)
	}
	_, err = lock.Renew(ctx)
	if !errors.As(err, &held) || !held.Replaced || held.Holder.Host != "new-host" {
		t.Fatalf("the revoked holder's renewal: %v", err)
	}
	if left, err := lock.Release(ctx, lockscript.Outcome{Ran: true, Code: 143}); err != nil || left != 0 {
		t.Fatalf("release of a revoked lock = %v, %v: want deleted at once, not held for grace", left, err)
	}
	if _, err := lockscript.Acquire(ctx, c, "r", jobOptions("new")); err != nil {
		t.Fatalf("after the holder let go: %v", err)
	}

	// Not replaced.
	keep := jobOptions("keeper")
	keep.Keep = true
	if _, err := lockscript.Acquire(ctx, c, "k", keep); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(ctx, c, "k", jobOptions("new"))
	errors.As(err, &held)
	if _, _, err := lockscript.Replace(ctx, c, "k", held.Holder, by); !errors.Is(err, lockscript.ErrKeep) {
		t.Errorf("keep-mode holder: %v, want ErrKeep", err)
	}
	p = jobOptions("ended")
	p.Grace = time.Minute
	ended, _ := lockscript.Acquire(ctx, c, "e", p)
	if _, err := ended.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(ctx, c, "e", jobOptions("new"))
	errors.As(err, &held)
	if _, _, err := lockscript.Replace(ctx, c, "e", held.Holder, by); !errors.Is(err, lockscript.ErrJobEnded) {
		t.Errorf("grace hold: %v, want ErrJobEnded", err)
	}
	c.Set(ctx, "s", time.Now().Add(time.Hour).Unix(), 0)
	_, err = lockscript.Acquire(ctx, c, "s", jobOptions("new"))
	errors.As(err, &held)
	if _, _, err := lockscript.Replace(ctx, c, "s", held.Holder, by); !errors.Is(err, lockscript.ErrNotGolock) {
		t.Errorf("cronlock lock: %v, want ErrNotGolock", err)
	}
	// A holder that let go between the held reply and the revoke is not revoked.
	g, _ := lockscript.Acquire(ctx, c, "g", jobOptions("gone"))
	_, err = lockscript.Acquire(ctx, c, "g", jobOptions("new"))
	errors.As(err, &held)
	if _, err := g.Release(ctx, lockscript.NotTried); err != nil {
		t.Fatal(err)
	}
	if _, revoked, err := lockscript.Replace(ctx, c, "g", held.Holder, by); revoked || err != nil {
		t.Errorf("gone holder: revoked %v, %v", revoked, err)
	}
}

// TestLimitSlots: LIMIT=3 takes NAME and two slot keys; a fourth is held; release frees only
// its own slot; Held finds each holder in its slot; the lock delay keeps a key past its
// lease; a LIMIT=1 acquire meeting them is refused.
func TestLimitSlots(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	var locks []*lockscript.Lock
	for _, owner := range []string{"a", "b", "c"} {
		p := jobOptions(owner)
		p.Limit, p.Delay = 3, 5*time.Second
		l, err := lockscript.Acquire(ctx, c, "n", p)
		if err != nil {
			t.Fatal(err)
		}
		locks = append(locks, l)
		if ttl := c.PTTL(ctx, l.Key()).Val(); ttl < 14*time.Second || l.TTL > 10*time.Second {
			t.Errorf("slot %s: key TTL %v, lease %v: want lease 10s and key 15s", l.Key(), ttl, l.TTL)
		}
	}
	keys := []string{locks[0].Key(), locks[1].Key(), locks[2].Key()}
	if keys[0] != "n" || keys[1] != "{n}.slot2" || keys[2] != "{n}.slot3" {
		t.Errorf("slot keys %q", keys)
	}
	p := jobOptions("d")
	p.Limit = 3
	_, err := lockscript.Acquire(ctx, c, "n", p)
	var held *lockscript.HeldError
	if !errors.As(err, &held) || held.Holder.Holders != 3 {
		t.Fatalf("fourth acquire: %v", err)
	}
	if _, err := lockscript.Acquire(ctx, c, "n", jobOptions("one")); !errors.Is(err, lockscript.ErrLimit) {
		t.Errorf("LIMIT=1 beside LIMIT=3 holders: %v", err)
	}
	for _, l := range locks {
		if a, err := lockscript.Held(ctx, c, "n", l.Owner, 9*time.Second); err != nil || !a.Held {
			t.Errorf("Held(%s) = %+v, %v", l.Owner, a, err)
		}
	}
	if _, err := locks[1].Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, keys[0], keys[2]).Val(); n != 2 {
		t.Errorf("releasing slot 2 touched the others: %d left", n)
	}
	st, err := lockscript.Inspect(ctx, c, "n")
	if err != nil || st.Holder == nil || len(st.Others) != 1 {
		t.Fatalf("Inspect = %+v, %v", st, err)
	}
	l, err := lockscript.Acquire(ctx, c, "n", p)
	if err != nil || l.Key() != keys[1] {
		t.Fatalf("acquire after a release: %v, %v", l, err)
	}
	cl, err := lockscript.Reset(ctx, c, "n", lockscript.By{Host: "resetter", PID: 99, Lifetime: time.Hour})
	if err != nil || cl.Found != 3 || cl.Kept != 3 || cl.Holder.Holders != 3 {
		t.Fatalf("Reset = %+v, %v", cl, err)
	}
	// Their jobs run: each slot stays taken, revoked, until its holder lets go.
	if n := c.Exists(ctx, keys[0], keys[1], keys[2], lockscript.LimitKey("n")).Val(); n != 4 {
		t.Errorf("%d of the 3 slots and the limit key left after a reset of running holders, want all", n)
	}
	if _, err := l.Renew(ctx); !errors.Is(err, lockscript.ErrLost) {
		t.Errorf("renewal of a slot after a reset: %v, want ErrLost", err)
	}
}
