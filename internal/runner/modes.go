package runner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
	"github.com/redis/go-redis/v9"
)

// Reset clears the lock name (CRONLOCK_RESET) and revokes its holder, and returns golock's
// exit code. tty says stderr is a terminal: then what was cleared is said.
func Reset(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.Scripter, name string, tty bool) int {
	var cleared lockscript.Cleared
	by := lockscript.By{Host: hostname(), PID: os.Getpid(), Lifetime: cfg.Release}
	err := retry(ctx, cfg, log, tty, "reset the lock", func(ctx context.Context) (err error) {
		cleared, err = lockscript.Reset(ctx, c, name, by)
		return err
	})
	if err != nil {
		log.Error("cannot reset the lock at " + redisclient.Address(cfg) + ": " + said(err) + redisclient.Hint(err))
		log.Debug("the failure in detail", "err", err)
		return ExitFailed
	}
	// An operator at a terminal, or one who asked for VERBOSE, is told what the reset did;
	// cron is not.
	tell := notice(log, cfg.Verbose || tty)
	switch held := cleared.Holder; {
	case cleared.Kept > 0:
		tell(fmt.Sprintf("lock reset: it was held by %s, fence %d; that job is stopped at its next renewal "+
			"(SIGTERM, then SIGKILL after CRONLOCK_KILL_GRACE), and the lock stays taken until it has ended", held, held.Fence))
	case cleared.Found > 0:
		tell("lock reset: it held " + held.String())
	default:
		tell("lock was free; reset anyway, so that no earlier holder can write it back")
	}
	return ExitHeld
}

// Held is golock --held [--min-left S], run by a job: exit 0 when CRONLOCK_OWNER still
// holds CRONLOCK_LOCK with at least minLeft of its lease left, 1 when not, 201 on error.
// tell says the answer is shown (at a terminal, or under VERBOSE).
func Held(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.Scripter, environ []string, minLeft time.Duration, tell bool) int {
	vars := config.Vars(environ)
	name, owner := vars["CRONLOCK_LOCK"], vars["CRONLOCK_OWNER"]
	if name == "" || owner == "" {
		log.Error("--held runs inside a job that golock started: CRONLOCK_LOCK and CRONLOCK_OWNER are not set")
		return ExitFailed
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.RedisTimeout)
	defer cancel()
	a, err := lockscript.Held(ctx, c, name, owner, minLeft)
	if err != nil {
		log.Error("cannot ask Redis at "+redisclient.Address(cfg)+" whether the lock is held"+redisclient.Hint(err), "err", err)
		return ExitFailed
	}
	notice(log.With("lock", name), tell)(a.String())
	if a.Held {
		return 0
	}
	return 1
}
