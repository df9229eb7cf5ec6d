package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golock/golock/lockscript"
)

// release lets go of the lock. A failure is said, never swallowed: it means the lock
// passed to someone else, or will only free when its lease runs out.
func (j *job) release(ctx context.Context, lock *lockscript.Lock, o lockscript.Outcome) {
	j.releaseAfter(ctx, lock, o, false, false)
}

// releaseRetry is the pause between tries of a release that failed for want of Redis.
const releaseRetry = 500 * time.Millisecond

// releaseAfter is release, quiet about another owner holding the lock when told is set
// (a line has said so already), and with a single try when once is set. Tries go on while
// Redis cannot be reached, for at most REDIS_TIMEOUT in all: not cronlock's reconnect
// schedule, since the lease frees the lock by itself and the job is over.
func (j *job) releaseAfter(ctx context.Context, lock *lockscript.Lock, o lockscript.Outcome, told, once bool) {
	ctx, cancel := context.WithTimeout(ctx, j.Config.RedisTimeout)
	defer cancel()
	var err error
	for {
		err = interruptible(ctx, func() error {
			_, err := lock.Release(ctx, o)
			return err
		})
		if err == nil || once || !retryable(err) || ctx.Err() != nil {
			break
		}
		j.Log.Debug("release failed; trying again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(releaseRetry):
		}
	}
	var held *lockscript.HeldError
	switch {
	case errors.As(err, &held):
		if !told {
			j.Log.Warn("lock was lost while the job ran and is now held elsewhere; left untouched",
				"holder", held.Holder.String())
		}
	case errors.Is(err, lockscript.ErrGone):
		if !told && o.Code != lockscript.NotTried.Code {
			j.Log.Warn("lock was gone when the job ended; another run may have held it meanwhile " +
				"(Redis restarted without persistence, failed over, evicted it, or a reset cleared it)")
		}
	case err != nil && errors.Is(err, context.Canceled):
		// A signal: the caller says so.
	case err != nil:
		j.Log.Warn(fmt.Sprintf("cannot release the lock; it frees itself within %vs", j.Config.Lease.Seconds()), "err", err)
	}
}

// cut reports whether ctx is done or its deadline has passed. A read cut by that deadline
// (go-redis sets it on the socket) can return a moment before ctx itself says it is done.
func cut(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

// interruptible runs f and returns its error, or ctx's as soon as ctx is done: go-redis
// bounds a command by its context's deadline but does not stop reading on a cancel.
func interruptible(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
