package config

import (
	"strings"

	"github.com/golock/golock/lockscript"
)

// LockOptions are the lock settings and fleet policies of c, for lockscript.Acquire; the
// run fills in who it is (Owner, Host, PID, Command).
func (c *Config) LockOptions() lockscript.Options {
	return lockscript.Options{
		Grace:       c.Grace,
		Lifetime:    c.Release,
		Lease:       c.Lease,
		Limit:       c.Limit,
		Interval:    c.Interval,
		Delay:       c.LockDelay,
		Keep:        c.OnLost == "keep",
		MinReplicas: c.MinReplicas,
		ReplicaWait: c.RedisTimeout,
		Mixed:       c.MixedFleet,
	}
}

// Vars reads environ's KEY=value strings as a map; a later KEY wins, as in the environment.
func Vars(environ []string) map[string]string {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars
}
