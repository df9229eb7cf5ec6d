package heartbeat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golock/golock/heartbeat"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The heartbeat's interface to Redis is its Renew func; these tests give it one of their
// own, except TestRealLock, which renews a real lock in a real redis-server.

// slack is how late a timer or a goroutine may run on a busy test machine. Every check that
// something happens "not before" a time is exact: timers never fire early.
const slack = 400 * time.Millisecond

// call is one Renew call as the renewer saw it.
type call struct {
	start, end time.Time // end is zero while the call runs
	deadline   time.Time // of its context; zero when none
	err        error
}

// renewer counts and times Renew calls; do says what each call does (n counts from 0).
type renewer struct {
	do func(ctx context.Context, n int) (heartbeat.Lease, error)

	mu        sync.Mutex
	calls     []call
	active    int
	maxActive int
}

func (r *renewer) Renew(ctx context.Context) (heartbeat.Lease, error) {
	r.mu.Lock()
	n := len(r.calls)
	dl, _ := ctx.Deadline()
	r.calls = append(r.calls, call{start: time.Now(), deadline: dl})
	r.active++
	r.maxActive = max(r.maxActive, r.active)
	r.mu.Unlock()

	l, err := r.do(ctx, n)

	r.mu.Lock()
	r.calls[n].end, r.calls[n].err = time.Now(), err
	r.active--
	r.mu.Unlock()
	return l, err
}

func (r *renewer) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func (r *renewer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// most is the most calls that ever ran at once.
func (r *renewer) most() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxActive
}

// logs is a buffer a slog.TextHandler writes to, safe to read while the heartbeat runs.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logs) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

// count is how many lines at level hold substr.
func (l *logs) count(level, substr string) int {
	n := 0
	for _, line := range l.lines() {
		if strings.Contains(line, "level="+level+" ") && strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// eventually waits up to d for cond.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func start(t *testing.T, cfg heartbeat.Config, first heartbeat.Lease, sent time.Time) *heartbeat.Heartbeat {
	t.Helper()
	hb := heartbeat.Start(t.Context(), cfg, first, sent)
	t.Cleanup(hb.Stop)
	return hb
}

// waitLoss returns the Loss and when it arrived, failing the test after d.
func waitLoss(t *testing.T, hb *heartbeat.Heartbeat, d time.Duration) (heartbeat.Loss, time.Time) {
	t.Helper()
	select {
	case loss := <-hb.Lost():
		return loss, time.Now()
	case <-time.After(d):
	}
	t.Fatalf("no Loss within %v", d)
	return heartbeat.Loss{}, time.Time{}
}

func noLoss(t *testing.T, hb *heartbeat.Heartbeat, d time.Duration) {
	t.Helper()
	select {
	case loss := <-hb.Lost():
		t.Fatalf("unexpected Loss %+v", loss)
	case <-time.After(d):
	}
}

var (
	longLease  = heartbeat.Lease{TTL: time.Hour, UntilDeadline: 24 * time.Hour}
	errRefused = errors.New("dial tcp: connection refused")
)

func succeed(context.Context, int) (heartbeat.Lease, error) { return longLease, nil }

func fail(context.Context, int) (heartbeat.Lease, error) { return heartbeat.Lease{}, errRefused }

// blockUntilDone is a Renew that hangs, as on a Redis that stopped answering, until its context ends.
func blockUntilDone(ctx context.Context, _ int) (heartbeat.Lease, error) {
	<-ctx.Done()
	return heartbeat.Lease{}, ctx.Err()
}

func TestRenewsEveryInterval(t *testing.T) {
	t.Parallel()
	const interval = 50 * time.Millisecond
	r := &renewer{do: succeed}
	begin := time.Now()
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * interval}, longLease, begin)
	time.Sleep(20*interval + interval/2)
	hb.Stop()

	calls := r.snapshot()
	if len(calls) < 8 { // 20 expected; a busy machine may drop a few ticks, not most
		t.Errorf("%d renewals in %v, want about 20", len(calls), 20*interval)
	}
	for k, c := range calls {
		// The k-th renewal cannot come before the (k+1)-th tick.
		if early := begin.Add(time.Duration(k+1) * interval).Sub(c.start); early > 0 {
			t.Errorf("renewal %d came %v before its tick", k, early)
		}
		// Timeout zero means Lease/6, half the interval: each call's context says so.
		if left := c.deadline.Sub(c.start); c.deadline.IsZero() || left > interval/2 || left <= 0 {
			t.Errorf("renewal %d: context deadline %v after the call, want about %v", k, left, interval/2)
		}
	}
	if n := r.most(); n != 1 {
		t.Errorf("%d renewals ran at once, want 1", n)
	}
	noLoss(t, hb, 0)
}

// TestLateReplyRenewsAtOnce: the lease counts from the acquire's send, so when its reply
// came later than Lease/3 the first renewal is due at once, not Lease/3 after the reply
// (which could fall past the kill point).
func TestLateReplyRenewsAtOnce(t *testing.T) {
	t.Parallel()
	const lease = 3 * time.Second
	r := &renewer{do: succeed}
	sent := time.Now().Add(-lease / 2) // the reply took half the lease
	start(t, heartbeat.Config{Renew: r.Renew, Lease: lease, KillGrace: lease / 4}, heartbeat.Lease{TTL: lease, UntilDeadline: time.Hour}, sent)
	if !eventually(lease/10, func() bool { return r.count() > 0 }) {
		t.Fatalf("no renewal within %v of a reply %v late; want one at once", lease/10, lease/2)
	}
}

// TestShortFirstLeaseRenewsSoon: a first lease shorter than Lease (a retried acquire that
// found its own lock has only what is left of the first try's) is renewed halfway to its
// kill point, not Lease/3 after the send, which would come after it.
func TestShortFirstLeaseRenewsSoon(t *testing.T) {
	t.Parallel()
	const lease, killGrace = 3 * time.Second, time.Second
	r := &renewer{do: succeed}
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: lease, KillGrace: killGrace},
		heartbeat.Lease{TTL: 1500 * time.Millisecond, UntilDeadline: time.Hour}, time.Now())
	if !eventually(400*time.Millisecond, func() bool { return r.count() > 0 }) {
		t.Fatal("no renewal within 0.4 s of a first lease of 1.5 s (kill point at 0.5 s)")
	}
	noLoss(t, hb, time.Second)
}

func TestTransientErrorsLogOnce(t *testing.T) {
	t.Parallel()
	// Two spells of failures, each of many ticks, each followed by a recovery.
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		if n < 10 || 15 <= n && n < 30 {
			return fail(ctx, n)
		}
		return succeed(ctx, n)
	}}
	var lg logs
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 10 * time.Millisecond, Log: lg.logger()},
		longLease, time.Now())
	if !eventually(10*time.Second, func() bool { return r.count() >= 35 }) {
		t.Fatalf("only %d renewals", r.count())
	}
	hb.Stop()

	if n := lg.count("WARN", "cannot renew"); n != 2 {
		t.Errorf("%d warnings, want one per spell of failures (2):\n%s", n, &lg)
	}
	if n := lg.count("INFO", "renewed again"); n != 2 {
		t.Errorf("%d info lines, want one per recovery (2):\n%s", n, &lg)
	}
	if n := lg.count("WARN", "connection refused"); n != 2 {
		t.Errorf("the warnings should say why renewing fails:\n%s", &lg)
	}
	if n := len(lg.lines()); n != 4 {
		t.Errorf("%d log lines, want 4:\n%s", n, &lg)
	}
	noLoss(t, hb, 0)
}

func TestLostReportsAtOnce(t *testing.T) {
	t.Parallel()
	errHolder := fmt.Errorf("%w: now held by host-b", heartbeat.ErrLost)
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		if n == 0 {
			return succeed(ctx, n)
		}
		return heartbeat.Lease{}, errHolder
	}}
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 30 * time.Millisecond, KillGrace: time.Second},
		longLease, time.Now())
	loss, got := waitLoss(t, hb, 5*time.Second)
	if !errors.Is(loss.Err, heartbeat.ErrLost) || loss.Err != errHolder {
		t.Errorf("Loss.Err = %v, want Renew's own error %v", loss.Err, errHolder)
	}
	calls := r.snapshot()
	if len(calls) != 2 || calls[1].end.IsZero() {
		t.Fatalf("%d renewals before the Loss, want 2", len(calls))
	}
	// The lease is gone now, not an hour from now.
	if loss.End.Before(calls[1].end) || loss.End.After(got) {
		t.Errorf("Loss.End %v, want between Renew's reply (%v) and the Loss (%v)",
			loss.End.Format(time.StampMicro), calls[1].end.Format(time.StampMicro), got.Format(time.StampMicro))
	}
	// The heartbeat stopped: no more renewals, no second Loss.
	noLoss(t, hb, 300*time.Millisecond)
	if n := r.count(); n != 2 {
		t.Errorf("%d renewals, want none after the loss", n)
	}
}

// TestLostSaysWhatWasLeft: a renewal that finds another owner while the lease still runs
// by our clock reports how much was left (Redis dropped the lock early); one that finds it
// after the lease's end, under KeepGoing, reports nothing left (the lease ran out).
func TestLostSaysWhatWasLeft(t *testing.T) {
	t.Parallel()
	errHolder := fmt.Errorf("%w: now held by host-b", heartbeat.ErrLost)
	t.Run("early", func(t *testing.T) {
		t.Parallel()
		r := &renewer{do: func(context.Context, int) (heartbeat.Lease, error) { return heartbeat.Lease{}, errHolder }}
		const ttl = 10 * time.Second
		sent := time.Now()
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 300 * time.Millisecond, KillGrace: 50 * time.Millisecond},
			heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, sent)
		loss, got := waitLoss(t, hb, 5*time.Second)
		if want := sent.Add(ttl).Sub(got); loss.Left < want || loss.Left > ttl {
			t.Errorf("Loss.Left = %v, want what was left of the %v lease when Redis replied (at least %v)", loss.Left, ttl, want)
		}
	})
	t.Run("after the end", func(t *testing.T) {
		t.Parallel()
		const ttl = 200 * time.Millisecond
		sent := time.Now()
		r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
			if time.Since(sent) < ttl+100*time.Millisecond {
				return fail(ctx, n)
			}
			return heartbeat.Lease{}, errHolder
		}}
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 50 * time.Millisecond, Retry: 20 * time.Millisecond,
			KillGrace: 50 * time.Millisecond, KeepGoing: true}, heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, sent)
		for {
			loss, _ := waitLoss(t, hb, 5*time.Second)
			if !errors.Is(loss.Err, heartbeat.ErrLost) {
				continue // the loss for unconfirmed renewals, before
			}
			if loss.Left != 0 {
				t.Errorf("Loss.Left = %v for an owner found after the lease ended, want 0", loss.Left)
			}
			return
		}
	})
}

func TestUnconfirmedReportsKillGraceBeforeEnd(t *testing.T) {
	t.Parallel()
	const (
		ttl       = 1500 * time.Millisecond
		killGrace = 700 * time.Millisecond // > slack, so a Loss at the lease end fails
	)
	t.Run("first lease", func(t *testing.T) {
		t.Parallel()
		r := &renewer{do: fail}
		var lg logs
		sent := time.Now()
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 100 * time.Millisecond, KillGrace: killGrace,
			Log: lg.logger()}, heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, sent)
		loss, got := waitLoss(t, hb, 5*time.Second)
		if due := sent.Add(ttl - killGrace); got.Before(due) || got.After(due.Add(slack)) {
			t.Errorf("Loss at +%v, want at +%v (TTL − KillGrace)", got.Sub(sent), ttl-killGrace)
		}
		if !loss.End.Equal(sent.Add(ttl)) {
			t.Errorf("Loss.End +%v, want +%v (sent + TTL)", loss.End.Sub(sent), ttl)
		}
		if !errors.Is(loss.Err, errRefused) {
			t.Errorf("Loss.Err = %v, want the last failure", loss.Err)
		}
		if r.count() < 2 {
			t.Errorf("%d renewals before the Loss: failures must be retried every tick", r.count())
		}
		if n := lg.count("WARN", "cannot renew"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, &lg)
		}
	})
	t.Run("after renewals", func(t *testing.T) {
		t.Parallel()
		// Three renewals succeed, each setting the TTL anew from when it was sent; then none.
		r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
			if n < 3 {
				return heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, nil
			}
			return fail(ctx, n)
		}}
		sent := time.Now()
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 100 * time.Millisecond, KillGrace: killGrace},
			heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, sent)
		loss, got := waitLoss(t, hb, 5*time.Second)
		calls := r.snapshot()
		if len(calls) < 4 {
			t.Fatalf("Loss after %d renewals, before the third one failed", len(calls))
		}
		// The heartbeat times a renewal from just before it calls Renew.
		end := calls[2].start.Add(ttl)
		if loss.End.After(end) || loss.End.Before(end.Add(-slack/4)) {
			t.Errorf("Loss.End %v after the third renewal began, want %v", loss.End.Sub(calls[2].start), ttl)
		}
		if due := loss.End.Add(-killGrace); got.Before(due) || got.After(due.Add(slack)) {
			t.Errorf("Loss %v before the lease ends, want KillGrace (%v)", loss.End.Sub(got), killGrace)
		}
	})
}

func TestBlockedRenewBoundedByTimeout(t *testing.T) {
	t.Parallel()
	const (
		ttl       = time.Second
		killGrace = 500 * time.Millisecond
	)
	t.Run("timeout shorter than interval", func(t *testing.T) {
		t.Parallel()
		const timeout = 50 * time.Millisecond
		r := &renewer{do: blockUntilDone}
		sent := time.Now()
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 100 * time.Millisecond, Timeout: timeout,
			KillGrace: killGrace}, heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, sent)
		loss, got := waitLoss(t, hb, 5*time.Second)
		if due := sent.Add(ttl - killGrace); got.Before(due) || got.After(due.Add(slack)) {
			t.Errorf("Loss at +%v, want at +%v", got.Sub(sent), ttl-killGrace)
		}
		if !errors.Is(loss.Err, context.DeadlineExceeded) {
			t.Errorf("Loss.Err = %v, want the timed-out renewal's error", loss.Err)
		}
		calls := r.snapshot()
		// A hung renewal gives up after Timeout, and the next tick tries again.
		if len(calls) < 3 {
			t.Errorf("%d renewals, want one per tick, each given up after %v", len(calls), timeout)
		}
		for k, c := range calls {
			if c.end.IsZero() || errors.Is(c.err, context.Canceled) {
				continue // still running, or cut by the heartbeat's end at the Loss
			}
			if took := c.end.Sub(c.start); took > timeout+slack || !errors.Is(c.err, context.DeadlineExceeded) {
				t.Errorf("renewal %d took %v (%v), want it cut at %v", k, took, c.err, timeout)
			}
			// Timeout, or less when the kill point comes first.
			if left := c.deadline.Sub(c.start); c.deadline.IsZero() || left > timeout || left <= 0 {
				t.Errorf("renewal %d: context deadline %v after the call, want at most %v", k, left, timeout)
			}
		}
	})
	t.Run("timeout longer than the lease", func(t *testing.T) {
		t.Parallel()
		// The renewal still hangs when the lease must be given up: the Loss does not wait for it.
		r := &renewer{do: blockUntilDone}
		sent := time.Now()
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 50 * time.Millisecond, Timeout: time.Minute,
			KillGrace: killGrace}, heartbeat.Lease{TTL: ttl, UntilDeadline: time.Hour}, sent)
		loss, got := waitLoss(t, hb, 5*time.Second)
		if due := sent.Add(ttl - killGrace); got.Before(due) || got.After(due.Add(slack)) {
			t.Errorf("Loss at +%v, want at +%v", got.Sub(sent), ttl-killGrace)
		}
		if loss.Err == nil || !loss.End.Equal(sent.Add(ttl)) {
			t.Errorf("Loss %+v, want an error and End = sent + TTL", loss)
		}
		if n := r.count(); n != 1 {
			t.Errorf("%d renewals, want 1: no second one while the first hangs", n)
		}
		// The heartbeat ended with the Loss and gave up the hung renewal.
		if !eventually(time.Second, func() bool { return !r.snapshot()[0].end.IsZero() }) {
			t.Error("the hung renewal was not cancelled after the Loss")
		}
	})
}

func TestLapsedStopsWithoutLoss(t *testing.T) {
	t.Parallel()
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		if n == 0 {
			return succeed(ctx, n)
		}
		return heartbeat.Lease{}, fmt.Errorf("extend: %w", heartbeat.ErrLapsed)
	}}
	var lg logs
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 20 * time.Millisecond, KillGrace: 10 * time.Millisecond,
		Log: lg.logger()}, longLease, time.Now())
	if !eventually(5*time.Second, func() bool { return r.count() >= 2 }) {
		t.Fatal("no second renewal")
	}
	noLoss(t, hb, 300*time.Millisecond)
	if n := r.count(); n != 2 {
		t.Errorf("%d renewals, want none after the lapse", n)
	}
	if n := lg.count("WARN", "deadline"); n != 1 {
		t.Errorf("%d warnings of the deadline, want 1:\n%s", n, &lg)
	}
	stopped := make(chan struct{})
	go func() { hb.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		t.Fatal("Stop hangs after the lapse")
	}
}

// TestDeadlineEndsLeaseWithoutLoss: a lease that ends at the deadline (TTL == UntilDeadline)
// is let go when it ends, whether renewals fail or succeed; nothing is reported lost.
func TestDeadlineEndsLeaseWithoutLoss(t *testing.T) {
	t.Parallel()
	const (
		until     = 800 * time.Millisecond
		killGrace = 300 * time.Millisecond
	)
	for _, tc := range []struct {
		what string
		do   func(sent time.Time) func(context.Context, int) (heartbeat.Lease, error)
	}{
		{"renewals fail", func(time.Time) func(context.Context, int) (heartbeat.Lease, error) { return fail }},
		{"renewals succeed", func(sent time.Time) func(context.Context, int) (heartbeat.Lease, error) {
			return func(context.Context, int) (heartbeat.Lease, error) {
				left := time.Until(sent.Add(until)).Round(time.Millisecond)
				return heartbeat.Lease{TTL: left, UntilDeadline: left}, nil
			}
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			t.Parallel()
			sent := time.Now()
			r := &renewer{do: tc.do(sent)}
			var lg logs
			hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 50 * time.Millisecond, KillGrace: killGrace,
				Log: lg.logger()}, heartbeat.Lease{TTL: until, UntilDeadline: until}, sent)
			noLoss(t, hb, until+slack)
			n := r.count()
			if n < 3 {
				t.Errorf("%d renewals before the deadline, want about %d", n, until/(50*time.Millisecond))
			}
			noLoss(t, hb, 300*time.Millisecond)
			if r.count() != n {
				t.Errorf("renewals went on after the deadline: %d, then %d", n, r.count())
			}
			if n := lg.count("WARN", "deadline"); n != 1 {
				t.Errorf("%d warnings of the deadline, want 1:\n%s", n, &lg)
			}
		})
	}
}

// heartbeatGoroutines counts the goroutines running this package's code, or started by it.
func heartbeatGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "golock/heartbeat.") { // the package, not heartbeat_test
			n++
		}
	}
	return n
}

// noGoroutinesLeft fails unless the heartbeat's goroutines are gone. One may take a moment to
// exit after it has done its last work, so it gets that moment.
func noGoroutinesLeft(t *testing.T, after string) {
	t.Helper()
	if !eventually(time.Second, func() bool { return heartbeatGoroutines() == 0 }) {
		t.Errorf("%d heartbeat goroutines left after %s", heartbeatGoroutines(), after)
	}
}

// TestStopWaitsForRenewal is not parallel: it counts goroutines.
func TestStopWaitsForRenewal(t *testing.T) {
	var returned sync.WaitGroup
	returned.Add(1)
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		if n > 0 {
			return succeed(ctx, n)
		}
		defer returned.Done()
		<-ctx.Done()
		// A client that notices the cancel a moment late: Stop must still wait for it, or its
		// extend could reach Redis after the release.
		time.Sleep(50 * time.Millisecond)
		return heartbeat.Lease{}, ctx.Err()
	}}
	hb := heartbeat.Start(t.Context(), heartbeat.Config{Renew: r.Renew, Lease: 3 * 10 * time.Millisecond,
		Timeout: time.Minute}, longLease, time.Now())
	if !eventually(5*time.Second, func() bool { return r.count() == 1 }) {
		t.Fatal("no renewal")
	}
	begin := time.Now()
	hb.Stop()
	if took := time.Since(begin); took > time.Second {
		t.Errorf("Stop took %v with a renewal in flight", took)
	}
	if c := r.snapshot()[0]; c.end.IsZero() {
		t.Error("Stop returned while a renewal was still in flight")
	} else if !errors.Is(c.err, context.Canceled) {
		t.Errorf("the renewal in flight ended with %v, want it cancelled by Stop", c.err)
	}
	returned.Wait()
	hb.Stop() // a second Stop is harmless
	if n := r.count(); n != 1 {
		t.Errorf("%d renewals, want none after Stop", n)
	}
	noGoroutinesLeft(t, "Stop")

	// Stop before the first tick, and Stop after a Loss, return at once and leave nothing.
	hb = heartbeat.Start(t.Context(), heartbeat.Config{Renew: r.Renew, Lease: 3 * time.Hour}, longLease, time.Now())
	hb.Stop()
	hung := &renewer{do: blockUntilDone}
	hb = heartbeat.Start(t.Context(), heartbeat.Config{Renew: hung.Renew, Lease: 3 * 10 * time.Millisecond,
		Timeout: time.Minute}, heartbeat.Lease{TTL: 100 * time.Millisecond, UntilDeadline: time.Hour}, time.Now())
	waitLoss(t, hb, 5*time.Second)
	hb.Stop()
	noGoroutinesLeft(t, "Stop")

	// Cancelling Start's context ends the heartbeat too.
	ctx, cancel := context.WithCancel(t.Context())
	hb = heartbeat.Start(ctx, heartbeat.Config{Renew: hung.Renew, Lease: 3 * 10 * time.Millisecond}, longLease, time.Now())
	time.Sleep(30 * time.Millisecond)
	cancel()
	noGoroutinesLeft(t, "its context ended")
	hb.Stop()
}

func TestRealLock(t *testing.T) {
	t.Parallel()
	const lease = 300 * time.Millisecond
	c := redistest.Start(t).Client()
	ctx := t.Context()
	name := "cronlock.heartbeat"
	sent := time.Now()
	l, err := lockscript.Acquire(ctx, c, name, lockscript.Options{Owner: "a", Host: "host-a", PID: 1,
		Command: "sleep 60", Lifetime: time.Minute, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	var lg logs
	hb := heartbeat.Keep(ctx, heartbeat.Config{Lease: lease, KillGrace: lease / 3, Log: lg.logger()}, l, sent)
	t.Cleanup(hb.Stop)

	owner := func() string { return c.HGet(ctx, name, "owner").Val() }
	// Five leases long, the key never goes missing.
	for end := time.Now().Add(5 * lease); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got := owner(); got != "a" {
			t.Fatalf("lock owner %q %v after acquiring, want a: the heartbeat let it lapse", got, time.Since(sent))
		}
		select {
		case loss := <-hb.Lost():
			t.Fatalf("Loss %+v of a lock that is renewed", loss)
		default:
		}
	}

	// Redis loses its data: the next renewal writes the lock again.
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if !eventually(2*time.Second, func() bool { return owner() == "a" }) {
		t.Fatal("lock not written again after FLUSHALL")
	}
	if !eventually(time.Second, func() bool { return lg.count("WARN", "vanished") == 1 }) {
		t.Errorf("no warning that the lock vanished:\n%s", &lg)
	}

	// The key goes (an eviction, say) and another owner takes it (again if a renewal slips
	// in between).
	for i := 0; ; i++ {
		if err := c.Del(ctx, name).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := lockscript.Acquire(ctx, c, name, lockscript.Options{Owner: "b", Host: "host-b", PID: 2,
			Command: "sleep 60", Lifetime: time.Minute, Lease: time.Minute})
		if err == nil {
			break
		}
		if !errors.Is(err, lockscript.ErrHeld) || i == 20 {
			t.Fatalf("taking the lock over: %v", err)
		}
	}
	taken := time.Now()
	loss, got := waitLoss(t, hb, 5*time.Second)
	if got.Sub(taken) > lease/3+slack {
		t.Errorf("Loss %v after the take-over, want within a renewal interval (%v)", got.Sub(taken), lease/3)
	}
	var held *lockscript.HeldError
	if !errors.Is(loss.Err, lockscript.ErrLost) || !errors.Is(loss.Err, heartbeat.ErrLost) ||
		!errors.As(loss.Err, &held) || held.Holder.Owner != "b" {
		t.Errorf("Loss.Err = %v, want lockscript.ErrLost naming owner b", loss.Err)
	}
	if loss.End.Before(taken) || loss.End.After(got) {
		t.Errorf("Loss.End %v after the take-over, want now", loss.End.Sub(taken))
	}
	hb.Stop()
	if got := owner(); got != "b" {
		t.Errorf("owner %q after the Loss, want b left alone", got)
	}
}

// TestKeepGoingAfterLoss: with KeepGoing (CRONLOCK_ON_LOST=keep) a Loss for unconfirmed
// renewals does not end the renewals: once Redis answers again the lease is kept.
func TestKeepGoingAfterLoss(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		if !healed.Load() {
			return heartbeat.Lease{}, errRefused
		}
		return heartbeat.Lease{TTL: 300 * time.Millisecond, UntilDeadline: time.Hour}, nil
	}}
	for _, keepGoing := range []bool{false, true} {
		healed.Store(false)
		before := r.count()
		hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 50 * time.Millisecond,
			KillGrace: 100 * time.Millisecond, KeepGoing: keepGoing},
			heartbeat.Lease{TTL: 300 * time.Millisecond, UntilDeadline: time.Hour}, time.Now())
		waitLoss(t, hb, 5*time.Second)
		healed.Store(true)
		n := r.count()
		time.Sleep(300 * time.Millisecond) // six intervals
		if renewed := r.count() - n; keepGoing && renewed < 3 || !keepGoing && renewed != 0 {
			t.Errorf("KeepGoing=%v: %d renewals after the Loss (of %d in all)", keepGoing, renewed, r.count()-before)
		}
		hb.Stop()
	}
}

// TestRetriesPromptlyAfterFailure: a failed renewal is tried again after Retry, not at the
// next Interval, and once one succeeds the cadence is Interval again.
func TestRetriesPromptlyAfterFailure(t *testing.T) {
	t.Parallel()
	const interval, retry = 400 * time.Millisecond, 50 * time.Millisecond
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		if n < 3 {
			return fail(ctx, n)
		}
		return succeed(ctx, n)
	}}
	var lg logs
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * interval, Retry: retry, Log: lg.logger()},
		longLease, time.Now())
	if !eventually(5*time.Second, func() bool { return r.count() >= 5 }) {
		t.Fatalf("only %d renewals", r.count())
	}
	hb.Stop()
	calls := r.snapshot()
	// The heartbeat counts Retry and Interval from its send, which it stamps a moment
	// before the renewer stamps the call's start: a gap may fall short by that moment.
	const stamps = time.Millisecond
	for k := 1; k <= 3; k++ { // after each of the three failures: Retry later
		gap := calls[k].start.Sub(calls[k-1].start)
		if gap < retry-stamps || gap > retry+slack {
			t.Errorf("renewal %d came %v after a failed one, want %v", k, gap, retry)
		}
	}
	if gap := calls[4].start.Sub(calls[3].start); gap < interval-stamps {
		t.Errorf("after a success the next renewal came %v later, want the interval %v", gap, interval)
	}
	if n := lg.count("INFO", "renewed again after 3 failed attempts"); n != 1 {
		t.Errorf("want one recovery line counting 3 failed attempts:\n%s", &lg)
	}
	noLoss(t, hb, 0)
}

// TestLossesNeverBlock: under KeepGoing, losses for unconfirmed renewals, a recovery, another
// loss and then a renewal that finds another owner, none of them received: the heartbeat
// never blocks on reporting, Stop returns at once, and the latest loss is the one waiting.
func TestLossesNeverBlock(t *testing.T) {
	t.Parallel()
	lease := heartbeat.Lease{TTL: 300 * time.Millisecond, UntilDeadline: time.Hour}
	r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
		switch {
		case n < 6, 7 <= n && n < 13: // two spells of failures, long enough for a loss each
			return fail(ctx, n)
		case n == 6:
			return lease, nil
		}
		return heartbeat.Lease{}, fmt.Errorf("%w: taken by someone else", heartbeat.ErrLost)
	}}
	hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 100 * time.Millisecond, Retry: 50 * time.Millisecond,
		KillGrace: 100 * time.Millisecond, KeepGoing: true}, lease, time.Now())
	if !eventually(10*time.Second, func() bool { return r.count() >= 14 }) {
		t.Fatalf("only %d renewals: the heartbeat is stuck", r.count())
	}
	stopped := make(chan struct{})
	go func() { hb.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop did not return: the heartbeat blocked reporting a loss")
	}
	loss, _ := waitLoss(t, hb, time.Millisecond)
	if !errors.Is(loss.Err, heartbeat.ErrLost) {
		t.Errorf("the waiting loss is %v, want the latest, ErrLost", loss.Err)
	}
}

// TestClockStepIsALoss: a renewal whose Redis clock moved 5 s more than the monotonic clock
// since the last one is reported as a loss (ErrClockStep); one that moved back is a warning.
func TestClockStepIsALoss(t *testing.T) {
	t.Parallel()
	for _, step := range []time.Duration{5 * time.Second, -5 * time.Second} {
		t.Run(step.String(), func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			r := &renewer{do: func(ctx context.Context, n int) (heartbeat.Lease, error) {
				l := longLease
				l.Clock = time.Now() // Redis's clock agrees with ours...
				if n >= 2 {
					l.Clock = l.Clock.Add(step) // ...until it steps
				}
				return l, nil
			}}
			var lg logs
			first := longLease
			first.Clock = begin
			hb := start(t, heartbeat.Config{Renew: r.Renew, Lease: 3 * 30 * time.Millisecond, KillGrace: time.Second,
				Log: lg.logger()}, first, begin)
			if step < 0 {
				noLoss(t, hb, 500*time.Millisecond)
				if lg.count("WARN", "jumped back") != 1 {
					t.Errorf("want one warning that Redis's clock jumped back:\n%s", &lg)
				}
				return
			}
			loss, _ := waitLoss(t, hb, 5*time.Second)
			if !errors.Is(loss.Err, heartbeat.ErrClockStep) {
				t.Errorf("loss %v, want ErrClockStep", loss.Err)
			}
			if r.count() != 3 {
				t.Errorf("%d renewals, want the loss at the third, the first after the step", r.count())
			}
		})
	}
}
