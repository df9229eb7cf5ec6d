package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
)

// retry runs op until it succeeds, fails in a way a retry cannot mend, or
// RECONNECT_ATTEMPTS retries are spent; the n-th retry first waits (n-1) × RECONNECT_BACKOFF
// (0, 5, 10, 15, 20 seconds with the defaults, as cronlock does). what is what op does
// ("take the lock"); each retry is one line, at a terminal (tty) or under VERBOSE.
func retry(ctx context.Context, cfg *config.Config, log *slog.Logger, tty bool, what string, op func(context.Context) error) error {
	tell := notice(log, tty)
	for n := 0; ; n++ {
		err := op(ctx)
		if err == nil || !retryable(err) || cut(ctx) {
			return err
		}
		if n >= cfg.ReconnectAttempts {
			return &gaveUp{err: err, retries: n, attempts: cfg.ReconnectAttempts, timeout: cfg.RedisTimeout}
		}
		wait := time.Duration(n) * cfg.ReconnectBackoff
		tell(fmt.Sprintf("cannot %s at %s; retrying in %v s, %d of %d", what, redisclient.Address(cfg), wait.Seconds(),
			n+1, cfg.ReconnectAttempts), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// notice is how a line for the person at a terminal is logged: at info level when tty
// (stderr is a terminal, so never under cron), else as a debug line, shown under VERBOSE.
func notice(log *slog.Logger, tty bool) func(msg string, args ...any) {
	if tty {
		return log.Info
	}
	return log.Debug
}

// retryable tells a Redis that cannot be reached, or is still starting, from one that
// answered: only the first is worth another attempt.
func retryable(err error) bool {
	var rerr redis.Error
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &rerr):
		// READONLY: a replica answered (a failover under way); the client finds the master.
		// "ERR max number of clients": Redis took no command, and a connection may be free
		// by the next try (jobs end, other hosts' runs finish).
		for _, busy := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY",
			redisclient.MaxClients} {
			if strings.HasPrefix(rerr.Error(), busy) {
				return true
			}
		}
		return false
	case errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// timedOut tells whether err is Redis not answering in time.
func timedOut(err error) bool {
	var nerr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout()
}

// gaveUp is retry's error when Redis could not be reached on any try.
type gaveUp struct {
	err      error // the last try's
	retries  int   // how many retries followed the first try
	attempts int   // CRONLOCK_RECONNECT_ATTEMPTS
	timeout  time.Duration
}

// Error says what the last try met and how often golock tried, in the settings' terms.
func (e *gaveUp) Error() string {
	what := cause(e.err)
	if timedOut(e.err) {
		what = fmt.Sprintf("no answer within CRONLOCK_REDIS_TIMEOUT=%vs", e.timeout.Seconds())
	}
	return fmt.Sprintf("%s; gave up after %d retries (CRONLOCK_RECONNECT_ATTEMPTS=%d)", what, e.retries, e.attempts)
}

func (e *gaveUp) Unwrap() error { return e.err }
