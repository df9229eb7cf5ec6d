// Package heartbeat keeps one lease alive. It renews the lease every Interval and, when
// renewal stops being confirmed, says so on a channel in time to stop the job before the
// lease can have run out in Redis. It knows nothing of Redis or of processes: the lease is
// renewed by a function it is given.
package heartbeat

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

var (
	// ErrLost is returned by Renew when another owner holds the lease: renewing again is
	// pointless.
	ErrLost = errors.New("heartbeat: lease lost")
	// ErrLapsed is returned by Renew when the lease has reached its deadline: it is left
	// to expire and the heartbeat stops without reporting a loss.
	ErrLapsed = errors.New("heartbeat: lease past its deadline")
)

// Lease is one confirmed renewal.
type Lease struct {
	TTL           time.Duration // the lease Redis now holds
	UntilDeadline time.Duration // time left before the lease can no longer be renewed
	Reestablished bool          // the lease had vanished and was written again
}

// Config says how to keep a lease.
type Config struct {
	// Renew renews the lease once. Any error but ErrLost or ErrLapsed (which may be
	// wrapped) is taken as transient and retried on the next tick.
	Renew func(ctx context.Context) (Lease, error)
	// Interval between renewals; a third of the lease is usual.
	Interval time.Duration
	// Timeout bounds each Renew call; zero means Interval.
	Timeout time.Duration
	// KillGrace is how long before the lease may end the loss is reported; zero reports
	// it when the lease ends.
	KillGrace time.Duration
	// Log gets one warning when renewals start failing, one info line when they recover.
	// Nil discards.
	Log *slog.Logger
	// KeepGoing goes on renewing after a Loss for unconfirmed renewals, for a job that runs
	// on regardless (CRONLOCK_ON_LOST=keep): the lease may still be ours, or be written
	// again. False stops at the first Loss.
	KeepGoing bool
}

// Loss reports that the lease is gone or may soon be.
type Loss struct {
	// Err is ErrLost (possibly wrapped, naming the new holder) when another owner holds
	// the lease, or a description of the last failure when renewals went unconfirmed.
	Err error
	// End is when the lease ends or ended, on this process's monotonic clock: the job must
	// be gone by then.
	End time.Time
}

// Heartbeat is a running renewal loop. Stop it when the job ends.
type Heartbeat struct {
	lost   chan Loss
	cancel context.CancelFunc
	done   chan struct{}
}

// Start renews the lease first confirmed at sent (when the request that set it was sent)
// until Stop. The lease is taken to end at sent + first.TTL, moved forward by each
// confirmed renewal, measured from when that renewal's request was sent.
func Start(ctx context.Context, cfg Config, first Lease, sent time.Time) *Heartbeat {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Interval
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &Heartbeat{lost: make(chan Loss, 1), cancel: cancel, done: make(chan struct{})}
	go h.loop(ctx, cfg, first, sent)
	return h
}

// Lost delivers at most one Loss.
func (h *Heartbeat) Lost() <-chan Loss { return h.lost }

// Stop ends the renewals and waits until no renewal is in flight.
func (h *Heartbeat) Stop() {
	h.cancel()
	<-h.done
}

type outcome struct {
	lease Lease
	sent  time.Time
	err   error
}

func (h *Heartbeat) loop(ctx context.Context, cfg Config, first Lease, sent time.Time) {
	// On the way out, however it ends: cancel the renewal in flight and wait for it, so that
	// none reaches Redis after Stop (a late extend must not write back a released lock).
	var renewing sync.WaitGroup
	defer close(h.done)
	defer renewing.Wait()
	defer h.cancel()
	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()

	var (
		end      time.Time    // when the lease ends if no renewal is confirmed
		lapse    time.Time    // when the deadline ends the lease whatever we do
		warnAt   *time.Timer  // fires KillGrace before end, unless end is the deadline
		lapseAt  *time.Timer  // fires at the deadline
		inflight chan outcome // the renewal under way, nil when none
		lastErr  error        // why renewals are failing, nil while they succeed
	)
	arm := func(l Lease, sent time.Time) {
		end, lapse = sent.Add(l.TTL), sent.Add(l.UntilDeadline)
		warnAt = resetTimer(warnAt, time.Until(end.Add(-cfg.KillGrace)))
		if !end.Before(lapse) {
			warnAt.Stop() // the deadline, not a missing renewal, ends this lease
		}
		lapseAt = resetTimer(lapseAt, time.Until(lapse))
	}
	arm(first, sent)
	defer warnAt.Stop()
	defer lapseAt.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if inflight != nil {
				continue // the last renewal is still waiting on its Timeout
			}
			out := make(chan outcome, 1)
			renewing.Go(func() { renew(ctx, cfg, out) })
			inflight = out
		case o := <-inflight:
			inflight = nil
			switch {
			case errors.Is(o.err, ErrLapsed):
				cfg.Log.Warn("lock reached its deadline (CRONLOCK_RELEASE) and lapses; the job runs on unlocked")
				return
			case errors.Is(o.err, ErrLost):
				h.lost <- Loss{Err: o.err, End: time.Now()}
				return
			case o.err != nil:
				if lastErr == nil {
					cfg.Log.Warn("cannot renew the lock; retrying every "+cfg.Interval.String(),
						"err", o.err, "lease_left", time.Until(end).Round(time.Millisecond).String())
				}
				lastErr = o.err
			default:
				if lastErr != nil {
					cfg.Log.Info("lock renewed again after failures")
				}
				if o.lease.Reestablished {
					cfg.Log.Warn("lock had vanished from Redis (restart or failover?); written again under the same owner")
				}
				lastErr = nil
				arm(o.lease, o.sent)
			}
		case <-warnAt.C:
			err := lastErr
			if err == nil {
				err = errors.New("no renewal confirmed in time")
			}
			select {
			case h.lost <- Loss{Err: err, End: end}:
			default: // reported before (KeepGoing): one Loss is all there is
			}
			if !cfg.KeepGoing {
				return
			}
		case <-lapseAt.C:
			cfg.Log.Warn("lock reached its deadline (CRONLOCK_RELEASE) and lapses; the job runs on unlocked")
			return
		}
	}
}

func renew(ctx context.Context, cfg Config, out chan<- outcome) {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	l, err := cfg.Renew(ctx)
	out <- outcome{lease: l, sent: sent, err: err}
}

func resetTimer(t *time.Timer, d time.Duration) *time.Timer {
	if t == nil {
		return time.NewTimer(d)
	}
	t.Reset(d)
	return t
}
