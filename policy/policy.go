// Package policy holds golock's fleet policies, each off by default: a random splay
// before the acquire (CRONLOCK_SPLAY), replacing a running holder (CRONLOCK_REPLACE) and
// the job's own question "do I still hold the lock?" (golock --held). The others — how many
// may hold a lock at once (CRONLOCK_LIMIT), one successful run per interval
// (CRONLOCK_INTERVAL) and a lock that outlives a vanished holder (CRONLOCK_LOCK_DELAY) —
// are decided inside the acquire script, in the same round trip, from lockscript.Params.
//
// Every policy decides before the job starts and speaks to Redis only through the scripts
// of package lockscript. It knows nothing of processes.
package policy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/lockscript"
)

// Splay sleeps a random duration in [0, max) before the acquire, so that hosts whose
// clocks run ahead do not always win the lock. It returns how long it slept and false when
// ctx ended the sleep first (a signal: nothing runs). A max of zero returns at once.
func Splay(ctx context.Context, max time.Duration) (time.Duration, bool) {
	if max <= 0 {
		return 0, true
	}
	d := rand.N(max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return d, true
	case <-ctx.Done():
		return 0, false
	}
}

var (
	// ErrKeep means the holder runs with CRONLOCK_ON_LOST=keep: revoked, its job would run
	// on beside ours, so it is not replaced.
	ErrKeep = errors.New("policy: the holder runs with CRONLOCK_ON_LOST=keep and cannot be replaced")
	// ErrNotGolock means the lock is held by cronlock or by a foreign value: there is no
	// golock run to revoke.
	ErrNotGolock = errors.New("policy: the lock is not held by a golock run and cannot be replaced")
	// ErrJobEnded means the holder's job has ended and only its grace hold keeps the lock:
	// there is nothing to replace, and running now would run the job again within GRACE.
	ErrJobEnded = errors.New("policy: the holder's job has ended; its grace hold is kept")
)

// Replacer identifies the run that replaces, for the holder's message.
type Replacer struct {
	Host    string
	PID     int
	Release time.Duration // its CRONLOCK_RELEASE, for the fence counter's TTL
}

// Replace revokes the golock run that holds name (CRONLOCK_REPLACE) as CRONLOCK_RESET does:
// its next renewal finds the lock lost and ends its job. Unlike a reset the lock stays
// held, so that nobody starts while that job may still run; the holder deletes it when its
// job is gone, or it expires. Replace returns how long that can take at most: the caller
// waits up to then for the lock to be free and takes it. revoked is false, with a nil
// error, when the holder let go meanwhile: the caller tries to acquire again at once.
func Replace(ctx context.Context, c redis.Scripter, name string, holder lockscript.Holder, by Replacer) (bound time.Duration, revoked bool, err error) {
	if holder.Kind != "golock" {
		return 0, false, ErrNotGolock
	}
	if holder.Released {
		return 0, false, ErrJobEnded
	}
	r, ttl, err := lockscript.Revoke(ctx, c, name, holder.Owner, by.Host, by.PID, by.Release)
	switch {
	case err != nil:
		return 0, false, err
	case r == lockscript.KeptByHolder:
		return 0, false, ErrKeep
	case r == lockscript.JobEnded:
		return 0, false, ErrJobEnded
	case r == lockscript.Gone:
		return 0, false, nil
	}
	return ttl, true, nil
}

// Answer is what golock --held finds.
type Answer struct {
	Held bool
	Left time.Duration // lease left by Redis's clock, when Held
	// Why says why not: "" when the lock is not the owner's (released, reset, expired or
	// taken by another), "replace" when a CRONLOCK_REPLACE run revoked it, "released" when
	// its job has ended, or "min-left" when less than the minimum is left.
	Why string
}

func (a Answer) String() string {
	switch {
	case a.Held:
		return fmt.Sprintf("held, %v of the lease left", a.Left.Round(time.Millisecond))
	case a.Why == "min-left":
		return fmt.Sprintf("held, but only %v of the lease left", a.Left.Round(time.Millisecond))
	case a.Why == "replace":
		return "not held: revoked by a CRONLOCK_REPLACE run"
	case a.Why == "released":
		return "not held: the job has ended"
	}
	return "not held"
}

// Held answers golock --held, run by a job: does owner (CRONLOCK_OWNER) still hold name
// (CRONLOCK_LOCK), with at least minLeft of its lease left by Redis's clock?
func Held(ctx context.Context, c redis.Scripter, name, owner string, minLeft time.Duration) (Answer, error) {
	held, left, why, err := lockscript.Held(ctx, c, name, owner)
	if err != nil {
		return Answer{}, err
	}
	switch {
	case !held:
		return Answer{Why: why}, nil
	case left < minLeft:
		return Answer{Left: left, Why: "min-left"}, nil
	}
	return Answer{Held: true, Left: left}, nil
}
