// Package lockscript is golock's lock protocol: the Lua scripts of package scripts,
// called from Go. A lock is a Redis hash holding an owner token; only the owner extends
// or releases it, and every time it holds comes from Redis TIME.
package lockscript

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/scripts"
)

// RecordVersion is written into every lock record as "version".
const RecordVersion = "2"

// The scripts are hashed (SHA-1, for EVALSHA) on first use, not at start: a run uses two
// of them, and every run pays for what happens before main.
var (
	acquireScript = newScript(scripts.Acquire)
	extendScript  = newScript(scripts.Extend)
	releaseScript = newScript(scripts.Release)
	resetScript   = newScript(scripts.Reset)
	inspectScript = newScript(scripts.Inspect)
	revokeScript  = newScript(scripts.Revoke)
	heldScript    = newScript(scripts.Held)
)

// newScript returns the redis.Script of src, made on the first call.
func newScript(src string) func() *redis.Script {
	return sync.OnceValue(func() *redis.Script { return redis.NewScript(src) })
}

// All returns every script golock runs, by name, for tests and the doctor.
func All() map[string]*redis.Script {
	return map[string]*redis.Script{
		"acquire": acquireScript(), "extend": extendScript(),
		"release": releaseScript(), "reset": resetScript(), "inspect": inspectScript(),
		"revoke": revokeScript(), "held": heldScript(),
	}
}

var (
	// ErrHeld means another owner holds the lock; a *HeldError tells who.
	ErrHeld = errors.New("lockscript: lock held")
	// ErrLost means the lock passed to another owner while we held it; a *HeldError tells who.
	ErrLost = errors.New("lockscript: lock lost")
	// ErrNotOwner means release found another owner's lock and touched nothing.
	ErrNotOwner = errors.New("lockscript: not the owner")
	// ErrExpired means the lock is past its deadline (CRONLOCK_RELEASE) and is left to expire.
	ErrExpired = errors.New("lockscript: lock past its deadline")
	// ErrLimit means a holder of the lock runs with another CRONLOCK_LIMIT; a *LimitError
	// tells which.
	ErrLimit = errors.New("lockscript: holders disagree on CRONLOCK_LIMIT")
	// ErrTooSoon means a run that exited 0 started less than CRONLOCK_INTERVAL ago; a
	// *TooSoonError tells when.
	ErrTooSoon = errors.New("lockscript: last successful run too recent")
)

// LimitError is returned with ErrLimit.
type LimitError struct {
	Name   string
	Ours   int    // the LIMIT of this run
	Theirs string // the LIMIT the holders run with, as Redis holds it
	Holder Holder // the holder with the other LIMIT; Kind is "" when only the limit key said so
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("%v: %s is held under CRONLOCK_LIMIT=%s, this run has CRONLOCK_LIMIT=%d", ErrLimit, e.Name, e.Theirs, e.Ours)
	if e.Holder.Kind != "" {
		s += " (held by " + e.Holder.String() + ")"
	}
	return s
}

func (e *LimitError) Unwrap() error { return ErrLimit }

// TooSoonError is returned with ErrTooSoon. Times are Redis's clock.
type TooSoonError struct {
	Name    string
	LastOK  time.Time     // when the last run that exited 0 started
	WaitFor time.Duration // until CRONLOCK_INTERVAL has passed since then
}

func (e *TooSoonError) Error() string {
	return fmt.Sprintf("%v: %s last ran successfully at %s; next run in %v", ErrTooSoon, e.Name,
		e.LastOK.UTC().Format(time.RFC3339), e.WaitFor.Round(time.Second))
}

func (e *TooSoonError) Unwrap() error { return ErrTooSoon }

// Holder describes who holds a lock, as far as Redis says.
type Holder struct {
	Owner string // owner token; empty when the value is not a golock record
	Host  string
	PID   string
	Fence int64
	Age   time.Duration // since acquisition, by Redis time; 0 when unknown
	TTL   time.Duration // remaining; negative when the key has no TTL
	// Released is true when the holder's job has ended and only the grace hold keeps the lock.
	Released bool
	// Kind is "golock", "cronlock" (a legacy string lock) or the Redis type of a foreign value.
	Kind string
	// Expires is when a cronlock lock expires (the second its value names); zero otherwise.
	Expires time.Time
	// Holders is how many slots of a CRONLOCK_LIMIT above 1 are held (acquire's "held"
	// reply); 0 when not known.
	Holders int
}

func (h Holder) String() string {
	switch h.Kind {
	case "golock":
		s := fmt.Sprintf("%s pid %s (owner %s)", h.Host, h.PID, h.Owner)
		if h.Released {
			s += ", job ended, held for grace"
		}
		return s
	case "cronlock":
		return "a cronlock lock"
	case "":
		return "unknown"
	default:
		return "a foreign " + h.Kind + " value"
	}
}

// HeldError is returned with ErrHeld, ErrLost and ErrNotOwner; it names the holder.
type HeldError struct {
	Name   string
	Holder Holder
	// Reset is true when ErrLost came from CRONLOCK_RESET: an operator cleared the lock.
	Reset bool
	// Replaced is true when ErrLost came from a CRONLOCK_REPLACE run; Holder names its host
	// and pid.
	Replaced bool
	err      error
}

func (e *HeldError) Error() string {
	if e.Reset {
		return fmt.Sprintf("%v: %s was cleared by CRONLOCK_RESET", e.err, e.Name)
	}
	if e.Replaced {
		return fmt.Sprintf("%v: %s was revoked by a CRONLOCK_REPLACE run on %s pid %s", e.err, e.Name,
			e.Holder.Host, e.Holder.PID)
	}
	return fmt.Sprintf("%v: %s held by %s", e.err, e.Name, e.Holder)
}

func (e *HeldError) Unwrap() error { return e.err }

// Params describe the job a lock is taken for.
type Params struct {
	Owner   string        // owner token, a fresh UUID v4 per run
	Host    string        // recorded for people reading the lock
	PID     int           // recorded for people reading the lock
	Command string        // command line, cut to at most MaxCommand bytes (whole characters)
	Grace   time.Duration // the lock is held at least this long from acquisition
	Release time.Duration // the lock lives at most this long
	Lease   time.Duration // the TTL the heartbeat keeps

	// The fleet policies; their zero values leave the lock as it always was.
	Limit    int           // CRONLOCK_LIMIT: how many may hold the lock at once; 0 means 1
	Interval time.Duration // CRONLOCK_INTERVAL: at most one successful run per Interval; 0: off
	Delay    time.Duration // CRONLOCK_LOCK_DELAY: the key outlives an unrenewed lease by this
	OnLost   string        // CRONLOCK_ON_LOST; "keep" is recorded, so that REPLACE spares it
}

func (p Params) limit() int { return max(1, p.Limit) }

// MaxCommand is the most bytes of the command line a record keeps.
const MaxCommand = 512

// Lock is a lock we hold. Times are Redis's, in unix milliseconds.
type Lock struct {
	Name string
	// Slot is the slot held (from 1) under a LIMIT above 1; its key is SlotKey(Name, Slot).
	// 0 and 1 are Name itself.
	Slot int
	Params
	Fence      int64
	AcquiredMS int64
	GraceMS    int64
	DeadlineMS int64
	TTL        time.Duration // the TTL acquire set
}

// Acquire takes the lock name for p in one round trip. When another owner holds it, the
// error is a *HeldError wrapping ErrHeld.
func Acquire(ctx context.Context, c redis.Scripter, name string, p Params) (*Lock, error) {
	p.Command = cut(p.Command, MaxCommand)
	keys := append([]string{name, FenceKey(name), LastRunKey(name), LimitKey(name)}, slotKeys(name, p.limit())...)
	reply, err := acquireScript().Run(ctx, c, keys,
		p.Owner, p.Host, p.PID, p.Command, ms(p.Grace), ms(p.Release), ms(p.Lease),
		RecordVersion, ms(FenceTTL(p.Release)), p.limit(), ms(p.Interval), ms(p.Delay), p.OnLost).Slice()
	if err != nil {
		return nil, fmt.Errorf("lockscript: acquire %s: %w", name, err)
	}
	r := answer(reply)
	switch r.str(0) {
	case "acquired":
		return &Lock{Name: name, Slot: int(r.int(6)), Params: p, Fence: r.int(1), AcquiredMS: r.int(2),
			GraceMS: r.int(3), DeadlineMS: r.int(4), TTL: r.dur(5)}, nil
	case "held":
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{
			Kind: "golock", Owner: r.str(1), Host: r.str(2), PID: r.str(3), Age: r.dur(4),
			TTL: r.dur(5), Fence: r.int(6), Released: r.str(7) != "", Holders: int(r.int(8))}}
	case "limit-conflict":
		e := &LimitError{Name: name, Ours: p.limit(), Theirs: r.str(1), Holder: holderOf(r, 2)}
		return nil, e
	case "too-soon":
		return nil, &TooSoonError{Name: name, LastOK: time.UnixMilli(r.int(1)), WaitFor: r.dur(2)}
	case "held-legacy":
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{Kind: "cronlock", TTL: r.dur(2),
			Expires: time.Unix(r.int(1), 0)}}
	case "held-foreign":
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{Kind: r.str(1), TTL: r.dur(2)}}
	}
	return nil, fmt.Errorf("lockscript: acquire %s: unexpected reply %v", name, reply)
}

// Extension is what a successful Extend reports.
type Extension struct {
	TTL           time.Duration // the lease now set on the key
	UntilDeadline time.Duration // time left before CRONLOCK_RELEASE ends the lock
	Reestablished bool          // the key was missing and has been written again
	Clock         time.Time     // Redis's clock when it ran the extension
}

// Extend renews l's lease, and writes the lock again when Redis lost it. It returns a
// *HeldError wrapping ErrLost when another owner holds the lock, or has held it since l was
// taken (the fence counter is past l's fence), and ErrExpired once the lock is past its deadline.
func Extend(ctx context.Context, c redis.Scripter, l *Lock) (Extension, error) {
	keys := []string{l.Key(), FenceKey(l.Name), LastRunKey(l.Name)}
	if l.limit() > 1 {
		keys = append(keys, LimitKey(l.Name))
	}
	reply, err := extendScript().Run(ctx, c, keys,
		l.Owner, ms(l.Lease), l.Fence, l.Host, l.PID, l.Command,
		l.AcquiredMS, l.GraceMS, l.DeadlineMS, RecordVersion, ms(FenceTTL(l.Release)),
		ms(l.Delay), l.limit(), l.OnLost).Slice()
	if err != nil {
		return Extension{}, fmt.Errorf("lockscript: extend %s: %w", l.Name, err)
	}
	r := answer(reply)
	switch r.str(0) {
	case "extended", "re-established":
		return Extension{TTL: r.dur(1), UntilDeadline: r.dur(2),
			Reestablished: r.str(0) == "re-established",
			Clock:         time.UnixMilli(l.DeadlineMS - r.int(2))}, nil
	case "lost":
		return Extension{}, &HeldError{Name: l.Name, err: ErrLost, Holder: holderOf(r, 1),
			Reset: r.str(4) == "reset", Replaced: r.str(4) == "replace"}
	case "expired":
		return Extension{}, ErrExpired
	}
	return Extension{}, fmt.Errorf("lockscript: extend %s: unexpected reply %v", l.Name, reply)
}

// Outcome is how a job ended, for Release.
type Outcome struct {
	Ran  bool // the command started; false means it could not (then Code is 126 or 127)
	Code int  // its exit code; -1 when it was never tried, which leaves no last-run record
}

// NotTried is the Outcome of a lock given back before its command was tried.
var NotTried = Outcome{Code: -1}

// LastRunTTL is how long the record of a lock's last run is kept.
const LastRunTTL = 30 * 24 * time.Hour

// FenceTTL is the TTL a lock's fence counter gets (never shortened) from an acquire, a
// release or a reset by a run whose CRONLOCK_RELEASE is release: a day more than the lock
// and its last-run record can live, so that a counter frees its key once the lock has
// not been taken for that long. The fence stays monotonic when it expires: a new counter
// starts at Redis TIME in microseconds, past every fence handed out before.
func FenceTTL(release time.Duration) time.Duration {
	return release + LastRunTTL + 24*time.Hour
}

// Release lets go of l and records the run as the lock's last. When the command ran, the
// lock stays until its grace time and the returned duration says how much longer; when it
// did not, the lock is deleted at once. Release never touches another owner's lock: then
// it returns a *HeldError wrapping ErrNotOwner. A lock already gone is not an error.
func Release(ctx context.Context, c redis.Scripter, l *Lock, o Outcome) (time.Duration, error) {
	flag := "0"
	if o.Ran {
		flag = "1"
	}
	reply, err := releaseScript().Run(ctx, c, []string{l.Key(), FenceKey(l.Name), LastRunKey(l.Name)},
		l.Owner, flag, Channel(l.Name), o.Code, l.Host, l.PID, l.Fence, l.AcquiredMS,
		ms(LastRunTTL), ms(FenceTTL(l.Release))).Slice()
	if err != nil {
		return 0, fmt.Errorf("lockscript: release %s: %w", l.Name, err)
	}
	r := answer(reply)
	switch r.str(0) {
	case "released", "missing":
		return 0, nil
	case "held-grace":
		return r.dur(1), nil
	case "not-owner":
		return 0, &HeldError{Name: l.Name, err: ErrNotOwner, Holder: holderOf(r, 1)}
	}
	return 0, fmt.Errorf("lockscript: release %s: unexpected reply %v", l.Name, reply)
}

// Reset deletes name whoever holds it and reports what was there; found is false when
// the lock was free. It revokes the holder: the fence counter moves past its fence, so
// that the holder's next Extend returns ErrLost (with HeldError.Reset set) instead of
// writing the lock back.
//
// Every slot of a CRONLOCK_LIMIT above 1 is deleted too, and h.Holders says how many were
// held; the first round trip learns their number, and a second deletes them.
func Reset(ctx context.Context, c redis.Scripter, name string) (h Holder, found bool, err error) {
	r, err := withSlots(ctx, resetScript(), c, name, func(slots []string) []string {
		return append([]string{name, FenceKey(name), LastRunKey(name), LimitKey(name)}, slots...)
	}, Channel(name), ms(LastRunTTL), ms(FenceTTL(0)))
	if err != nil {
		return Holder{}, false, fmt.Errorf("lockscript: reset %s: %w", name, err)
	}
	if r.str(0) != "reset" {
		return Holder{}, false, nil
	}
	h = Holder{Kind: r.str(1), Owner: r.str(2), Host: r.str(3), PID: r.str(4), Fence: r.int(5), Holders: int(r.int(6))}
	switch h.Kind {
	case "hash":
		h.Kind = "golock"
	case "string":
		h.Kind = "cronlock"
	}
	return h, true, nil
}

// Key is the Redis key of the slot l holds: its Name, or SlotKey(Name, Slot).
func (l *Lock) Key() string { return SlotKey(l.Name, l.Slot) }

// slotKeys are the keys of slots 2..limit of name.
func slotKeys(name string, limit int) []string {
	var keys []string
	for k := 2; k <= limit; k++ {
		keys = append(keys, SlotKey(name, k))
	}
	return keys
}

// maxLimit bounds the slots a script is asked to read, whatever a limit key says.
const maxLimit = 1000

// withSlots runs a script whose KEYS end with the slots 2..N of name (keys builds them),
// first with none: when it replies {"limit", N} (the limit key says the lock has N slots),
// it runs it again with them.
func withSlots(ctx context.Context, s *redis.Script, c redis.Scripter, name string, keys func([]string) []string, args ...any) (answer, error) {
	var slots []string
	for {
		reply, err := s.Run(ctx, c, keys(slots), args...).Slice()
		if err != nil {
			return nil, err
		}
		r := answer(reply)
		n := int(r.int(1))
		if r.str(0) != "limit" || n <= len(slots)+1 || n > maxLimit {
			return r, nil
		}
		slots = slotKeys(name, n)
	}
}

// Revocation is what Revoke did.
type Revocation int

const (
	// Revoked: the holder's next renewal finds the lock lost; the lock stays until the
	// holder lets go (at once, no grace hold) or its lease runs out.
	Revoked Revocation = iota
	// KeptByHolder: the holder runs with CRONLOCK_ON_LOST=keep, whose job would run on; not
	// revoked.
	KeptByHolder
	// JobEnded: the holder's job has ended; only its grace hold keeps the lock.
	JobEnded
	// Gone: that owner no longer holds the lock.
	Gone
)

// Revoke revokes owner's hold on name for CRONLOCK_REPLACE, as Reset does, but leaves the
// lock in place so that nobody starts while the holder's job may still run: the holder's
// next Extend returns ErrLost (HeldError.Replaced) and its release deletes the lock at once.
// host and pid name the replacer, for the holder's message. ttl is how long the lock can
// live at most, since the holder will not renew it.
func Revoke(ctx context.Context, c redis.Scripter, name, owner, host string, pid int, release time.Duration) (r Revocation, ttl time.Duration, err error) {
	reply, err := revokeScript().Run(ctx, c, []string{name, FenceKey(name), LastRunKey(name)},
		owner, host, pid, ms(LastRunTTL), ms(FenceTTL(release))).Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("lockscript: revoke %s: %w", name, err)
	}
	a := answer(reply)
	switch a.str(0) {
	case "revoked":
		return Revoked, a.dur(1), nil
	case "keep":
		return KeptByHolder, 0, nil
	case "released":
		return JobEnded, a.dur(1), nil
	case "gone":
		return Gone, 0, nil
	}
	return 0, 0, fmt.Errorf("lockscript: revoke %s: unexpected reply %v", name, reply)
}

// Held reports whether owner still holds name (any slot of a CRONLOCK_LIMIT above 1), and
// how much of its lease is left by Redis's clock. A hold revoked by CRONLOCK_REPLACE, or
// whose job has ended, is not held; why then says "replace" or "released".
func Held(ctx context.Context, c redis.Scripter, name, owner string) (held bool, left time.Duration, why string, err error) {
	r, err := withSlots(ctx, heldScript(), c, name, func(slots []string) []string {
		return append([]string{name, LimitKey(name)}, slots...)
	}, owner)
	if err != nil {
		return false, 0, "", fmt.Errorf("lockscript: held %s: %w", name, err)
	}
	if r.str(0) == "held" {
		return true, r.dur(1), "", nil
	}
	return false, 0, r.str(1), nil
}

// holderOf reads the {owner, host, pid} that extend and release reply from index i.
func holderOf(r answer, i int) Holder {
	h := Holder{Owner: r.str(i), Host: r.str(i + 1), PID: r.str(i + 2)}
	if h.Owner != "" {
		h.Kind = "golock"
	}
	return h
}

// answer is a script's array reply, read leniently: a missing or odd element reads as zero.
type answer []any

func (r answer) str(i int) string {
	if i >= len(r) {
		return ""
	}
	switch v := r[i].(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

func (r answer) int(i int) int64 {
	n, _ := strconv.ParseInt(r.str(i), 10, 64)
	return n
}

func (r answer) dur(i int) time.Duration { return time.Duration(r.int(i)) * time.Millisecond }

func ms(d time.Duration) int64 { return d.Milliseconds() }

// cut shortens s to at most n bytes without splitting a UTF-8 character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
