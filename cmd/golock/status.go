package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/lockscript"
)

// status prints who holds each named lock and its last run: one line each, or JSON. With
// no names it lists every lock under CRONLOCK_PREFIX.
func status(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.UniversalClient, names []string, asJSON bool, stdout io.Writer) int {
	list := names == nil
	var sts []lockscript.Status
	err := retry(ctx, cfg, log, "inspect", func(ctx context.Context) (err error) {
		if list {
			if names, err = lockscript.List(ctx, c, cfg.Prefix); err != nil {
				return err
			}
		}
		sts = sts[:0]
		for _, name := range names {
			st, err := lockscript.Inspect(ctx, c, name)
			if err != nil {
				return err
			}
			sts = append(sts, st)
		}
		return nil
	})
	if err != nil {
		log.Error("cannot read the locks at "+address(cfg)+hint(err), "err", err)
		return exitFailed
	}
	if asJSON {
		out := make([]statusJSON, len(sts))
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

// statusLine is one lock on one line: its holder or "free", then its last run.
func statusLine(st lockscript.Status) string {
	var b strings.Builder
	b.WriteString(st.Name + ": ")
	switch h := st.Holder; {
	case h == nil:
		b.WriteString("free")
	case h.Kind == "golock":
		fmt.Fprintf(&b, "held by %s pid %s, owner %s, fence %d, age %s, ttl %s",
			h.Host, h.PID, h.Owner, h.Fence, secs(h.Age), ttl(h.TTL))
		if h.Released {
			b.WriteString(", job ended, held for grace")
		}
	case h.Kind == "cronlock":
		fmt.Fprintf(&b, "held by cronlock, ttl %s", ttl(h.TTL))
	default:
		fmt.Fprintf(&b, "held by a foreign %s value (golock leaves it alone; CRONLOCK_RESET=yes clears it)", h.Kind)
	}
	if l := st.Last; l != nil {
		fmt.Fprintf(&b, "; last run: %s pid %s, fence %d, started %s, took %s, exit %d",
			l.Host, l.PID, l.Fence, l.Started.UTC().Format(time.RFC3339), secs(l.Duration), l.Code)
		if !l.Ran {
			b.WriteString(" (could not start)")
		}
	}
	return b.String()
}

type statusJSON struct {
	Name    string    `json:"name"`
	State   string    `json:"state"` // free, held, released (held for grace), cronlock or foreign
	Owner   string    `json:"owner,omitempty"`
	Host    string    `json:"host,omitempty"`
	PID     string    `json:"pid,omitempty"`
	Fence   int64     `json:"fence,omitempty"`
	AgeMS   int64     `json:"age_ms,omitempty"`
	TTLMS   int64     `json:"ttl_ms,omitempty"`
	Type    string    `json:"type,omitempty"` // the Redis type of a foreign value
	LastRun *lastJSON `json:"last_run,omitempty"`
}

type lastJSON struct {
	Host       string    `json:"host"`
	PID        string    `json:"pid"`
	Fence      int64     `json:"fence"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
	Exit       int       `json:"exit"`
	Ran        bool      `json:"ran"`
}

func toJSON(st lockscript.Status) statusJSON {
	out := statusJSON{Name: st.Name, State: "free"}
	if h := st.Holder; h != nil {
		out.TTLMS = h.TTL.Milliseconds()
		switch h.Kind {
		case "golock":
			out.State, out.Owner, out.Host, out.PID, out.Fence, out.AgeMS = "held", h.Owner, h.Host, h.PID, h.Fence, h.Age.Milliseconds()
			if h.Released {
				out.State = "released"
			}
		case "cronlock":
			out.State = "cronlock"
		default:
			out.State, out.Type = "foreign", h.Kind
		}
	}
	if l := st.Last; l != nil {
		out.LastRun = &lastJSON{Host: l.Host, PID: l.PID, Fence: l.Fence, Started: l.Started.UTC(),
			DurationMS: l.Duration.Milliseconds(), Exit: l.Code, Ran: l.Ran}
	}
	return out
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
