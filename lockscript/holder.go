package lockscript

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrHeld means another owner holds the lock; a *HeldError tells who.
	ErrHeld = errors.New("lockscript: lock held")
	// ErrLost means the lock passed to another owner while we held it, or was revoked;
	// a *HeldError tells who, and whether a reset or a replacing run did it.
	ErrLost = errors.New("lockscript: lock lost")
	// ErrNotOwner means release found another owner's lock and touched nothing.
	ErrNotOwner = errors.New("lockscript: not the owner")
	// ErrGone means release found the lock gone: its lease ran out, Redis lost its data
	// (a restart without persistence, a failover, an eviction) or a reset cleared it.
	// Another run may have held it meanwhile.
	ErrGone = errors.New("lockscript: lock gone before its release")
	// ErrExpired means the lock is past its deadline (Options.Lifetime) and is left to expire.
	ErrExpired = errors.New("lockscript: lock past its deadline")
	// ErrLimit means a holder of the lock runs with another Limit; a *LimitError tells which.
	ErrLimit = errors.New("lockscript: holders disagree on the limit")
	// ErrTooSoon means a run that exited 0 started less than Options.Interval ago; a
	// *TooSoonError tells when.
	ErrTooSoon = errors.New("lockscript: last successful run too recent")
	// ErrReplicas means fewer replicas than Options.MinReplicas acknowledged the lock in
	// time; the lock has been given back. A *ReplicaError tells how many did.
	ErrReplicas = errors.New("lockscript: too few replicas acknowledged the lock")
)

// Kind is what holds a lock's key.
type Kind int

const (
	// Unknown: nothing is known of the holder (a limit conflict named only by the limit key).
	Unknown Kind = iota
	// Golock: a golock lock record, with an owner token.
	Golock
	// Cronlock: cronlock's string lock, the unix second at which it expires.
	Cronlock
	// Foreign: any other value; Holder.Type names its Redis type. It is never overwritten.
	Foreign
)

func (k Kind) String() string {
	return [...]string{"unknown", "golock", "cronlock", "foreign"}[k]
}

// Holder describes who holds a lock, as far as Redis says.
type Holder struct {
	Kind  Kind
	Type  string // the Redis type of a Foreign value; "" otherwise
	Owner string // owner token; "" unless Kind is Golock
	Host  string
	PID   int // 0 when unknown
	Fence int64
	Age   time.Duration // since acquisition, by Redis's clock; 0 when unknown
	TTL   time.Duration // remaining; negative when the key has no TTL
	// Released is true when the holder's job has ended and only the grace hold keeps the lock.
	Released bool
	// Expires is when a cronlock lock expires (the second its value names); zero otherwise.
	Expires time.Time
	// Holders is how many slots of a Limit above 1 are held (acquire's "held" reply); 0
	// when not known.
	Holders int
}

func (h Holder) String() string {
	switch h.Kind {
	case Golock:
		s := fmt.Sprintf("%s pid %d (owner %s)", h.Host, h.PID, h.Owner)
		if h.Released {
			s += ", job ended, held for grace"
		}
		return s
	case Cronlock:
		return "a cronlock lock"
	case Foreign:
		return "a foreign " + h.Type + " value"
	}
	return "unknown"
}

// holderReply is the {owner, host, pid} that extend, release and acquire's
// "limit-conflict" reply name a holder by.
type holderReply struct {
	Owner, Host string
	PID         int
}

func (r holderReply) holder() Holder {
	h := Holder{Owner: r.Owner, Host: r.Host, PID: r.PID}
	if h.Owner != "" {
		h.Kind = Golock
	}
	return h
}

// HeldError is returned with ErrHeld, ErrLost and ErrNotOwner; it names the holder.
type HeldError struct {
	Name   string
	Holder Holder
	// Reset is true when ErrLost came from a reset: an operator cleared the lock.
	Reset bool
	// Replaced is true when ErrLost came from a replacing run (Replace); Holder names its
	// host and pid.
	Replaced bool
	err      error
}

func (e *HeldError) Error() string {
	if e.Reset {
		return fmt.Sprintf("%v: %s was cleared by CRONLOCK_RESET", e.err, e.Name)
	}
	if e.Replaced {
		return fmt.Sprintf("%v: %s was revoked by a CRONLOCK_REPLACE run on %s pid %d", e.err, e.Name,
			e.Holder.Host, e.Holder.PID)
	}
	return fmt.Sprintf("%v: %s held by %s", e.err, e.Name, e.Holder)
}

func (e *HeldError) Unwrap() error { return e.err }

// LimitError is returned with ErrLimit.
type LimitError struct {
	Name   string
	Ours   int    // the Limit of this run
	Theirs string // the limit the holders run with, as Redis holds it
	Holder Holder // the holder with the other limit; Kind is Unknown when only the limit key said so
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("%v: %s is held under CRONLOCK_LIMIT=%s, this run has CRONLOCK_LIMIT=%d", ErrLimit, e.Name, e.Theirs, e.Ours)
	if e.Holder.Kind != Unknown {
		s += " (held by " + e.Holder.String() + ")"
	}
	return s
}

func (e *LimitError) Unwrap() error { return ErrLimit }

// TooSoonError is returned with ErrTooSoon. Times are Redis's clock.
type TooSoonError struct {
	Name    string
	LastOK  time.Time     // when the last run that exited 0 started
	WaitFor time.Duration // until the interval has passed since then
}

func (e *TooSoonError) Error() string {
	return fmt.Sprintf("%v: %s last ran successfully at %s; next run in %v", ErrTooSoon, e.Name,
		e.LastOK.UTC().Format(time.RFC3339), e.WaitFor.Round(time.Second))
}

func (e *TooSoonError) Unwrap() error { return ErrTooSoon }

// ReplicaError is returned with ErrReplicas.
type ReplicaError struct {
	Acked, Wanted int
	Err           error // WAIT's own error, if it failed; nil when it answered too few
}

func (e *ReplicaError) Error() string {
	s := fmt.Sprintf("%v: %d of %d", ErrReplicas, e.Acked, e.Wanted)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ReplicaError) Unwrap() error { return ErrReplicas }
