package main

// The wiring of the fleet policies (package policy; see the manual): splay, LIMIT,
// INTERVAL, LOCK_DELAY, REPLACE and golock --held. run.go calls these from one block in
// job.acquire and from run's mode switch.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/heartbeat"
	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
	"github.com/golock/golock/policy"
)

// withPolicies adds the policies the acquire script decides to p.
func (j *job) withPolicies(p lockscript.Params) lockscript.Params {
	p.Limit, p.Interval, p.Delay, p.OnLost = j.cfg.Limit, j.cfg.Interval, j.cfg.LockDelay, j.cfg.OnLost
	return p
}

// splay sleeps CRONLOCK_SPLAY's random part; false when a signal ended it (nothing runs).
func (j *job) splay(ctx context.Context) bool {
	slept, ok := policy.Splay(ctx, j.cfg.Splay)
	if !ok {
		j.log.Debug("interrupted during CRONLOCK_SPLAY's sleep; nothing ran")
		return false
	}
	if j.cfg.Splay > 0 {
		j.log.Debug("slept before taking the lock (CRONLOCK_SPLAY)", "slept", slept.Round(time.Millisecond).String())
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
		rctx, cancel := context.WithTimeout(ctx, j.cfg.RedisTimeout)
		bound, revoked, err := policy.Replace(rctx, j.client, h.Name, h.Holder,
			policy.Replacer{Host: hostname(), PID: os.Getpid(), Release: j.cfg.Release})
		cancel()
		switch {
		case errors.Is(err, policy.ErrKeep), errors.Is(err, policy.ErrNotGolock):
			j.log.Warn(heldBy(h.Holder, time.Now()) + "; not replaced: " + strings.TrimPrefix(err.Error(), "policy: ") + " (exit 200)")
			return held
		case errors.Is(err, policy.ErrJobEnded):
			return held
		case err != nil:
			return err
		case !revoked:
			if held = try(ctx); held == nil || !errors.Is(held, lockscript.ErrHeld) {
				return held
			}
			continue
		}
		notice(j.log, j.tty)(fmt.Sprintf("revoked %s (CRONLOCK_REPLACE); its job is ended at its next renewal", h.Holder))
		return j.wait(ctx, bound+replaceMargin, "CRONLOCK_REPLACE", try, held)
	}
	return held
}

// killAt is when a job whose lock was lost gets SIGKILL, after SIGTERM at once. A lock
// revoked by CRONLOCK_REPLACE is still ours in Redis until our release (nobody else can
// take it), so the job gets KILL_GRACE to end on SIGTERM: the loss came before the kill
// point, LEASE − KILL_GRACE after the last confirmed renewal, so the lease outlasts it.
// Any other loss: a moment before the lease ends, not at it: the kill takes a few
// milliseconds, and a competitor may take the lock the instant it ends.
func (j *job) killAt(loss *heartbeat.Loss) time.Time {
	margin := min(killMargin, j.cfg.KillGrace/2)
	var held *lockscript.HeldError
	if errors.As(loss.Err, &held) && held.Replaced {
		return loss.End.Add(j.cfg.KillGrace - margin)
	}
	return loss.End.Add(-margin)
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
		if limit.Holder.Kind != "" {
			j.log.Error(msg, "holder", limit.Holder.String())
		} else {
			j.log.Error(msg)
		}
		return exitFailed, true
	case errors.As(err, &soon):
		notice(j.log, j.tty)(fmt.Sprintf("last successful run started %s; CRONLOCK_INTERVAL=%v has not passed, next run in %v (exit 200)",
			clock(soon.LastOK, time.Now()), j.cfg.Interval.Seconds(), soon.WaitFor.Round(time.Second)))
		return exitHeld, true
	}
	return 0, false
}

// heldMode is golock --held [--min-left S], run by a job: exit 0 when CRONLOCK_OWNER still
// holds CRONLOCK_LOCK with at least minLeft of its lease left, 1 when not, 201 on error.
func heldMode(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.Scripter, environ []string, minLeft time.Duration, stderr io.Writer) int {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	name, owner := vars["CRONLOCK_LOCK"], vars["CRONLOCK_OWNER"]
	if name == "" || owner == "" {
		log.Error("--held runs inside a job that golock started: CRONLOCK_LOCK and CRONLOCK_OWNER are not set")
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.RedisTimeout)
	defer cancel()
	a, err := policy.Held(ctx, c, name, owner, minLeft)
	if err != nil {
		log.Error("cannot ask Redis at "+redisclient.Address(cfg)+" whether the lock is held"+redisclient.Hint(err), "err", err)
		return exitFailed
	}
	notice(log.With("lock", name), cfg.Verbose || isTerminal(stderr))(a.String())
	if a.Held {
		return 0
	}
	return 1
}

// otherHolders is the holders of slots 2..N (CRONLOCK_LIMIT above 1) for a --status line.
func otherHolders(st lockscript.Status) string {
	var b strings.Builder
	for _, s := range st.Others {
		fmt.Fprintf(&b, "; also held by %s pid %s, owner %s, fence %d, since %s (age %s), ttl %s",
			s.Holder.Host, s.Holder.PID, s.Holder.Owner, s.Holder.Fence, iso(s.Record.Acquired), secs(s.Holder.Age), ttl(s.Holder.TTL))
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
		h := holderJSON{Owner: s.Holder.Owner, Host: s.Holder.Host, PID: atoi(s.Holder.PID), Fence: s.Holder.Fence,
			AgeMS: s.Holder.Age.Milliseconds(), TTLMS: s.Holder.TTL.Milliseconds(), Released: s.Holder.Released}
		h.AcquiredMS, h.Acquired = moment(s.Record.Acquired)
		out = append(out, h)
	}
	return out
}
