package redisbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// BenchmarkStandalone drives runs against one Redis: golock's (a new connection each, as a
// golock process makes it), against the bare SET NX PX and DEL pair (see the package doc).
func BenchmarkStandalone(b *testing.B) {
	b.Run("golock-free", func(b *testing.B) {
		srv := redistest.Start(b)
		cfg := golockConfig(b, srv.Env(), "CRONLOCK_GRACE=0")
		drive(b, cluster{[]*redis.Client{srv.Client()}}, "run", func(w, k int) error {
			return golockRun(redisclient.Connect(cfg), lockName(w, k), runOptions(cfg))
		})
	})
	b.Run("golock-held", func(b *testing.B) {
		srv := redistest.Start(b)
		cfg := golockConfig(b, srv.Env())
		holdAll(b, redisclient.Connect(cfg), runOptions(cfg))
		drive(b, cluster{[]*redis.Client{srv.Client()}}, "run", func(w, k int) error {
			c := redisclient.Connect(cfg)
			defer c.Close()
			_, err := lockscript.Acquire(context.Background(), c, lockName(w, k), runOptions(cfg))
			if !errors.Is(err, lockscript.ErrHeld) {
				return fmt.Errorf("acquire of a held lock: %v, want lockscript.ErrHeld", err)
			}
			return nil
		})
	})
	b.Run("golock-free-kept", func(b *testing.B) {
		srv := redistest.Start(b)
		cfg := golockConfig(b, srv.Env(), "CRONLOCK_GRACE=0")
		kept := make([]redis.UniversalClient, workers)
		for w := range kept {
			kept[w] = redisclient.Connect(cfg)
			b.Cleanup(func() { kept[w].Close() })
		}
		drive(b, cluster{[]*redis.Client{srv.Client()}}, "run", func(w, k int) error {
			return acquireRelease(kept[w], lockName(w, k), runOptions(cfg))
		})
	})
	b.Run("bare-raw", func(b *testing.B) {
		srv := redistest.Start(b)
		drive(b, cluster{[]*redis.Client{srv.Client()}}, "run", func(w, k int) error {
			conn, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
			if err != nil {
				return err
			}
			defer conn.Close()
			return rawPair(bufio.NewReader(conn), conn, lockName(w, k))
		})
	})
	b.Run("bare-goredis", func(b *testing.B) {
		srv := redistest.Start(b)
		drive(b, cluster{[]*redis.Client{srv.Client()}}, "run", func(w, k int) error {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
			defer c.Close()
			return goredisPair(c, lockName(w, k))
		})
	})
	b.Run("bare-kept", func(b *testing.B) {
		srv := redistest.Start(b)
		kept := make([]*redis.Client, workers)
		for w := range kept {
			kept[w] = redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 1})
			b.Cleanup(func() { kept[w].Close() })
		}
		drive(b, cluster{[]*redis.Client{srv.Client()}}, "run", func(w, k int) error {
			return goredisPair(kept[w], lockName(w, k))
		})
	})
}

// golockRun is one golock run on a free lock: c, a client just made, acquires name and
// releases it as a job that exited 0, and is closed.
func golockRun(c redis.UniversalClient, name string, o lockscript.Options) error {
	defer c.Close()
	return acquireRelease(c, name, o)
}

// acquireRelease takes the free lock name through c and releases it as a job that exited 0.
func acquireRelease(c redis.UniversalClient, name string, o lockscript.Options) error {
	ctx := context.Background()
	l, err := lockscript.Acquire(ctx, c, name, o)
	if err != nil {
		return err
	}
	_, err = l.Release(ctx, lockscript.Outcome{Ran: true, Code: 0})
	return err
}

// holdAll takes every lock name of every worker for another owner, for an hour; c is
// closed.
func holdAll(tb testing.TB, c redis.UniversalClient, o lockscript.Options) {
	tb.Helper()
	defer c.Close()
	o.Lease = time.Hour
	for w := range workers {
		for k := range namesPerWorker {
			if _, err := lockscript.Acquire(context.Background(), c, lockName(w, k), o); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// rawPair sends SET key 1 NX PX 60000, then DEL key, on conn, written by hand in RESP: a
// lock's least cost, nothing else on the wire.
func rawPair(r *bufio.Reader, conn net.Conn, key string) error {
	for _, cmd := range [][]string{{"SET", key, "1", "NX", "PX", "60000"}, {"DEL", key}} {
		var req strings.Builder
		fmt.Fprintf(&req, "*%d\r\n", len(cmd))
		for _, arg := range cmd {
			fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(arg), arg)
		}
		if _, err := conn.Write([]byte(req.String())); err != nil {
			return err
		}
		reply, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if reply != "+OK\r\n" && reply != ":1\r\n" {
			return fmt.Errorf("%s %s: %q", cmd[0], key, reply)
		}
	}
	return nil
}

// goredisPair sends SET key 1 NX PX 60000, then DEL key, through c.
func goredisPair(c *redis.Client, key string) error {
	ctx := context.Background()
	if err := c.Do(ctx, "set", key, "1", "nx", "px", 60000).Err(); err != nil {
		return fmt.Errorf("SET %s NX: %w", key, err) // redis.Nil: held
	}
	return c.Del(ctx, key).Err()
}
