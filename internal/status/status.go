// Package status shows golock's locks to a person or a program: golock --status and --list,
// one line per lock or JSON, and golock --check, a Nagios/Icinga plugin. It only reads:
// every lock through lockscript.Inspect, tried once, since someone is waiting for the answer.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/check"
	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
)

// failed is golock's exit code when Redis cannot be read.
const failed = 201

// Show prints who holds each named lock and its last run: one line each, or JSON, and
// returns golock's exit code. Redis is tried once, each wait bounded by REDIS_TIMEOUT, not
// on the reconnect schedule.
func Show(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.UniversalClient, names []string, asJSON bool, stdout io.Writer) int {
	return show(ctx, cfg, log, c, names, false, asJSON, stdout)
}

// List is Show for every lock under CRONLOCK_PREFIX that golock has a record of: held, held
// for grace, or free with a last run; with heldOnly, the held ones only.
func List(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.UniversalClient, heldOnly, asJSON bool, stdout io.Writer) int {
	lister := lockscript.ListRecorded
	if heldOnly {
		lister = lockscript.List
	}
	names, err := lister(ctx, c, cfg.Prefix)
	if err != nil {
		log.Error("cannot read the locks at "+redisclient.Address(cfg)+redisclient.Hint(err), "err", err)
		return failed
	}
	return show(ctx, cfg, log, c, names, true, asJSON, stdout)
}

func show(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.UniversalClient, names []string, list, asJSON bool, stdout io.Writer) int {
	sts, err := inspect(ctx, c, names)
	if err != nil {
		log.Error("cannot read the locks at "+redisclient.Address(cfg)+redisclient.Hint(err), "err", err)
		return failed
	}
	if asJSON {
		out := make([]LockJSON, len(sts))
		for i, st := range sts {
			out[i] = toJSON(st)
		}
		enc := json.NewEncoder(stdout)
		if list {
			_ = enc.Encode(out)
		} else {
			_ = enc.Encode(out[0])
		}
		return 0
	}
	for _, st := range sts {
		fmt.Fprintln(stdout, statusLine(st))
	}
	return 0
}

// Check is --check: the lock judged as a Nagios/Icinga plugin (package check), one line
// on stdout, the plugin's code as exit code. Redis is tried once, as for --status.
func Check(ctx context.Context, cfg *config.Config, c redis.Scripter, name string, maxAge time.Duration, stdout io.Writer) int {
	st, err := lockscript.Inspect(ctx, c, name)
	r := check.Judge(st, maxAge)
	if err != nil {
		r = check.Unreadable(name, fmt.Errorf("at %s: %w%s", redisclient.Address(cfg), err, redisclient.Hint(err)))
	}
	fmt.Fprintln(stdout, r)
	return r.Code
}

// inspect reads the named locks.
func inspect(ctx context.Context, c redis.UniversalClient, names []string) ([]lockscript.Status, error) {
	sts := make([]lockscript.Status, 0, len(names))
	for _, name := range names {
		st, err := lockscript.Inspect(ctx, c, name)
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	return sts, nil
}

// statusLine is one lock on one line: its holder or "free", then its last run. Times are
// Redis's clock, in UTC.
func statusLine(st lockscript.Status) string {
	var b strings.Builder
	b.WriteString(st.Name + ": ")
	switch h := st.Holder; {
	case h == nil:
		b.WriteString("free")
	case h.Kind == lockscript.Golock:
		fmt.Fprintf(&b, "held by %s pid %d, owner %s, fence %d, since %s (age %s), ttl %s",
			h.Host, h.PID, h.Owner, h.Fence, ISO(st.Record.Acquired), secs(h.Age), ttl(h.TTL))
		if h.Released {
			fmt.Fprintf(&b, ", job ended, held for grace until %s", ISO(st.Record.GraceEnds))
		}
		fmt.Fprintf(&b, ", command %s", strconv.Quote(st.Record.Command))
		b.WriteString(otherHolders(st))
	case h.Kind == lockscript.Cronlock:
		fmt.Fprintf(&b, "held by cronlock until %s, ttl %s", ISO(h.Expires), ttl(h.TTL))
	default:
		fmt.Fprintf(&b, "held by a foreign %s value (golock leaves it alone; CRONLOCK_RESET=yes clears it)", h.Type)
	}
	if l := st.Last; l != nil {
		fmt.Fprintf(&b, "; last run: %s pid %d, fence %d, started %s, took %s, exit %d",
			l.Host, l.PID, l.Fence, ISO(l.Started), secs(l.Duration), l.Code)
		if !l.Ran {
			b.WriteString(" (could not start)")
		}
		if l.Ended != lockscript.Succeeded && l.Ended != lockscript.Failed {
			fmt.Fprintf(&b, " (%s)", l.Ended)
		}
		if st.Holder == nil && l.Command != "" { // a held lock has named its command already
			fmt.Fprintf(&b, ", command %s", strconv.Quote(l.Command))
		}
		if l.Code != 0 || !l.Ran {
			if l.Success.IsZero() {
				b.WriteString("; no success recorded")
			} else {
				fmt.Fprintf(&b, "; last success ended %s", ISO(l.Success))
			}
		}
	}
	return b.String()
}

// LockJSON is one lock in --json: numbers are numbers, and each moment is given twice,
// in unix milliseconds (as the lock record holds it) and in ISO 8601, UTC.
type LockJSON struct {
	Name  string `json:"name"`
	State string `json:"state"` // free, held, released (held for grace), cronlock or foreign
	Owner string `json:"owner,omitempty"`
	Host  string `json:"host,omitempty"`
	PID   int    `json:"pid,omitempty"`
	Fence int64  `json:"fence,omitempty"`
	// Command is the recorded command line ("sha256:..." under CRONLOCK_RECORD_CMD=no).
	Command      string    `json:"command,omitempty"`
	AgeMS        int64     `json:"age_ms,omitempty"`
	TTLMS        int64     `json:"ttl_ms,omitempty"` // -1: the key has no expiry
	AcquiredMS   int64     `json:"acquired_ms,omitempty"`
	Acquired     string    `json:"acquired,omitempty"`
	GraceUntilMS int64     `json:"grace_until_ms,omitempty"`
	GraceUntil   string    `json:"grace_until,omitempty"`
	DeadlineMS   int64     `json:"deadline_ms,omitempty"`
	Deadline     string    `json:"deadline,omitempty"`
	ReleasedMS   int64     `json:"released_ms,omitempty"` // the job ended; held for grace
	Released     string    `json:"released,omitempty"`
	ExpiresMS    int64     `json:"expires_ms,omitempty"` // a cronlock lock: the second its value names
	Expires      string    `json:"expires,omitempty"`
	Type         string    `json:"type,omitempty"` // the Redis type of a foreign value
	LastRun      *lastJSON `json:"last_run,omitempty"`
	// Others are the holders beyond the first under CRONLOCK_LIMIT above 1.
	Others []holderJSON `json:"others,omitempty"`
}

type lastJSON struct {
	Host       string `json:"host"`
	PID        int    `json:"pid"`
	Fence      int64  `json:"fence"`
	StartedMS  int64  `json:"started_ms"`
	Started    string `json:"started"`
	EndedMS    int64  `json:"ended_ms"`
	Ended      string `json:"ended"`
	DurationMS int64  `json:"duration_ms"`
	Exit       int    `json:"exit"`
	Ran        bool   `json:"ran"`
	// Outcome is how the run ended: ok, failed, timeout, revoked, replaced or lost.
	Outcome string `json:"outcome"`
	Command string `json:"command,omitempty"`
	// The end of the last run that exited 0 (this one, or an earlier one); absent when
	// none is recorded.
	SuccessMS int64  `json:"success_ms,omitempty"`
	Success   string `json:"success,omitempty"`
}

func toJSON(st lockscript.Status) LockJSON {
	out := LockJSON{Name: st.Name, State: "free"}
	if h := st.Holder; h != nil {
		out.TTLMS = h.TTL.Milliseconds()
		switch h.Kind {
		case lockscript.Golock:
			out.State, out.Owner, out.Host, out.PID, out.Fence, out.AgeMS = "held", h.Owner, h.Host, h.PID, h.Fence, h.Age.Milliseconds()
			if h.Released {
				out.State = "released"
			}
			r := st.Record
			out.Command = r.Command
			out.AcquiredMS, out.Acquired = moment(r.Acquired)
			out.GraceUntilMS, out.GraceUntil = moment(r.GraceEnds)
			out.DeadlineMS, out.Deadline = moment(r.Deadline)
			out.ReleasedMS, out.Released = moment(r.Released)
		case lockscript.Cronlock:
			out.State = "cronlock"
			out.ExpiresMS, out.Expires = moment(h.Expires)
		default:
			out.State, out.Type = "foreign", h.Type
		}
	}
	out.Others = othersJSON(st)
	if l := st.Last; l != nil {
		out.LastRun = &lastJSON{Host: l.Host, PID: l.PID, Fence: l.Fence,
			DurationMS: l.Duration.Milliseconds(), Exit: l.Code, Ran: l.Ran, Outcome: string(l.Ended), Command: l.Command}
		out.LastRun.StartedMS, out.LastRun.Started = moment(l.Started)
		out.LastRun.EndedMS, out.LastRun.Ended = moment(l.Started.Add(l.Duration))
		out.LastRun.SuccessMS, out.LastRun.Success = moment(l.Success)
	}
	return out
}

// moment is t in unix milliseconds and in ISO 8601 UTC; 0 and "" for the zero time.
func moment(t time.Time) (int64, string) {
	if t.IsZero() {
		return 0, ""
	}
	return t.UnixMilli(), ISO(t)
}

// ISO is t in ISO 8601, UTC, to the millisecond: Redis's clock, as every time golock
// shows; "unknown" for the zero time.
func ISO(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// ttl says how long a key has left; Redis's -1 means it has no expiry.
func ttl(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return secs(d)
}

func secs(d time.Duration) string {
	return d.Round(100 * time.Millisecond).String()
}

// otherHolders is the holders of slots 2..N (CRONLOCK_LIMIT above 1) for a --status line.
func otherHolders(st lockscript.Status) string {
	var b strings.Builder
	for _, s := range st.Others {
		fmt.Fprintf(&b, "; also held by %s pid %d, owner %s, fence %d, since %s (age %s), ttl %s",
			s.Holder.Host, s.Holder.PID, s.Holder.Owner, s.Holder.Fence, ISO(s.Record.Acquired), secs(s.Holder.Age), ttl(s.Holder.TTL))
		if s.Holder.Released {
			b.WriteString(", job ended")
		}
	}
	return b.String()
}

// holderJSON is one more holder in --status --json (CRONLOCK_LIMIT above 1).
type holderJSON struct {
	Owner      string `json:"owner"`
	Host       string `json:"host"`
	PID        int    `json:"pid"`
	Fence      int64  `json:"fence"`
	AgeMS      int64  `json:"age_ms"`
	TTLMS      int64  `json:"ttl_ms"`
	AcquiredMS int64  `json:"acquired_ms"`
	Acquired   string `json:"acquired"`
	Released   bool   `json:"released"`
}

func othersJSON(st lockscript.Status) []holderJSON {
	var out []holderJSON
	for _, s := range st.Others {
		h := holderJSON{Owner: s.Holder.Owner, Host: s.Holder.Host, PID: s.Holder.PID, Fence: s.Holder.Fence,
			AgeMS: s.Holder.Age.Milliseconds(), TTLMS: s.Holder.TTL.Milliseconds(), Released: s.Holder.Released}
		h.AcquiredMS, h.Acquired = moment(s.Record.Acquired)
		out = append(out, h)
	}
	return out
}
