package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
)

// acquire takes the lock, waiting up to CRONLOCK_WAIT for a held one. With no lock it
// returns the exit code. sent is when the request that took the lock was sent.
func (j *job) acquire(ctx context.Context) (lock *lockscript.Lock, sent time.Time, code int) {
	opts := j.Config.LockOptions()
	opts.Owner, opts.Host, opts.PID, opts.Command = uuid.NewString(), hostname(), os.Getpid(), commandLine(j.Config, j.Args)
	if !j.splay(ctx) {
		return nil, sent, ExitHeld
	}
	// try asks for the lock, retrying a Redis that cannot be reached. A signal (or the end
	// of CRONLOCK_WAIT) stops the retries and the waits between them.
	try := func(ctx context.Context) error {
		return retry(ctx, j.Config, j.Log, j.TTY, "take the lock", func(ctx context.Context) (err error) {
			sent = time.Now()
			lock, err = lockscript.Acquire(ctx, j.Client, j.Name, opts)
			if err != nil && !errors.Is(err, lockscript.ErrHeld) && cut(ctx) {
				j.undo(ctx, opts)
			}
			return err
		})
	}
	err := try(ctx)
	if errors.Is(err, lockscript.ErrHeld) && j.Config.Replace {
		err = j.replace(ctx, try, err)
	}
	if errors.Is(err, lockscript.ErrHeld) && j.Config.Wait > 0 {
		err = j.wait(ctx, j.Config.Wait, "CRONLOCK_WAIT", try, err)
	}
	if code, ok := j.policyRefusal(err); ok {
		return nil, sent, code
	}
	var held *lockscript.HeldError
	var replicas *lockscript.ReplicaError
	switch {
	case errors.As(err, &held):
		if held.Holder.Kind == lockscript.Foreign {
			j.Log.Warn("lock holds an unexpected value; treated as held and left alone (CRONLOCK_RESET=yes clears it)",
				"type", held.Holder.Type)
		}
		j.held(held.Holder)
		return nil, sent, ExitHeld
	case errors.As(err, &replicas):
		msg := fmt.Sprintf("only %d of CRONLOCK_MIN_REPLICAS=%d replicas acknowledged the lock in time; not running",
			replicas.Acked, replicas.Wanted)
		if replicas.Err != nil {
			j.Log.Error(msg, "err", replicas.Err)
		} else {
			j.Log.Error(msg)
		}
		return nil, sent, ExitFailed
	case err != nil && ctx.Err() != nil:
		j.Log.Warn("interrupted before the job started; nothing ran")
		return nil, sent, ExitFailed
	case err != nil:
		j.Log.Error("cannot take the lock at " + redisclient.Address(j.Config) + ": " + said(err) + redisclient.Hint(err) + "; nothing ran")
		j.Log.Debug("the failure in detail", "err", err)
		return nil, sent, ExitFailed
	}
	j.Log.Debug("lock acquired", "fence", lock.Fence, "owner", lock.Owner)
	return lock, sent, 0
}

// undo gives back a lock that an acquire cut short (by a signal, or by CRONLOCK_WAIT
// running out) may have taken in Redis before its reply could arrive: a release by our
// owner token, which touches nothing of anyone else's, bounded by REDIS_TIMEOUT. Under a
// CRONLOCK_LIMIT above 1 the slot it may have taken is unknown: each is released.
func (j *job) undo(ctx context.Context, o lockscript.Options) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.Config.RedisTimeout)
	defer cancel()
	if err := lockscript.Abandon(ctx, j.Client, j.Name, o); err != nil {
		j.Log.Warn(fmt.Sprintf("an interrupted acquire may have taken the lock; it frees itself within %vs",
			max(j.Config.Lease, j.Config.Grace).Seconds()), "err", err)
	}
}

// said is err as the operator reads it: what Redis did, or did not do, and how often golock
// tried; the whole chain is for VERBOSE.
func said(err error) string {
	var g *gaveUp
	if errors.As(err, &g) {
		return g.Error()
	}
	return logging.OneLine(cause(err))
}
