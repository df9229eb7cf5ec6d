package lockscript

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// Options describe the run a lock is taken for, and the fleet policies it takes it under.
// The policies' zero values leave the lock as cronlock's: one holder, no interval, no delay.
type Options struct {
	Owner    string        // owner token, a fresh UUID v4 per run
	Host     string        // recorded for people reading the lock
	PID      int           // recorded for people reading the lock
	Command  string        // command line, cut to at most MaxCommand bytes (whole characters)
	Grace    time.Duration // the lock is held at least this long from acquisition
	Lifetime time.Duration // the lock lives at most this long (CRONLOCK_RELEASE), however it is renewed
	Lease    time.Duration // the TTL each renewal sets

	// Limit is how many may hold the lock at once (a slot each); 0 means 1.
	Limit int
	// Interval allows at most one successful run per Interval, by Redis's clock; 0: off.
	Interval time.Duration
	// Delay keeps the key of a holder that vanished this much beyond its lease; 0: off.
	Delay time.Duration
	// Keep says the job runs on when its lock is lost (CRONLOCK_ON_LOST=keep); it is
	// recorded, so that Replace spares such a holder.
	Keep bool
	// MinReplicas is how many replicas must acknowledge the acquire (WAIT, on the
	// connection that ran it) before Acquire returns; 0: none. ReplicaWait bounds the
	// wait; zero means one second.
	MinReplicas int
	ReplicaWait time.Duration
	// Mixed keeps the lock in cronlock's form, for a fleet where cronlock still runs
	// (CRONLOCK_MIXED_FLEET): Name holds the unix second in which the lease ends, moved with
	// every renewal, and the lock record is a hash at RecordKey(Name) beside it. cronlock
	// then finds the lock held (exit 200) instead of a WRONGTYPE error. It takes one holder:
	// Acquire refuses it with a Limit above 1. False: the lock is the record itself, a hash.
	Mixed bool
}

func (o Options) limit() int { return max(1, o.Limit) }

func (o Options) onLost() string {
	if o.Keep {
		return "keep"
	}
	return "kill"
}

// MaxCommand is the most bytes of the command line a record keeps.
const MaxCommand = 512

// Lock is a lock we hold, as Redis confirmed it. Times are Redis's clock.
type Lock struct {
	Name string
	// Slot is the slot held (from 1) under a Limit above 1; its key is SlotKey(Name, Slot).
	// 0 and 1 are Name itself.
	Slot     int
	Fence    int64
	Acquired time.Time     // when Redis wrote the lock: its clock, read in the acquire
	GraceEnd time.Time     // Acquired + Grace: the lock is held at least until then
	Deadline time.Time     // Acquired + Lifetime: the lock lapses then
	TTL      time.Duration // the lease acquire set
	// Clock is Redis's clock as it answered the acquire: Acquired, or later when an earlier
	// try of ours had taken the lock and only its reply was lost.
	Clock time.Time
	Options
	c redis.Scripter // renewals and the release go through it
}

// Key is the Redis key of the slot l holds: its Name, or SlotKey(Name, Slot).
func (l *Lock) Key() string { return SlotKey(l.Name, l.Slot) }

// Acquire takes the lock name for o in one round trip (two more with o.MinReplicas: the
// acquire then runs on a connection of its own, and WAIT follows on it). When another
// owner holds the lock the error is a *HeldError wrapping ErrHeld; a policy's refusal is a
// *LimitError or a *TooSoonError. The returned Lock renews and releases through c.
func Acquire(ctx context.Context, c redis.UniversalClient, name string, o Options) (*Lock, error) {
	o.Command = cut(o.Command, MaxCommand)
	if o.Mixed && o.limit() > 1 {
		return nil, fmt.Errorf("lockscript: acquire %s: cronlock's string form (Mixed) takes one holder, not a Limit of %d", name, o.Limit)
	}
	var on redis.Scripter = c
	var pinned *redis.Conn
	if o.MinReplicas > 0 {
		var err error
		if pinned, err = pin(ctx, c, name); err != nil {
			return nil, fmt.Errorf("lockscript: acquire %s: %w", name, err)
		}
		defer pinned.Close()
		on = pinned
	}
	keys := append([]string{name, FenceKey(name), LastRunKey(name), LimitKey(name)}, slotKeys(name, o.limit())...)
	if o.Mixed {
		keys = append(keys, RecordKey(name))
	}
	reply, err := script(acquire).Run(ctx, on, keys,
		o.Owner, o.Host, o.PID, o.Command, ms(o.Grace), ms(o.Lifetime), ms(o.Lease),
		RecordVersion, ms(FenceTTL(o.Lifetime)), o.limit(), ms(o.Interval), ms(o.Delay), o.onLost(),
		ms(LastRunTTL), o.Mixed).Slice()
	if err != nil {
		return nil, fmt.Errorf("lockscript: acquire %s: %w", name, err)
	}
	var l *Lock
	switch rest := reply[min(1, len(reply)):]; status(reply) {
	case "acquired":
		var r struct {
			Fence                      int64
			Acquired, GraceEnd, Deadln time.Time
			TTL                        time.Duration
			Slot                       int
			Clock                      time.Time
		}
		decode(rest, &r)
		l = &Lock{Name: name, Slot: r.Slot, Fence: r.Fence, Acquired: r.Acquired, GraceEnd: r.GraceEnd,
			Deadline: r.Deadln, TTL: r.TTL, Clock: r.Clock, Options: o, c: c}
	case "held":
		var r struct {
			Owner, Host string
			PID         int
			Age, TTL    time.Duration
			Fence       int64
			Released    bool
			Holders     int
		}
		decode(rest, &r)
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{Kind: Golock, Owner: r.Owner, Host: r.Host,
			PID: r.PID, Age: r.Age, TTL: r.TTL, Fence: r.Fence, Released: r.Released, Holders: r.Holders}}
	case "limit-conflict":
		var r struct {
			Theirs      string
			Owner, Host string
			PID         int
		}
		decode(rest, &r)
		return nil, &LimitError{Name: name, Ours: o.limit(), Theirs: r.Theirs,
			Holder: holderReply{r.Owner, r.Host, r.PID}.holder()}
	case "too-soon":
		var r struct {
			LastOK  time.Time
			WaitFor time.Duration
		}
		decode(rest, &r)
		return nil, &TooSoonError{Name: name, LastOK: r.LastOK, WaitFor: r.WaitFor}
	case "held-legacy":
		var r struct {
			Expires int64
			TTL     time.Duration
		}
		decode(rest, &r)
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{Kind: Cronlock, TTL: r.TTL,
			Expires: time.Unix(r.Expires, 0)}}
	case "held-foreign":
		var r struct {
			Type string
			TTL  time.Duration
		}
		decode(rest, &r)
		return nil, &HeldError{Name: name, err: ErrHeld, Holder: Holder{Kind: Foreign, Type: r.Type, TTL: r.TTL}}
	default:
		return nil, unexpected("acquire", name, reply)
	}
	if pinned != nil {
		if err := l.replicate(ctx, pinned); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// pin returns one connection to the master that holds name's key: WAIT counts only the
// writes made on its own connection.
func pin(ctx context.Context, c redis.UniversalClient, name string) (*redis.Conn, error) {
	switch c := c.(type) {
	case *redis.ClusterClient:
		node, err := c.MasterForKey(ctx, name)
		if err != nil {
			return nil, err
		}
		return node.Conn(), nil
	case *redis.Client:
		return c.Conn(), nil
	}
	return nil, fmt.Errorf("CRONLOCK_MIN_REPLICAS is not supported with a %T", c)
}

// replicate waits for MinReplicas replicas to acknowledge the acquire made on conn, and
// gives the lock back when too few do. The server gives up a moment before ReplicaWait, so
// that its answer still arrives within it.
func (l *Lock) replicate(ctx context.Context, conn *redis.Conn) error {
	bound := l.ReplicaWait
	if bound <= 0 {
		bound = time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, bound)
	n, err := conn.Wait(wctx, l.MinReplicas, max(time.Millisecond, bound-min(bound/10, 100*time.Millisecond))).Result()
	cancel()
	if err == nil && n >= int64(l.MinReplicas) {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	_, _ = l.Release(rctx, NotTried) // a failure is bounded: the lease frees the lock

	return &ReplicaError{Acked: int(n), Wanted: l.MinReplicas, Err: err}
}

// Renewal is what a confirmed Renew reports.
type Renewal struct {
	TTL           time.Duration // the lease now set on the key
	UntilDeadline time.Duration // time left before Options.Lifetime ends the lock
	Reestablished bool          // the key was missing and has been written again
	Clock         time.Time     // Redis's clock when it ran the renewal
}

// Renew renews l's lease, and writes the lock again when Redis lost it. It returns a
// *HeldError wrapping ErrLost when another owner holds the lock, or has held it since l was
// taken (the fence counter is past l's fence), and ErrExpired once the lock is past its
// deadline.
func (l *Lock) Renew(ctx context.Context) (Renewal, error) {
	keys := []string{l.Key(), FenceKey(l.Name), LastRunKey(l.Name)}
	switch {
	case l.Mixed:
		keys = append(keys, RecordKey(l.Name))
	case l.limit() > 1:
		keys = append(keys, LimitKey(l.Name))
	}
	reply, err := script(extend).Run(ctx, l.c, keys,
		l.Owner, ms(l.Lease), l.Fence, l.Host, l.PID, l.Command,
		l.Acquired.UnixMilli(), l.GraceEnd.UnixMilli(), l.Deadline.UnixMilli(), RecordVersion,
		ms(FenceTTL(l.Lifetime)), ms(l.Delay), l.limit(), l.onLost(), l.Mixed).Slice()
	if err != nil {
		return Renewal{}, fmt.Errorf("lockscript: extend %s: %w", l.Name, err)
	}
	switch rest := reply[min(1, len(reply)):]; status(reply) {
	case "extended", "re-established":
		var r Renewal
		decode(rest, &r)
		r.Reestablished = status(reply) == "re-established"
		r.Clock = l.Deadline.Add(-r.UntilDeadline)
		return r, nil
	case "lost":
		var r struct {
			Owner, Host string
			PID         int
			Why         string
		}
		decode(rest, &r)
		h := holderReply{r.Owner, r.Host, r.PID}.holder()
		if r.Why == "cronlock" {
			h.Kind = Cronlock
		}
		return Renewal{}, &HeldError{Name: l.Name, err: ErrLost, Holder: h,
			Reset: r.Why == "reset", Replaced: r.Why == "replace"}
	case "expired":
		return Renewal{}, ErrExpired
	}
	return Renewal{}, unexpected("extend", l.Name, reply)
}

// Ending is how a run ended, as its last-run record says.
type Ending string

const (
	Succeeded Ending = "ok"       // the job exited 0
	Failed    Ending = "failed"   // the job exited non-zero, or could not start
	TimedOut  Ending = "timeout"  // the job was killed by its timeout
	Revoked   Ending = "revoked"  // the job was stopped: a reset revoked its lock
	Replaced  Ending = "replaced" // the job was stopped: a replacing run revoked its lock
	Lost      Ending = "lost"     // the lock was gone or another's by the end: runs may have overlapped
)

// Outcome is how a job ended, for Release.
type Outcome struct {
	Ran  bool // the command started; false means it could not (then Code is 126 or 127)
	Code int  // its exit code; -1 when it was never tried, which leaves no last-run record
	// Ended is how the run ended; "" means Succeeded or Failed, by Ran and Code. The record
	// says Lost instead when Release finds the lock gone or another's.
	Ended Ending
}

func (o Outcome) ending() Ending {
	switch {
	case o.Ended != "":
		return o.Ended
	case o.Ran && o.Code == 0:
		return Succeeded
	}
	return Failed
}

// NotTried is the Outcome of a lock given back before its command was tried.
var NotTried = Outcome{Code: -1}

// Release lets go of l and records the run as the lock's last, unless a newer run is
// recorded already. When the command ran, the lock stays until its grace time and the
// returned duration says how much longer; when it did not, the lock is deleted at once.
// Release never touches another owner's lock: then it returns a *HeldError wrapping
// ErrNotOwner. A lock already gone returns ErrGone. Either way the run is recorded Lost.
func (l *Lock) Release(ctx context.Context, o Outcome) (time.Duration, error) {
	keys := []string{l.Key(), FenceKey(l.Name), LastRunKey(l.Name)}
	if l.Mixed {
		keys = append(keys, RecordKey(l.Name))
	}
	reply, err := script(release).Run(ctx, l.c, keys,
		l.Owner, o.Ran, Channel(l.Name), o.Code, l.Host, l.PID, l.Fence, l.Acquired.UnixMilli(),
		ms(LastRunTTL), ms(FenceTTL(l.Lifetime)), string(o.ending()), l.Command, l.Mixed).Slice()
	if err != nil {
		return 0, fmt.Errorf("lockscript: release %s: %w", l.Name, err)
	}
	switch rest := reply[min(1, len(reply)):]; status(reply) {
	case "released":
		return 0, nil
	case "missing":
		return 0, ErrGone
	case "held-grace":
		var r struct{ Left time.Duration }
		decode(rest, &r)
		return r.Left, nil
	case "not-owner":
		var r holderReply
		decode(rest, &r)
		return 0, &HeldError{Name: l.Name, err: ErrNotOwner, Holder: r.holder()}
	}
	return 0, unexpected("release", l.Name, reply)
}

// Abandon gives back whatever an acquire for o that was cut short (its reply never came)
// may have taken of name: a release by o's owner token in every slot, which touches
// nothing of anyone else's.
func Abandon(ctx context.Context, c redis.UniversalClient, name string, o Options) error {
	for slot := 1; slot <= o.limit(); slot++ {
		l := &Lock{Name: name, Slot: slot, Acquired: time.UnixMilli(0), Options: o, c: c}
		if _, err := l.Release(ctx, NotTried); err != nil && !errors.Is(err, ErrNotOwner) && !errors.Is(err, ErrGone) {
			return err
		}
	}
	return nil
}

// slotKeys are the keys of slots 2..limit of name.
func slotKeys(name string, limit int) []string {
	var keys []string
	for k := 2; k <= limit; k++ {
		keys = append(keys, SlotKey(name, k))
	}
	return keys
}

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
