// Package lockscript is golock's lock protocol: the Lua scripts of package scripts,
// called from Go. A lock is a Redis hash holding an owner token; only the owner extends
// or releases it, and every time it holds comes from Redis TIME.
package lockscript

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/scripts"
)

// RecordVersion is written into every lock record as "version".
const RecordVersion = "2"

var (
	acquireScript = redis.NewScript(scripts.Acquire)
	extendScript  = redis.NewScript(scripts.Extend)
	releaseScript = redis.NewScript(scripts.Release)
	resetScript   = redis.NewScript(scripts.Reset)
	inspectScript = redis.NewScript(scripts.Inspect)
)

// All is every script golock runs, for tests that load them into a server.
var All = map[string]*redis.Script{
	"acquire": acquireScript, "extend": extendScript,
	"release": releaseScript, "reset": resetScript, "inspect": inspectScript,
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
)

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
	err   error
}

func (e *HeldError) Error() string {
	if e.Reset {
		return fmt.Sprintf("%v: %s was cleared by CRONLOCK_RESET", e.err, e.Name)
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
}

// MaxCommand is the most bytes of the command line a record keeps.
const MaxCommand = 512

// Lock is a lock we hold. Times are Redis's, in unix milliseconds.
type Lock struct {
	Name string
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
	reply, err := acquireScript.Run(ctx, c, []string{name, FenceKey(name)},
		p.Owner, p.Host, p.PID, p.Command, ms(p.Grace), ms(p.Release), ms(p.Lease),
		RecordVersion, ms(FenceTTL(p.Release))).Slice()
	if err != nil {
		return nil, fmt.Errorf("lockscript: acquire %s: %w", name, err)
	}
	r := answer(reply)
	switch r.str(0) {
	case "acquired":
		return &Lock{Name: name, Params: p, Fence: r.int(1), AcquiredMS: r.int(2),
			GraceMS: r.int(3), DeadlineMS: r.int(4), TTL: r.dur(5)}, nil
	case "held":
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{
			Kind: "golock", Owner: r.str(1), Host: r.str(2), PID: r.str(3), Age: r.dur(4),
			TTL: r.dur(5), Fence: r.int(6), Released: r.str(7) != ""}}
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
	reply, err := extendScript.Run(ctx, c, []string{l.Name, FenceKey(l.Name), LastRunKey(l.Name)},
		l.Owner, ms(l.Lease), l.Fence, l.Host, l.PID, l.Command,
		l.AcquiredMS, l.GraceMS, l.DeadlineMS, RecordVersion, ms(FenceTTL(l.Release))).Slice()
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
		return Extension{}, &HeldError{Name: l.Name, err: ErrLost, Holder: holderOf(r, 1), Reset: r.str(4) == "reset"}
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
	reply, err := releaseScript.Run(ctx, c, []string{l.Name, FenceKey(l.Name), LastRunKey(l.Name)},
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
func Reset(ctx context.Context, c redis.Scripter, name string) (h Holder, found bool, err error) {
	reply, err := resetScript.Run(ctx, c, []string{name, FenceKey(name), LastRunKey(name)},
		Channel(name), ms(LastRunTTL), ms(FenceTTL(0))).Slice()
	if err != nil {
		return Holder{}, false, fmt.Errorf("lockscript: reset %s: %w", name, err)
	}
	r := answer(reply)
	if r.str(0) != "reset" {
		return Holder{}, false, nil
	}
	h = Holder{Kind: r.str(1), Owner: r.str(2), Host: r.str(3), PID: r.str(4), Fence: r.int(5)}
	switch h.Kind {
	case "hash":
		h.Kind = "golock"
	case "string":
		h.Kind = "cronlock"
	}
	return h, true, nil
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
