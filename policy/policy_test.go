package policy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
	"github.com/golock/golock/policy"
)

func TestSplay(t *testing.T) {
	const max = 200 * time.Millisecond
	var lo, hi time.Duration = max, 0
	for range 30 {
		start := time.Now()
		slept, ok := policy.Splay(context.Background(), max)
		took := time.Since(start)
		if !ok || slept < 0 || slept >= max || took < slept {
			t.Fatalf("Splay slept %v (took %v, ok %v), want [0, %v)", slept, took, ok, max)
		}
		lo, hi = min(lo, slept), maxDur(hi, slept)
	}
	t.Logf("measured: 30 splays of [0, 200ms): %v … %v", lo.Round(time.Millisecond), hi.Round(time.Millisecond))
	if hi-lo < max/4 {
		t.Errorf("splays %v … %v: not spread", lo, hi)
	}
	if slept, ok := policy.Splay(context.Background(), 0); !ok || slept != 0 {
		t.Errorf("Splay(0) = %v, %v", slept, ok)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if _, ok := policy.Splay(ctx, time.Hour); ok || time.Since(start) > time.Second {
		t.Errorf("a cancelled splay returned ok=%v after %v", ok, time.Since(start))
	}
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func params(owner string) lockscript.Params {
	return lockscript.Params{Owner: owner, Host: "h", PID: 1, Command: "job", Grace: 0,
		Release: time.Hour, Lease: 10 * time.Second}
}

// TestReplace: a holder is revoked but its lock stays until it lets go; its renewal then
// reports the loss as a replace; its release deletes the lock at once, grace or not. A
// keep-mode holder, a job that has ended and a cronlock lock are not replaced.
func TestReplace(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	by := policy.Replacer{Host: "new-host", PID: 77, Release: time.Hour}

	p := params("old")
	p.Grace = time.Minute
	lock, err := lockscript.Acquire(ctx, c, "r", p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(ctx, c, "r", params("new"))
	var held *lockscript.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v", err)
	}
	bound, revoked, err := policy.Replace(ctx, c, "r", held.Holder, by)
	if err != nil || !revoked || bound <= 0 || bound > time.Minute {
		t.Fatalf("Replace = %v, %v, %v", bound, revoked, err)
	}
	if _, err := lockscript.Acquire(ctx, c, "r", params("third")); !errors.Is(err, lockscript.ErrHeld) {
		t.Fatalf("a revoked lock must stay held until its holder lets go: %v", err)
	}
	if a, _ := policy.Held(ctx, c, "r", "old", 0); a.Held || a.Why != "replace" {
		t.Errorf("Held of the revoked holder = %+v", a)
	}
	_, err = lockscript.Extend(ctx, c, lock)
	if !errors.As(err, &held) || !held.Replaced || held.Holder.Host != "new-host" {
		t.Fatalf("the revoked holder's renewal: %v", err)
	}
	if left, err := lockscript.Release(ctx, c, lock, lockscript.Outcome{Ran: true, Code: 143}); err != nil || left != 0 {
		t.Fatalf("release of a revoked lock = %v, %v: want deleted at once, not held for grace", left, err)
	}
	if _, err := lockscript.Acquire(ctx, c, "r", params("new")); err != nil {
		t.Fatalf("after the holder let go: %v", err)
	}

	// Not replaced.
	keep := params("keeper")
	keep.OnLost = "keep"
	if _, err := lockscript.Acquire(ctx, c, "k", keep); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(ctx, c, "k", params("new"))
	errors.As(err, &held)
	if _, _, err := policy.Replace(ctx, c, "k", held.Holder, by); !errors.Is(err, policy.ErrKeep) {
		t.Errorf("keep-mode holder: %v, want ErrKeep", err)
	}
	p = params("ended")
	p.Grace = time.Minute
	ended, _ := lockscript.Acquire(ctx, c, "e", p)
	if _, err := lockscript.Release(ctx, c, ended, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(ctx, c, "e", params("new"))
	errors.As(err, &held)
	if _, _, err := policy.Replace(ctx, c, "e", held.Holder, by); !errors.Is(err, policy.ErrJobEnded) {
		t.Errorf("grace hold: %v, want ErrJobEnded", err)
	}
	c.Set(ctx, "s", time.Now().Add(time.Hour).Unix(), 0)
	_, err = lockscript.Acquire(ctx, c, "s", params("new"))
	errors.As(err, &held)
	if _, _, err := policy.Replace(ctx, c, "s", held.Holder, by); !errors.Is(err, policy.ErrNotGolock) {
		t.Errorf("cronlock lock: %v, want ErrNotGolock", err)
	}
	// A holder that let go between the held reply and the revoke is not revoked.
	g, _ := lockscript.Acquire(ctx, c, "g", params("gone"))
	_, err = lockscript.Acquire(ctx, c, "g", params("new"))
	errors.As(err, &held)
	if _, err := lockscript.Release(ctx, c, g, lockscript.NotTried); err != nil {
		t.Fatal(err)
	}
	if _, revoked, err := policy.Replace(ctx, c, "g", held.Holder, by); revoked || err != nil {
		t.Errorf("gone holder: revoked %v, %v", revoked, err)
	}
}

// TestLimitSlots: LIMIT=3 takes NAME and two slot keys; a fourth is held; release frees only
// its own slot; Held finds each holder in its slot; the lock delay keeps a key past its
// lease; a LIMIT=1 acquire meeting them is refused.
func TestLimitSlots(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	var locks []*lockscript.Lock
	for _, owner := range []string{"a", "b", "c"} {
		p := params(owner)
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
	p := params("d")
	p.Limit = 3
	_, err := lockscript.Acquire(ctx, c, "n", p)
	var held *lockscript.HeldError
	if !errors.As(err, &held) || held.Holder.Holders != 3 {
		t.Fatalf("fourth acquire: %v", err)
	}
	if _, err := lockscript.Acquire(ctx, c, "n", params("one")); !errors.Is(err, lockscript.ErrLimit) {
		t.Errorf("LIMIT=1 beside LIMIT=3 holders: %v", err)
	}
	for _, l := range locks {
		if a, err := policy.Held(ctx, c, "n", l.Owner, 9*time.Second); err != nil || !a.Held {
			t.Errorf("Held(%s) = %+v, %v", l.Owner, a, err)
		}
	}
	if _, err := lockscript.Release(ctx, c, locks[1], lockscript.Outcome{Ran: true}); err != nil {
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
	h, found, err := lockscript.Reset(ctx, c, "n")
	if err != nil || !found || h.Holders != 3 {
		t.Fatalf("Reset = %+v, %v, %v", h, found, err)
	}
	if n := c.Exists(ctx, keys[0], keys[1], keys[2], lockscript.LimitKey("n")).Val(); n != 0 {
		t.Errorf("%d keys left after a reset", n)
	}
}
