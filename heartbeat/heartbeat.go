// Package heartbeat keeps one lease alive, and is the one place that says when: when a
// renewal is due, how long a try may take, when a failed one is tried again, when a job
// that can no longer count on its lease must get SIGTERM and SIGKILL, and whether Redis's
// clock stepped. Every time is measured on this process's monotonic clock from when a
// request that Redis confirmed was sent: Redis may have acted on it at any moment between
// its send and its reply, so the send is the safe end to count from.
//
// The timeline of one lease (LEASE is Config.Lease, KG Config.KillGrace):
//
//	sent ──► reply          renewal due          kill point        lease ends
//	  │         │                │                    │                 │
//	  0       (rtt)          LEASE/3             TTL − KG             TTL
//	                  (or (TTL − KG)/2 when sooner: TTL is the lease Redis confirmed,
//	                   LEASE but for a retried acquire that found its own lock)
//	  └─ the lease counts from here: a reply later than LEASE/3 renews at once
//	                             └─ each try bounded by min(Config.Timeout, time to the
//	                                kill point); a failed try is retried every Config.Retry
//	                                                  └─ Loss: SIGTERM now, SIGKILL at
//	                                                     Loss.Kill, a moment before LEASE
//
// Each confirmed renewal moves the whole timeline to start at that renewal's send. A lock
// revoked by a reset or a replacing run (ErrRevoked) stays ours in Redis until we let go, so
// its job gets KG to end on SIGTERM. The deadline (Lease.UntilDeadline) ends the lease whatever is
// renewed: then nothing is reported, the lease just lapses.
//
// Package heartbeat knows nothing of processes. Start renews through any function; Keep
// renews a lockscript.Lock.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrLost is returned by Renew when another owner holds the lease: renewing again is
	// pointless.
	ErrLost = errors.New("heartbeat: lease lost")
	// ErrRevoked is ErrLost for a lease revoked by a reset or by a run that waits to take
	// over: the lease stays ours until we let go, so the job gets KillGrace to end. It wraps
	// ErrLost.
	ErrRevoked = fmt.Errorf("%w (revoked)", ErrLost)
	// ErrLapsed is returned by Renew when the lease has reached its deadline: it is left
	// to expire and the heartbeat stops without reporting a loss.
	ErrLapsed = errors.New("heartbeat: lease past its deadline")
)

// Lease is one confirmed renewal.
type Lease struct {
	TTL           time.Duration // the lease Redis now holds
	UntilDeadline time.Duration // time left before the lease can no longer be renewed
	Reestablished bool          // the lease had vanished and was written again
	// Clock is Redis's clock when it renewed the lease; zero when unknown. Successive
	// renewals compare it with the monotonic clock to catch a step of Redis's clock.
	Clock time.Time
}

// Config says how to keep a lease.
type Config struct {
	// Renew renews the lease once. Any error but ErrLost or ErrLapsed (which may be
	// wrapped) is taken as transient and retried promptly.
	Renew func(ctx context.Context) (Lease, error)
	// Lease is the TTL each renewal asks for. A renewal is due Lease/3 after the send of
	// the last confirmed one.
	Lease time.Duration
	// Retry is the pause after a failed renewal before the next try; zero means
	// min(500 ms, Lease/9). A try that used its whole Timeout is followed at once.
	Retry time.Duration
	// Timeout bounds each Renew call, which is also never given longer than is left before
	// the kill point; zero means Lease/6, so that a try stuck on a dead connection gives up
	// halfway to the next, which tries again on a new connection.
	Timeout time.Duration
	// KillGrace is how long before the lease may end the loss is reported; zero reports
	// it when the lease ends.
	KillGrace time.Duration
	// ClockTolerance is how far Redis's clock may move against the monotonic clock between
	// two renewals, beyond the round trips' own uncertainty, before it counts as a step;
	// zero means max(100 ms, KillGrace/2). A step forward is reported as a Loss (Redis
	// ends every TTL early by as much); a step back is only a warning.
	ClockTolerance time.Duration
	// Log gets one warning when renewals start failing, one info line when they recover.
	// Nil discards.
	Log *slog.Logger
	// KeepGoing goes on renewing after a Loss for unconfirmed renewals or a clock step, for
	// a job that runs on regardless (CRONLOCK_ON_LOST=keep): the lease may still be ours, or
	// be written again. False stops at the first Loss.
	KeepGoing bool
}

// ErrClockStep is the Loss reported when Redis's clock stepped forward: every TTL there
// ended early by as much, so the lease may have run out while we counted on it.
var ErrClockStep = errors.New("heartbeat: Redis's clock stepped forward")

// Loss reports that the lease is gone or may soon be.
type Loss struct {
	// Err is ErrLost (possibly wrapped, naming the new holder) when another owner holds
	// the lease, ErrClockStep (wrapped, saying by how much) when Redis's clock jumped, or a
	// description of the last failure when renewals went unconfirmed.
	Err error
	// End is when the lease ends or ended, on this process's monotonic clock.
	End time.Time
	// Kill is when a job still running gets SIGKILL (it gets SIGTERM at once): a moment
	// before End, since the kill takes a few milliseconds and a competitor may take the lock
	// the instant it ends; KillGrace after the loss for a revoked lease, which stays ours.
	Kill time.Time
	// Left is, when another owner holds the lease, how much of it was still ours by this
	// process's clock when Redis said so: more than zero means the lock vanished before its
	// TTL could end (a failover, a restart without persistence, an eviction, a step of
	// Redis's clock, a DEL), not that the lease ran out. Zero otherwise.
	Left time.Duration
}

// killMargin is how long before the lease ends a job that ignored SIGTERM gets SIGKILL.
const killMargin = 100 * time.Millisecond

// loss is the Loss reported for err, whose lease ends at end.
func (c Config) loss(err error, end time.Time) Loss {
	margin := min(killMargin, c.KillGrace/2)
	if errors.Is(err, ErrRevoked) {
		return Loss{Err: err, End: end, Kill: end.Add(c.KillGrace - margin)}
	}
	return Loss{Err: err, End: end, Kill: end.Add(-margin)}
}

// due is how long after the send that confirmed l the next renewal is due: Lease/3, or
// sooner when l is shorter than Lease (an acquire that found its own lock, taken by an
// earlier try whose reply was lost, has only what is left of that try's lease): halfway to
// the kill point at the latest, so that a slow reply or a retry still comes before it.
func (c Config) due(l Lease) time.Duration {
	return max(0, min(c.Lease/3, (l.TTL-c.KillGrace)/2))
}

// Left is how much of the first lease, confirmed by a request sent at sent, is left before
// its kill point: a job must not start when it is none.
func (c Config) Left(first Lease, sent time.Time) time.Duration {
	return time.Until(sent.Add(first.TTL)) - c.KillGrace
}

// Heartbeat is a running renewal loop. Stop it when the job ends.
type Heartbeat struct {
	lost    chan Loss
	cancel  context.CancelFunc
	done    chan struct{}
	failing atomic.Bool
	lapsed  atomic.Bool
}

// Start renews the lease first confirmed at sent (when the request that set it was sent)
// until Stop. The lease is taken to end at sent + first.TTL, moved forward by each
// confirmed renewal, measured from when that renewal's request was sent; the first renewal
// is due Lease/3 after sent, at once when that has passed.
func Start(ctx context.Context, cfg Config, first Lease, sent time.Time) *Heartbeat {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Lease / 6
	}
	if cfg.Retry <= 0 {
		cfg.Retry = min(500*time.Millisecond, cfg.Lease/9)
	}
	if cfg.ClockTolerance <= 0 {
		cfg.ClockTolerance = max(100*time.Millisecond, cfg.KillGrace/2)
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &Heartbeat{lost: make(chan Loss, 1), cancel: cancel, done: make(chan struct{})}
	go h.loop(ctx, cfg, first, sent)
	return h
}

// Lost delivers losses as they happen. It never blocks the heartbeat: a Loss not yet
// received when a newer one comes is replaced by it, so a reader sees the latest.
func (h *Heartbeat) Lost() <-chan Loss { return h.lost }

// Failing reports whether the last renewal failed (or a loss was reported): Redis may be
// unreachable, and whatever comes next should not count on it.
func (h *Heartbeat) Failing() bool { return h.failing.Load() }

// Lapsed reports whether the lease reached its deadline and was left to lapse.
func (h *Heartbeat) Lapsed() bool { return h.lapsed.Load() }

// Stop ends the renewals and waits until no renewal is in flight.
func (h *Heartbeat) Stop() {
	h.cancel()
	<-h.done
}

// report hands l to the reader without blocking, replacing a Loss it has not taken yet.
func (h *Heartbeat) report(l Loss) {
	h.failing.Store(true)
	for {
		select {
		case h.lost <- l:
			return
		default:
		}
		select {
		case <-h.lost: // an older Loss nobody took: the newer one says more
		default:
		}
	}
}

type outcome struct {
	lease      Lease
	sent, back time.Time
	err        error
}

func (h *Heartbeat) loop(ctx context.Context, cfg Config, first Lease, sent time.Time) {
	// On the way out, however it ends: cancel the renewal in flight and wait for it, so that
	// none reaches Redis after Stop (a late extend must not write back a released lock).
	var renewing sync.WaitGroup
	defer close(h.done)
	defer renewing.Wait()
	defer h.cancel()

	var (
		end      time.Time    // when the lease ends if no renewal is confirmed
		lapse    time.Time    // when the deadline ends the lease whatever we do
		killAt   time.Time    // when a loss is reported: KillGrace before end, or never
		warnAt   *time.Timer  // fires at killAt
		lapseAt  *time.Timer  // fires at the deadline
		next     *time.Timer  // fires when the next renewal is due
		inflight chan outcome // the renewal under way, nil when none
		lastErr  error        // why renewals are failing, nil while they succeed
		failed   int          // renewals failed since the last confirmed one
		since    time.Time    // when the first of those was sent
		clock    outcome      // the last renewal that told Redis's clock
	)
	arm := func(l Lease, sent time.Time) {
		end, lapse = sent.Add(l.TTL), sent.Add(l.UntilDeadline)
		killAt = end.Add(-cfg.KillGrace)
		warnAt = resetTimer(warnAt, time.Until(killAt))
		if !end.Before(lapse) {
			warnAt.Stop() // the deadline, not a missing renewal, ends this lease
			killAt = lapse
		}
		lapseAt = resetTimer(lapseAt, time.Until(lapse))
	}
	arm(first, sent)
	// Redis read its clock for the first lease somewhere between sent and now.
	clock = outcome{lease: first, sent: sent, back: time.Now()}
	next = time.NewTimer(max(0, cfg.due(first)-time.Since(sent)))
	defer warnAt.Stop()
	defer lapseAt.Stop()
	defer next.Stop()
	lost := false // a Loss was reported (KeepGoing goes on renewing after it)

	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
			// Each try ends by the time the loss is reported: a reply later than that
			// could not save the job anyway. After a reported loss (KeepGoing), a try gets
			// its whole Timeout.
			timeout := cfg.Timeout
			if !lost {
				timeout = min(timeout, time.Until(killAt))
			}
			if timeout <= 0 { // the loss is due: warnAt reports it, and KeepGoing tries on
				next.Reset(cfg.Retry)
				continue
			}
			out := make(chan outcome, 1)
			renewing.Go(func() { renew(ctx, cfg.Renew, timeout, out) })
			inflight = out
		case o := <-inflight:
			inflight = nil
			switch {
			case errors.Is(o.err, ErrLapsed):
				cfg.Log.Warn("lock reached its deadline (CRONLOCK_RELEASE) and lapses; the job runs on unlocked")
				h.lapsed.Store(true)
				return
			case errors.Is(o.err, ErrLost):
				l := cfg.loss(o.err, time.Now()) // another holds it: nothing to wait for
				l.Left = max(0, end.Sub(o.back))
				h.report(l)
				return
			case o.err != nil:
				if lastErr == nil {
					since = o.sent
					cfg.Log.Warn("cannot renew the lock; retrying every "+cfg.Retry.String(),
						"err", o.err, "lease_left", time.Until(end).Round(time.Millisecond).String())
				}
				lastErr = o.err
				failed++
				h.failing.Store(true)
				// A try that failed fast waits a moment; one that used its whole time
				// (a dead connection) is followed at once, on a new connection.
				next.Reset(max(0, cfg.Retry-time.Since(o.sent)))
				continue
			}
			if lastErr != nil {
				cfg.Log.Info(fmt.Sprintf("lock renewed again after %d failed attempts over %v", failed,
					o.back.Sub(since).Round(time.Millisecond)))
			}
			if o.lease.Reestablished {
				cfg.Log.Warn("lock had vanished from Redis (restart or failover?); written again under the same owner")
			}
			lastErr, failed, lost = nil, 0, false
			h.failing.Store(false)
			arm(o.lease, o.sent)
			next.Reset(max(0, cfg.due(o.lease)-time.Since(o.sent)))
			if err := judgeStep(cfg, clockStep(clock, o)); err != nil {
				h.report(cfg.loss(err, time.Now()))
				lost = true
				if !cfg.KeepGoing {
					return
				}
			}
			if !o.lease.Clock.IsZero() {
				clock = o
			}
		case <-warnAt.C:
			err := lastErr
			if err == nil {
				err = errors.New("no renewal confirmed in time")
			}
			if !lost {
				h.report(cfg.loss(err, end))
				lost = true
			}
			if !cfg.KeepGoing {
				return
			}
		case <-lapseAt.C:
			cfg.Log.Warn("lock reached its deadline (CRONLOCK_RELEASE) and lapses; the job runs on unlocked")
			h.lapsed.Store(true)
			return
		}
	}
}

// judgeStep says what a step of Redis's clock means: beyond the tolerance forward, a warning
// and the error to report as a Loss (Redis ended every TTL that much early); back, only a
// warning (leases there last longer).
func judgeStep(cfg Config, step time.Duration) error {
	switch {
	case step > cfg.ClockTolerance:
		cfg.Log.Warn("Redis's clock jumped forward by " + step.Round(time.Millisecond).String() +
			"; the lock may have lapsed early and been taken (CRONLOCK_ON_LOST decides)")
		return fmt.Errorf("%w by %v against golock's clock: leases there ended that much early",
			ErrClockStep, step.Round(time.Millisecond))
	case step < -cfg.ClockTolerance:
		cfg.Log.Warn("Redis's clock jumped back by " + (-step).Round(time.Millisecond).String() +
			"; leases there last that much longer")
	}
	return nil
}

// clockStep is how far Redis's clock moved between renewals a and b beyond what the
// monotonic clock saw, less the uncertainty of the two round trips (Redis read its clock
// somewhere between a request's send and its reply); zero when within that or unknown.
func clockStep(a, b outcome) time.Duration {
	if a.lease.Clock.IsZero() || b.lease.Clock.IsZero() {
		return 0
	}
	d := b.lease.Clock.Sub(a.lease.Clock) - b.sent.Sub(a.sent)
	slack := a.back.Sub(a.sent) + b.back.Sub(b.sent)
	switch {
	case d > slack:
		return d - slack
	case d < -slack:
		return d + slack
	}
	return 0
}

func renew(ctx context.Context, renew func(context.Context) (Lease, error), timeout time.Duration, out chan<- outcome) {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l, err := renew(ctx)
	out <- outcome{lease: l, sent: sent, back: time.Now(), err: err}
}

func resetTimer(t *time.Timer, d time.Duration) *time.Timer {
	if t == nil {
		return time.NewTimer(d)
	}
	t.Reset(d)
	return t
}
