package runner

// The fleet policies that act around the acquire: the splay before it, a replacing run's
// revoke and wait, and the refusals of LIMIT and INTERVAL. The acquire script decides the
// rest (lockscript.Options).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/golock/golock/lockscript"
)

// splay sleeps CRONLOCK_SPLAY's random part; false when a signal ended it (nothing runs).
func (j *job) splay(ctx context.Context) bool {
	slept, ok := sleepUpTo(ctx, j.Config.Splay)
	if !ok {
		j.Log.Debug("interrupted during CRONLOCK_SPLAY's sleep; nothing ran")
		return false
	}
	if j.Config.Splay > 0 {
		j.Log.Debug("slept before taking the lock (CRONLOCK_SPLAY)", "slept", slept.Round(time.Millisecond).String())
	}
	return true
}

// replaceMargin is how long past the revoked holder's TTL the replacer waits for its lock.
const replaceMargin = time.Second

// replace revokes the golock run that holds the lock (CRONLOCK_REPLACE), waits until its
// lock is gone, and takes it with try. held is the "held" reply; it is what replace returns
// when the holder cannot be replaced, or another run takes the lock first.
func (j *job) replace(ctx context.Context, try func(context.Context) error, held error) error {
	for range 3 { // a holder that lets go meanwhile: acquire again, at most a few times
		var h *lockscript.HeldError
		if !errors.As(held, &h) {
			return held
		}
		rctx, cancel := context.WithTimeout(ctx, j.Config.RedisTimeout)
		bound, revoked, err := lockscript.Replace(rctx, j.Client, h.Name, h.Holder,
			lockscript.By{Host: hostname(), PID: os.Getpid(), Lifetime: j.Config.Release})
		cancel()
		switch {
		case errors.Is(err, lockscript.ErrKeep), errors.Is(err, lockscript.ErrNotGolock):
			j.Log.Warn(heldBy(h.Holder, time.Now()) + "; not replaced: " + strings.TrimPrefix(err.Error(), "lockscript: ") + " (exit 200)")
			return held
		case errors.Is(err, lockscript.ErrJobEnded):
			return held
		case err != nil:
			return err
		case !revoked:
			if held = try(ctx); held == nil || !errors.Is(held, lockscript.ErrHeld) {
				return held
			}
			continue
		}
		notice(j.Log, j.TTY)(fmt.Sprintf("revoked %s (CRONLOCK_REPLACE); its job is ended at its next renewal", h.Holder))
		return j.wait(ctx, bound+replaceMargin, "CRONLOCK_REPLACE", try, held)
	}
	return held
}

// policyRefusal maps the acquire's policy answers to an exit code; ok is false for any
// other error.
func (j *job) policyRefusal(err error) (code int, ok bool) {
	var limit *lockscript.LimitError
	var soon *lockscript.TooSoonError
	switch {
	case errors.As(err, &limit):
		msg := fmt.Sprintf("lock is held under CRONLOCK_LIMIT=%s and this run has CRONLOCK_LIMIT=%d; set the same LIMIT on every host (not running)",
			limit.Theirs, limit.Ours)
		if limit.Holder.Kind != lockscript.Unknown {
			j.Log.Error(msg, "holder", limit.Holder.String())
		} else {
			j.Log.Error(msg)
		}
		return ExitFailed, true
	case errors.As(err, &soon):
		notice(j.Log, j.TTY)(fmt.Sprintf("last successful run started %s; CRONLOCK_INTERVAL=%v has not passed, next run in %v (exit 200)",
			clock(soon.LastOK, time.Now()), j.Config.Interval.Seconds(), soon.WaitFor.Round(time.Second)))
		return ExitHeld, true
	}
	return 0, false
}

// sleepUpTo sleeps a random duration in [0, most), so that hosts whose clocks run ahead do
// not always win the lock. It returns how long it slept, and false when ctx ended the sleep
// first (a signal: nothing runs). A most of zero returns at once.
func sleepUpTo(ctx context.Context, most time.Duration) (time.Duration, bool) {
	if most <= 0 {
		return 0, true
	}
	d := rand.N(most)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return d, true
	case <-ctx.Done():
		return 0, false
	}
}
