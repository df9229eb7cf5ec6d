package lockscript_test

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

func TestAcquireFree(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	for _, tc := range []struct {
		what                   string
		grace, lifetime, lease time.Duration
		ttl                    time.Duration // min(lifetime, max(lease, grace))
	}{
		{"grace-bound", 3 * time.Second, 10 * time.Second, time.Second, 3 * time.Second},
		{"lease-bound", 100 * time.Millisecond, 10 * time.Second, 2 * time.Second, 2 * time.Second},
		{"release-bound", time.Second, 2 * time.Second, 5 * time.Second, 2 * time.Second},
		{"no grace", 0, 10 * time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond},
	} {
		t.Run(tc.what, func(t *testing.T) {
			name := "cronlock.free-" + tc.what
			p := options("owner-"+tc.what, tc.grace, tc.lifetime, tc.lease)
			before := redisMS(t, c)
			l := acquire(t, c, name, p)
			after := redisMS(t, c)

			if l.Name != name || l.Options != p {
				t.Errorf("Lock names %q with %+v, want %q with %+v", l.Name, l.Options, name, p)
			}
			if ms := l.Acquired.UnixMilli(); ms < before || ms > after {
				t.Errorf("Acquired %d (unix ms) outside Redis time %d..%d", ms, before, after)
			}
			if !l.GraceEnd.Equal(l.Acquired.Add(tc.grace)) || !l.Deadline.Equal(l.Acquired.Add(tc.lifetime)) {
				t.Errorf("GraceEnd %d, Deadline %d (unix ms): want acquired %d + %v, + %v",
					l.GraceEnd.UnixMilli(), l.Deadline.UnixMilli(), l.Acquired.UnixMilli(), tc.grace, tc.lifetime)
			}
			if l.TTL != tc.ttl {
				t.Errorf("TTL %v, want %v", l.TTL, tc.ttl)
			}
			if d := pttl(t, c, name); d > tc.ttl || d < tc.ttl-time.Second {
				t.Errorf("PTTL %v, want about %v", d, tc.ttl)
			}
			want := map[string]string{
				"owner": p.Owner, "fence": strconv.FormatInt(l.Fence, 10), "host": p.Host, "pid": "4242",
				"cmd": "echo hello", "acquired_ms": strconv.FormatInt(l.Acquired.UnixMilli(), 10),
				"grace_ms": strconv.FormatInt(l.GraceEnd.UnixMilli(), 10), "deadline_ms": strconv.FormatInt(l.Deadline.UnixMilli(), 10),
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
	first := acquire(t, c, name, options("a", 0, time.Minute, 10*time.Second))
	time.Sleep(120 * time.Millisecond)
	before := snap(t, c, name)
	fence := fenceCounter(t, c, name)

	_, err := lockscript.Acquire(t.Context(), c, name, options("b", 0, time.Minute, 10*time.Second))
	held := heldError(t, err, lockscript.ErrHeld)
	h := held.Holder
	if held.Name != name || h.Kind != lockscript.Golock || h.Owner != "a" || h.Host != "host-a" || h.PID != 4242 ||
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
	graced := acquire(t, c, "cronlock.graced", options("a", 5*time.Second, time.Minute, time.Second))
	if _, err := graced.Release(t.Context(), lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	_, err = lockscript.Acquire(t.Context(), c, "cronlock.graced", options("b", 0, time.Minute, time.Second))
	if h := heldError(t, err, lockscript.ErrHeld).Holder; !h.Released || h.Owner != "a" {
		t.Errorf("holder %+v, want owner a, released", h)
	}
}

func TestAcquireSameOwnerAgain(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	name := "cronlock.retry"
	p := options("a", 2*time.Second, time.Minute, time.Second)
	first := acquire(t, c, name, p)
	rec := record(t, c, name)
	fence := fenceCounter(t, c, name)
	time.Sleep(20 * time.Millisecond)

	// The reply to the first acquire was lost and the client tries again: the lock is ours.
	again := acquire(t, c, name, p)
	if again.Fence != first.Fence || !again.Acquired.Equal(first.Acquired) || !again.GraceEnd.Equal(first.GraceEnd) ||
		!again.Deadline.Equal(first.Deadline) {
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
		_, err := lockscript.Acquire(ctx, c, name, options("a", 0, time.Minute, time.Second))
		h := heldError(t, err, lockscript.ErrHeld).Holder
		if h.Kind != lockscript.Cronlock {
			t.Errorf("%s: holder kind %v, want cronlock", tc.what, h.Kind)
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
	_, err := lockscript.Acquire(ctx, c, name, options("a", 0, time.Minute, time.Second))
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
	l := acquire(t, c, name, options("a", 0, time.Minute, 2*time.Second))
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
			_, err := lockscript.Acquire(ctx, c, name, options(owner, 0, time.Minute, 5*time.Second))
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

func TestAcquireForeignValue(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	for i, fv := range foreignValues {
		name := fmt.Sprintf("cronlock.foreign-%d", i)
		if err := fv.seed(t.Context(), c, name); err != nil {
			t.Fatal(err)
		}
		before := snap(t, c, name)
		_, err := lockscript.Acquire(t.Context(), c, name, options("a", 0, time.Minute, time.Second))
		if h := heldError(t, err, lockscript.ErrHeld).Holder; h.Kind != fv.kind || h.Type != fv.typ || h.Owner != "" {
			t.Errorf("%s: holder %+v, want kind %v, type %q", name, h, fv.kind, fv.typ)
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
		p := options("a", 0, time.Minute, time.Second)
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
