// Package redisclient makes the Redis client golock connects with, so that every command
// that reads the locks (golock, golock-exporter) connects exactly alike: one Redis, the
// master the sentinels name, or a cluster; TLS and auth as cronlock authenticates; every
// wait bounded by CRONLOCK_REDIS_TIMEOUT; every attempt dialling afresh (dial.go).
package redisclient

import (
	"context"
	"strings"

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

// New makes the Redis client: for one Redis, for the master the sentinels name, or for
// a cluster. Every wait on Redis is bounded by REDIS_TIMEOUT, and the client does not
// retry on its own: its callers do, and each of their attempts dials afresh when there is
// no connection (dial.go).
func New(cfg *config.Config) redis.UniversalClient {
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

// Connect makes the client golock uses for cfg: New's, opening its connections as
// cronlock does (auth.go).
func Connect(cfg *config.Config) redis.UniversalClient {
	c := New(cfg)
	handshakeLikeCronlock(c)
	return c
}

// Address is where Redis is, for messages: never with a password.
func Address(cfg *config.Config) string {
	switch {
	case cfg.UseSentinel:
		return "master " + cfg.SentinelMaster + " of sentinels " + strings.Join(cfg.Addrs(), ",")
	case cfg.Cluster:
		return "cluster " + strings.Join(cfg.Addrs(), ",")
	}
	return cfg.Redis().Addr
}

// MaxClients starts Redis's refusal of a connection beyond its maxclients.
const MaxClients = "ERR max number of clients reached"

// Hint tells what to do about a refused password, an unknown Sentinel master or a Redis
// at its maxclients, or is "" for any other error.
func Hint(err error) string {
	if h := passwordHint(err); h != "" {
		return h
	}
	msg := err.Error()
	if strings.Contains(msg, MaxClients) {
		return "; Redis has as many connections as its maxclients allows: raise maxclients, and the file limit of redis-server with it"
	}
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
