package lockscript

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cleared is what Reset cleared.
type Cleared struct {
	// Holder is the first holder found; its Kind is Unknown when the lock was free.
	Holder Holder
	// Found is how many slots were held (several under a Limit above 1).
	Found int
	// Kept is how many of those stay taken, revoked, until their jobs have ended.
	Kept int
}

// Reset clears name whoever holds it (by names who resets, for the holder's message) and
// reports what was there. It revokes the holder: the fence counter moves past its fence, so
// that the holder's next Renew returns ErrLost (with HeldError.Reset set) instead of
// writing the lock back. A holder whose job still runs keeps the lock taken, as after
// Replace, until its release (no grace hold) or its lease's end: no second run starts while
// the old job may still run. A job that has ended (its grace hold), a cronlock lock and a
// foreign value are deleted at once.
//
// Every slot of a Limit above 1 is cleared too; the first round trip learns their number,
// and a second clears them.
func Reset(ctx context.Context, c redis.Scripter, name string, by By) (Cleared, error) {
	reply, err := withSlots(ctx, script(reset), c, name, func(slots []string) []string {
		return append([]string{name, FenceKey(name), LastRunKey(name), LimitKey(name), RecordKey(name)}, slots...)
	}, Channel(name), ms(LastRunTTL), ms(FenceTTL(0)), by.Host, by.PID)
	if err != nil {
		return Cleared{}, fmt.Errorf("lockscript: reset %s: %w", name, err)
	}
	var r struct {
		Status, Type, Owner, Host string
		PID                       int
		Fence                     int64
		Found, Kept               int
	}
	decode(reply, &r)
	if r.Status != "reset" {
		return Cleared{}, nil
	}
	h := Holder{Kind: Foreign, Type: r.Type, Owner: r.Owner, Host: r.Host, PID: r.PID, Fence: r.Fence, Holders: r.Found}
	switch r.Type {
	case "hash", "mixed":
		h.Kind, h.Type = Golock, ""
	case "string":
		h.Kind, h.Type = Cronlock, ""
	}
	return Cleared{Holder: h, Found: r.Found, Kept: r.Kept}, nil
}

var (
	// ErrKeep means the holder runs with Options.Keep: revoked, its job would run on beside
	// ours, so it is not replaced.
	ErrKeep = errors.New("lockscript: the holder runs with CRONLOCK_ON_LOST=keep and cannot be replaced")
	// ErrNotGolock means the lock is held by cronlock or by a foreign value: there is no
	// golock run to revoke.
	ErrNotGolock = errors.New("lockscript: the lock is not held by a golock run and cannot be replaced")
	// ErrJobEnded means the holder's job has ended and only its grace hold keeps the lock:
	// there is nothing to replace, and running now would run the job again within its grace.
	ErrJobEnded = errors.New("lockscript: the holder's job has ended; its grace hold is kept")
)

// By names the run that resets or replaces, for the revoked holder's message.
type By struct {
	Host     string
	PID      int
	Lifetime time.Duration // its Options.Lifetime, for the fence counter's TTL
}

// Replace revokes the golock run that holds name (CRONLOCK_REPLACE) as Reset does: its next
// renewal finds the lock lost (HeldError.Replaced) and ends its job. Unlike a reset the lock
// stays taken, so that nobody starts while that job may still run; the holder deletes it
// when its job is gone (no grace hold), or it expires. Replace returns how long that can
// take at most: the caller waits up to then for the lock to be free, and takes it. revoked
// is false, with a nil error, when the holder let go meanwhile: the caller acquires again.
func Replace(ctx context.Context, c redis.Scripter, name string, holder Holder, by By) (bound time.Duration, revoked bool, err error) {
	if holder.Kind != Golock {
		return 0, false, ErrNotGolock
	}
	if holder.Released {
		return 0, false, ErrJobEnded
	}
	reply, err := script(revoke).Run(ctx, c, []string{name, FenceKey(name), LastRunKey(name), RecordKey(name)},
		holder.Owner, by.Host, by.PID, ms(LastRunTTL), ms(FenceTTL(by.Lifetime))).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("lockscript: revoke %s: %w", name, err)
	}
	var r struct {
		Status string
		TTL    time.Duration
	}
	decode(reply, &r)
	switch r.Status {
	case "revoked":
		return r.TTL, true, nil
	case "keep":
		return 0, false, ErrKeep
	case "released":
		return 0, false, ErrJobEnded
	case "gone":
		return 0, false, nil
	}
	return 0, false, unexpected("revoke", name, reply)
}

// Answer is what Held finds.
type Answer struct {
	Held bool
	Left time.Duration // lease left by Redis's clock, when the owner holds the lock
	// Why says why not: "" when the lock is not the owner's (released, reset, expired or
	// taken by another), "replace" when a replacing run revoked it, "released" when its job
	// has ended, or "min-left" when less than the minimum is left.
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

// Held answers a job's question (golock --held): does owner still hold name (any slot of
// a Limit above 1), with at least minLeft of its lease left by Redis's clock? A hold revoked
// by a replacing run, or whose job has ended, is not held.
func Held(ctx context.Context, c redis.Scripter, name, owner string, minLeft time.Duration) (Answer, error) {
	reply, err := withSlots(ctx, script(held), c, name, func(slots []string) []string {
		return append([]string{name, LimitKey(name), RecordKey(name)}, slots...)
	}, owner)
	if err != nil {
		return Answer{}, fmt.Errorf("lockscript: held %s: %w", name, err)
	}
	var r struct {
		Status string
		Left   time.Duration
	}
	decode(reply, &r)
	switch {
	case r.Status != "held":
		var why struct{ Status, Why string }
		decode(reply, &why)
		return Answer{Why: why.Why}, nil
	case r.Left < minLeft:
		return Answer{Left: r.Left, Why: "min-left"}, nil
	}
	return Answer{Held: true, Left: r.Left}, nil
}
