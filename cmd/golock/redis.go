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
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/golock/golock/internal/config"
)

func init() {
	// go-redis logs dial failures on its own; golock says what matters, once.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// newClient makes the Redis client: for one Redis, for the master the sentinels name, or
// for a cluster. Every wait on Redis is bounded by REDIS_TIMEOUT, and the client does not
// retry on its own: retry and the heartbeat do, and each of their attempts dials afresh
// when there is no connection (dial.go).
func newClient(cfg *config.Config) redis.UniversalClient {
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
	// A renewal stuck on a dead connection, the release and the connection pinned for
	// WAIT are the most golock holds at once.
	o.PoolSize = 4
	// golock speaks RESP2, where maintenance notifications cannot come; disabled, the
	// client also skips resolving the host's name when it is made (a run's start-up).
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if !cfg.UseSentinel && !cfg.Cluster {
		c := redis.NewClient(&o)
		c.AddHook(alwaysDial(nil))
		return c
	}
	u := &redis.UniversalOptions{
		Addrs: cfg.Addrs(), Username: o.Username, Password: o.Password, DB: o.DB,
		TLSConfig: o.TLSConfig, Protocol: o.Protocol, DisableIdentity: o.DisableIdentity,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolTimeout: o.PoolTimeout, ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		MaxRetries: o.MaxRetries, DialerRetries: o.DialerRetries, PoolSize: o.PoolSize,
		MaintNotificationsConfig: o.MaintNotificationsConfig,
	}
	if cfg.Cluster {
		c := redis.NewClusterClient(u.Cluster())
		reloadOnFailedDial(c)
		return c
	}
	u.MasterName, u.SentinelPassword = cfg.SentinelMaster, cfg.SentinelAuth
	fo := u.Failover()
	c := redis.NewFailoverClient(fo)
	c.AddHook(alwaysDial(nil)) // the outer hook: it sees what freshMaster could not mend
	c.AddHook(freshMaster(fo))
	return c
}

// connect makes the client golock uses for cfg: newClient's, authenticating as cronlock
// does.
func connect(cfg *config.Config) redis.UniversalClient {
	c := newClient(cfg)
	authLikeCronlock(cfg, c)
	return c
}

// address is where Redis is, for messages: never with a password.
func address(cfg *config.Config) string {
	switch {
	case cfg.UseSentinel:
		return "master " + cfg.SentinelMaster + " of sentinels " + strings.Join(cfg.Addrs(), ",")
	case cfg.Cluster:
		return "cluster " + strings.Join(cfg.Addrs(), ",")
	}
	return cfg.Redis().Addr
}

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
			if timedOut(err) {
				return fmt.Errorf("%w: no answer within CRONLOCK_REDIS_TIMEOUT=%vs (gave up after %d attempts)",
					err, cfg.RedisTimeout.Seconds(), n+1)
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
		}
		wait := time.Duration(n) * cfg.ReconnectBackoff
		tell(fmt.Sprintf("cannot %s at %s; retrying in %v s, %d of %d", what, address(cfg), wait.Seconds(),
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
		for _, busy := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY"} {
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

// hint tells what to do about a refused password or an unknown Sentinel master, or is ""
// for any other error.
func hint(err error) string {
	if h := passwordHint(err); h != "" {
		return h
	}
	msg := err.Error()
	sentinels := sentinelsUnreachable(err)
	switch {
	case sentinels && (strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH")):
		return "; the sentinels refused the password: check CRONLOCK_SENTINEL_AUTH"
	case sentinels && strings.Contains(msg, "redis: nil"):
		return "; the sentinels answered but do not know that master: check CRONLOCK_SENTINEL_MASTER"
	case strings.Contains(msg, "WRONGPASS"):
		return "; Redis refused the password: check CRONLOCK_USERNAME and CRONLOCK_AUTH"
	case strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "unauthenticated"):
		return "; Redis wants a password: set CRONLOCK_AUTH"
	}
	return ""
}

// sentinelsUnreachable tells whether err is go-redis failing to get the master's address
// from the sentinels: it reports every such failure this way.
func sentinelsUnreachable(err error) bool {
	return strings.Contains(err.Error(), "all sentinels specified in configuration are unreachable")
}
