package lockscript_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// TestRetriedAcquireTellsRedisNow: an acquire whose earlier try took the lock (only its
// reply was lost) gets the first try's acquisition time, and Redis's clock as it answered
// now: a heartbeat that took the acquisition time for "now" would see Redis's clock jump.
func TestRetriedAcquireTellsRedisNow(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	o := options("a", 0, time.Minute, 10*time.Second)
	first := acquire(t, c, "cronlock.retried", o)
	if !first.Clock.Equal(first.Acquired) {
		t.Errorf("a fresh acquire: Clock %v, Acquired %v; want the same", first.Clock, first.Acquired)
	}
	time.Sleep(300 * time.Millisecond)
	again := acquire(t, c, "cronlock.retried", o)
	if !again.Acquired.Equal(first.Acquired) || again.Fence != first.Fence {
		t.Errorf("the retry: acquired %v fence %d, want the first try's %v and %d", again.Acquired, again.Fence, first.Acquired, first.Fence)
	}
	if d := again.Clock.Sub(first.Acquired); d < 250*time.Millisecond {
		t.Errorf("the retry's Clock is %v after the acquisition, want Redis's clock now (300 ms later)", d)
	}
}

// TestIntervalCountsAnUnconfirmedRun: under INTERVAL a run whose release never reached
// Redis (Redis was down as the job ended, or its host died) counts as a success: the next
// run within the interval is refused, never run twice. A run whose release said how it
// ended counts only when it succeeded.
func TestIntervalCountsAnUnconfirmedRun(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	o := func(owner string) lockscript.Options {
		p := options(owner, 0, time.Minute, 10*time.Second)
		p.Interval = time.Hour
		return p
	}
	// A run that failed, and said so: the next one may run at once.
	failed := acquire(t, c, "cronlock.interval", o("a"))
	if _, err := failed.Release(ctx, lockscript.Outcome{Ran: true, Code: 3}); err != nil {
		t.Fatal(err)
	}
	// A run whose release never came: its lock lapses (deleted here), its end unknown.
	unconfirmed := acquire(t, c, "cronlock.interval", o("b"))
	if err := c.Del(ctx, unconfirmed.Name).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := lockscript.Acquire(ctx, c, "cronlock.interval", o("c"))
	var soon *lockscript.TooSoonError
	if !errors.As(err, &soon) || !soon.LastOK.Equal(unconfirmed.Acquired) {
		t.Fatalf("acquire after a run whose end Redis never heard: %v, want too soon, counted from %v", err, unconfirmed.Acquired)
	}
	// Its late release says it failed: the interval no longer counts from it.
	if _, err := unconfirmed.Release(ctx, lockscript.Outcome{Ran: true, Code: 1}); !errors.Is(err, lockscript.ErrGone) {
		t.Fatalf("late release: %v, want ErrGone", err)
	}
	ok := acquire(t, c, "cronlock.interval", o("c"))
	if _, err := ok.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := lockscript.Acquire(ctx, c, "cronlock.interval", o("d")); !errors.As(err, &soon) {
		t.Errorf("acquire after a success: %v, want too soon", err)
	}
}

// TestRecordSaysHowTheRunEnded: the last-run record says how each run ended; a late
// release of an older run never overwrites a newer run's record; a release that finds the
// lock gone records the run lost.
func TestRecordSaysHowTheRunEnded(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.record"
	last := func() *lockscript.LastRun {
		t.Helper()
		st, err := lockscript.Inspect(ctx, c, name)
		if err != nil || st.Last == nil {
			t.Fatalf("Inspect: %+v, %v", st, err)
		}
		return st.Last
	}
	for _, tc := range []struct {
		o    lockscript.Outcome
		want lockscript.Ending
	}{
		{lockscript.Outcome{Ran: true}, lockscript.Succeeded},
		{lockscript.Outcome{Ran: true, Code: 2}, lockscript.Failed},
		{lockscript.Outcome{Ran: false, Code: 127}, lockscript.Failed},
		{lockscript.Outcome{Ran: true, Code: 137, Ended: lockscript.TimedOut}, lockscript.TimedOut},
		{lockscript.Outcome{Ran: true, Code: 143, Ended: lockscript.Replaced}, lockscript.Replaced},
	} {
		l := acquire(t, c, name, options("a", 0, time.Minute, time.Second))
		if _, err := l.Release(ctx, tc.o); err != nil {
			t.Fatal(err)
		}
		if got := last(); got.Ended != tc.want || got.Code != tc.o.Code || got.Fence != l.Fence {
			t.Errorf("release of %+v recorded %+v, want ended %s", tc.o, got, tc.want)
		}
	}

	old := acquire(t, c, name, options("old", 0, time.Minute, time.Second))
	if err := c.Del(ctx, name).Err(); err != nil { // its lease ran out while Redis was away
		t.Fatal(err)
	}
	newer := acquire(t, c, name, options("new", 0, time.Minute, time.Second))
	if _, err := newer.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Release(ctx, lockscript.Outcome{Ran: true, Code: 137}); !errors.Is(err, lockscript.ErrGone) {
		t.Fatalf("the old run's late release: %v, want ErrGone", err)
	}
	if got := last(); got.Fence != newer.Fence || got.Ended != lockscript.Succeeded {
		t.Errorf("after a late release of an older run the record is %+v, want the newer run's (fence %d, ok)", got, newer.Fence)
	}

	gone := acquire(t, c, name, options("gone", 0, time.Minute, time.Second))
	if err := c.Del(ctx, name).Err(); err != nil { // Redis restarted empty, say
		t.Fatal(err)
	}
	if _, err := gone.Release(ctx, lockscript.Outcome{Ran: true}); !errors.Is(err, lockscript.ErrGone) {
		t.Fatalf("release of a vanished lock: %v, want ErrGone", err)
	}
	if got := last(); got.Fence != gone.Fence || got.Ended != lockscript.Lost || got.Code != 0 {
		t.Errorf("a run whose lock vanished recorded %+v, want it lost", got)
	}
}

// TestStoppedRunIsNoSuccess: a job that exits 0 on the SIGTERM of a reset or a replacing run
// did not finish its work: recorded as stopped, it is no success, and under INTERVAL the next
// run may take the lock at once.
func TestStoppedRunIsNoSuccess(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t).Client()
	ctx := t.Context()
	o := options("a", 0, time.Minute, 10*time.Second)
	o.Interval = time.Hour
	for _, ended := range []lockscript.Ending{lockscript.Replaced, lockscript.Revoked} {
		l := acquire(t, c, "cronlock.stopped", o)
		if _, err := l.Release(ctx, lockscript.Outcome{Ran: true, Code: 0, Ended: ended}); err != nil {
			t.Fatal(err)
		}
		st, err := lockscript.Inspect(ctx, c, "cronlock.stopped")
		if err != nil || st.Last == nil || st.Last.Ended != ended || !st.Last.Success.IsZero() {
			t.Errorf("a run %s that exited 0: %+v, %v; want it recorded %s and no success", ended, st.Last, err, ended)
		}
	}
	// No success recorded: the interval does not hold the next run back.
	acquire(t, c, "cronlock.stopped", o)
}
