package runner

import (
	"context"
	"log/slog"
	"os"

	"github.com/golock/golock/internal/ping"
	"github.com/golock/golock/internal/version"
	"github.com/golock/golock/lockscript"
)

// pings are a run's pings to CRONLOCK_PING_URL, sent only by the run that took the lock,
// with its owner token as the run id; with no URL they do nothing. A ping is bounded by
// CRONLOCK_PING_TIMEOUT, and one that fails is a debug line (shown under VERBOSE): it
// never changes the job or its exit code.
type pings struct {
	p   *ping.Pinger // nil: no CRONLOCK_PING_URL
	log *slog.Logger
}

func (j *job) pings(lock *lockscript.Lock) pings {
	if j.Config.PingURL == "" {
		return pings{}
	}
	p, err := ping.New(j.Config.PingURL, lock.Owner, j.Config.PingTimeout, "golock/"+version.String())
	if err != nil { // config has checked the URL
		j.Log.Debug("no pings: CRONLOCK_PING_URL "+err.Error(), "err", err)
		return pings{}
	}
	return pings{p, j.Log}
}

// start pings URL/start: the job starts. It returns the signal that ended the ping, if
// one did: then the job must not start.
func (s pings) start(ctx context.Context, sigs <-chan os.Signal) os.Signal {
	if s.p == nil {
		return nil
	}
	ctx, stop := watchSignals(ctx, sigs)
	s.said("start", s.p.Start(ctx))
	return stop()
}

// exit pings URL, or URL/<code> when code is not 0: the job ended, and golock exits so. A
// signal ends the ping at once.
func (s pings) exit(ctx context.Context, sigs <-chan os.Signal, code int) {
	if s.p == nil {
		return
	}
	ctx, stop := watchSignals(ctx, sigs)
	s.said("exit", s.p.Exit(ctx, code))
	stop()
}

func (s pings) said(which string, err error) {
	if err != nil {
		s.log.Debug("ping not delivered (CRONLOCK_PING_URL); the job is not affected", "ping", which, "err", err)
	}
}
