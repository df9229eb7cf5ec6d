// Package lockscript is golock's lock protocol: the Lua scripts of package scripts, called
// from Go. A lock is a Redis hash holding an owner token; only its owner renews or releases
// it, every time it holds comes from Redis's TIME, and each acquire hands out a fencing token
// that only grows. For a fleet where cronlock still runs, Options.Mixed keeps the lock in
// cronlock's form instead: a string holding the unix second its lease ends, with the record
// beside it (RecordKey); Inspect, Held, Reset and Replace read either form.
//
// A run takes a lock with Acquire and gets a *Lock, which it renews (Renew) while its job
// runs and lets go of (Release) when the job ends. Inspect, List and ListRecorded read
// locks without changing them; Reset clears one; Replace revokes a running holder for a run
// that takes over; Held answers a job's "do I still hold my lock?".
//
// Names are cronlock's (Name); each lock's companions (fence counter, last-run record,
// limit key, slots) hash to its Redis Cluster slot, so that every script works on a cluster.
package lockscript

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/scripts"
)

// RecordVersion is written into every lock record as "version".
const RecordVersion = "2"

// The scripts, by name. Each is hashed (SHA-1, for EVALSHA) on its first use, not at start:
// a run uses two of them, and every run pays for what happens before main.
const (
	acquire = "acquire"
	extend  = "extend"
	release = "release"
	reset   = "reset"
	inspect = "inspect"
	revoke  = "revoke"
	held    = "held"
)

// registry holds each script, made (and hashed) on its first use: a run uses two of the
// seven.
var registry = sync.OnceValue(func() map[string]func() *lua {
	all := map[string]func() *lua{}
	for _, name := range scripts.Names() {
		all[name] = sync.OnceValue(func() *lua {
			src := scripts.Source(name)
			return &lua{redis.NewScript(src), src}
		})
	}
	return all
})

// script is the named script, ready to Run.
func script(name string) *lua { return registry()[name]() }

// All returns every script golock runs, by name, for tests and the doctor.
func All() map[string]*redis.Script {
	all := map[string]*redis.Script{}
	for name, l := range registry() {
		all[name] = l().Script
	}
	return all
}

// lua is one script: its redis.Script (for its hash) and its source.
type lua struct {
	*redis.Script
	src string
}

// Run runs the script as redis.Script.Run does, EVALSHA and EVAL when the server does not
// have it yet, but with each command marked as taking its keys one by one: a cluster client
// otherwise fetches the server's whole COMMAND table (90 kB, 0.8 ms of server CPU) on its
// first command to learn that, which is every run's first command.
func (l *lua) Run(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd {
	p, ok := c.(interface {
		Process(context.Context, redis.Cmder) error
	})
	if !ok {
		return l.Script.Run(ctx, c, keys, args...)
	}
	cmd := l.cmd(ctx, "evalsha", l.Hash(), keys, args)
	if err := p.Process(ctx, cmd); redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = l.cmd(ctx, "eval", l.src, keys, args)
		_ = p.Process(ctx, cmd)
	}
	return cmd
}

func (l *lua) cmd(ctx context.Context, op, script string, keys []string, args []any) *redis.Cmd {
	all := make([]any, 0, 3+len(keys)+len(args))
	all = append(all, op, script, len(keys))
	for _, k := range keys {
		all = append(all, k)
	}
	cmd := redis.NewCmd(ctx, append(all, args...)...)
	cmd.SetStepCount(1)
	return cmd
}

// LastRunTTL is how long the record of a lock's last run is kept.
const LastRunTTL = 30 * 24 * time.Hour

// MaxLimit is the largest Limit: each slot is a key that every acquire reads.
const MaxLimit = 1000

// FenceTTL is the TTL a lock's fence counter gets (never shortened) from an acquire, a
// release or a reset by a run whose Lifetime is release: a day more than the lock and its
// last-run record can live, so that a counter frees its key once the lock has not been
// taken for that long. The fence stays monotonic when it expires: a new counter starts at
// Redis TIME in microseconds, past every fence handed out before.
func FenceTTL(release time.Duration) time.Duration {
	return release + LastRunTTL + 24*time.Hour
}

// withSlots runs a script whose KEYS end with the slots 2..N of name (keys builds them),
// first with none: when it replies {"limit", N} (the limit key says the lock has N slots),
// it runs it again with them.
func withSlots(ctx context.Context, s *lua, c redis.Scripter, name string, keys func([]string) []string, args ...any) ([]any, error) {
	var slots []string
	for {
		reply, err := s.Run(ctx, c, keys(slots), args...).Slice()
		if err != nil {
			return nil, err
		}
		var r struct {
			Status string
			N      int
		}
		decode(reply, &r)
		if r.Status != "limit" || r.N <= len(slots)+1 || r.N > MaxLimit {
			return reply, nil
		}
		slots = slotKeys(name, r.N)
	}
}

// unexpected is the error of a reply no script version gives.
func unexpected(op, name string, reply []any) error {
	return fmt.Errorf("lockscript: %s %s: unexpected reply %v", op, name, reply)
}
