package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golock/golock/lockscript"
)

// Keep keeps l's lease alive: Start with l's renewals, from the lease its acquire set, whose
// request was sent at sent.
func Keep(ctx context.Context, cfg Config, l *lockscript.Lock, sent time.Time) *Heartbeat {
	cfg.Renew = renewal(l)
	return Start(ctx, cfg, First(l), sent)
}

// First is the lease l's acquire set.
func First(l *lockscript.Lock) Lease {
	return Lease{TTL: l.TTL, UntilDeadline: l.Deadline.Sub(l.Clock), Clock: l.Clock}
}

// renewal renews l once, in the terms of Config.Renew.
func renewal(l *lockscript.Lock) func(context.Context) (Lease, error) {
	return func(ctx context.Context) (Lease, error) {
		r, err := l.Renew(ctx)
		var held *lockscript.HeldError
		switch {
		case errors.As(err, &held) && (held.Replaced || held.Reset):
			return Lease{}, fmt.Errorf("%w: %w", ErrRevoked, err)
		case errors.Is(err, lockscript.ErrLost):
			return Lease{}, fmt.Errorf("%w: %w", ErrLost, err)
		case errors.Is(err, lockscript.ErrExpired):
			return Lease{}, ErrLapsed
		case err != nil:
			return Lease{}, err
		}
		return Lease{TTL: r.TTL, UntilDeadline: r.UntilDeadline, Reestablished: r.Reestablished, Clock: r.Clock}, nil
	}
}
