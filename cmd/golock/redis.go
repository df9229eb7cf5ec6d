package main

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
)

func init() {
	// go-redis logs dial failures on its own; golock says what matters, once.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// newClient makes the Redis client. Every wait on Redis is bounded by REDIS_TIMEOUT, and
// the client does not retry on its own: retry does, on cronlock's schedule.
func newClient(cfg *config.Config) *redis.Client {
	o := *cfg.Redis()
	o.Protocol = 2
	o.DisableIdentity = true // no CLIENT SETINFO: nothing on the wire but the job's
	o.DialTimeout = cfg.RedisTimeout
	o.ReadTimeout = cfg.RedisTimeout
	o.WriteTimeout = cfg.RedisTimeout
	o.PoolTimeout = cfg.RedisTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	// After PoolSize failed dials the pool stops dialling and repeats the last error
	// until a probe of its own (once a second) gets through: keep PoolSize above the
	// retries, so that each retry really dials a Redis that may be back.
	o.PoolSize = 2 + min(cfg.ReconnectAttempts, 100)
	return redis.NewClient(&o)
}

// address is where Redis is, for messages: never with a password.
func address(cfg *config.Config) string {
	return cfg.Redis().Addr
}

// retry runs op until it succeeds, fails in a way a retry cannot mend, or
// RECONNECT_ATTEMPTS retries are spent; the n-th retry first waits (n-1) × RECONNECT_BACKOFF
// (0, 5, 10, 15, 20 seconds with the defaults, as cronlock does).
func retry(ctx context.Context, cfg *config.Config, log *slog.Logger, what string, op func(context.Context) error) error {
	for n := 0; ; n++ {
		if n > 0 {
			wait := time.Duration(n-1) * cfg.ReconnectBackoff
			log.Debug("retrying "+what, "attempt", n, "of", cfg.ReconnectAttempts, "after", wait.String())
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		err := op(ctx)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		if n >= cfg.ReconnectAttempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
		}
		log.Debug(what+" failed", "err", err)
	}
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
		for _, busy := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"} {
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

// authHint tells what to do about a refused password, or is "" for any other error.
func authHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "WRONGPASS"):
		return "; Redis refused the password: check CRONLOCK_USERNAME and CRONLOCK_AUTH"
	case strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "unauthenticated"):
		return "; Redis wants a password: set CRONLOCK_AUTH"
	}
	return ""
}
