package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Every attempt golock makes must reach the network: a renewal retried while Redis is down
// must succeed the moment Redis is back, and with Sentinel or Cluster find the new master.
// go-redis stands in the way in three places, which this file deals with:
//
//   - its pool stops dialling after PoolSize failed dials and answers every later attempt
//     with the last dial error, until a probe of its own (once a second) gets through.
//     alwaysDial hands the pool a failed dial as a connection that fails with the dial's
//     error: the pool never counts a failure, so it never stops dialling.
//   - with Sentinel, it dials the master that one sentinel named, and that sentinel may
//     name the dead master for seconds after the failover. freshMaster asks every
//     sentinel again after a failed dial.
//   - with Cluster, it reloads the map of slots only on MOVED or once a minute. A failed
//     dial to a node reloads it (reloadOnFailedDial): the dead master's replica may have
//     taken its slots.

// dialHook is a go-redis hook that changes dialling only.
type dialHook func(next redis.DialHook) redis.DialHook

func (h dialHook) DialHook(next redis.DialHook) redis.DialHook { return h(next) }

func (dialHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// alwaysDial turns a failed dial into a failedDial, and calls failed (when not nil) after
// each.
func alwaysDial(failed func()) dialHook {
	return func(next redis.DialHook) redis.DialHook {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := next(ctx, network, addr)
			if err == nil {
				return conn, nil
			}
			if failed != nil {
				failed()
			}
			return failedDial{err: err, addr: dialAddr{network, addr}}, nil
		}
	}
}

// failedDial is a dial that failed, posing as a connection: every read and write returns
// the dial's error, so the command that wanted the connection fails with that error and
// go-redis discards the connection as bad. Left idle in the pool (its dial outlived the
// request that started it), it fails the pool's health check (SyscallConn) and is dropped
// unused.
type failedDial struct {
	err  error
	addr net.Addr
}

func (c failedDial) Read([]byte) (int, error)              { return 0, c.err }
func (c failedDial) Write([]byte) (int, error)             { return 0, c.err }
func (c failedDial) Close() error                          { return nil }
func (c failedDial) LocalAddr() net.Addr                   { return c.addr }
func (c failedDial) RemoteAddr() net.Addr                  { return c.addr }
func (c failedDial) SetDeadline(time.Time) error           { return nil }
func (c failedDial) SetReadDeadline(time.Time) error       { return nil }
func (c failedDial) SetWriteDeadline(time.Time) error      { return nil }
func (c failedDial) SyscallConn() (syscall.RawConn, error) { return nil, c.err }

// dialAddr is the address a failed dial was for.
type dialAddr struct{ network, addr string }

func (a dialAddr) Network() string { return a.network }
func (a dialAddr) String() string  { return a.addr }

// reloadOnFailedDial makes every node client of c dial as alwaysDial does, and reload
// the map of slots after a failed dial.
func reloadOnFailedDial(c *redis.ClusterClient) {
	c.OnNewNode(func(node *redis.Client) {
		node.AddHook(alwaysDial(func() { c.ReloadState(context.Background()) }))
	})
}

// dialer dials as go-redis's own dialer does: TCP (or a unix socket), with TLS when
// tlsConfig is set.
func dialer(timeout time.Duration, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		if tlsConfig == nil {
			return d.DialContext(ctx, network, addr)
		}
		td := &tls.Dialer{NetDialer: d, Config: tlsConfig}
		return td.DialContext(ctx, network, addr)
	}
}

// freshMaster follows a failed dial to the master (at the address go-redis got from the
// sentinel it asked last) by asking every sentinel, and dials the master of the newest
// configuration if that is another: after a failover the sentinel go-redis asked may name
// the dead master until the others' hello messages reach it (up to 2 s), and go-redis
// hears of the switch later still. o are the client's options.
func freshMaster(o *redis.FailoverOptions) dialHook {
	dial := dialer(o.DialTimeout, o.TLSConfig)
	return func(next redis.DialHook) redis.DialHook {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := next(ctx, network, addr)
			var failed *net.OpError // the dial to the master that failed
			if err == nil || ctx.Err() != nil || sentinelsUnreachable(err) ||
				!errors.As(err, &failed) || failed.Op != "dial" || failed.Addr == nil {
				return conn, err
			}
			if newest := newestMaster(ctx, o); newest != "" && newest != failed.Addr.String() {
				return dial(ctx, network, newest)
			}
			return nil, err
		}
	}
}

// newestMaster asks every sentinel of o at once for the master, and returns the address
// named with the highest configuration epoch (the sentinels' own rule for which view is
// newest), or "" when none answered.
func newestMaster(ctx context.Context, o *redis.FailoverOptions) string {
	type view struct {
		addr  string
		epoch int64
	}
	views := make(chan view, len(o.SentinelAddrs))
	var wg sync.WaitGroup
	for _, addr := range o.SentinelAddrs {
		wg.Go(func() {
			c := redis.NewSentinelClient(&redis.Options{
				Addr: addr, Username: o.SentinelUsername, Password: o.SentinelPassword,
				TLSConfig: o.TLSConfig, Protocol: o.Protocol, DisableIdentity: true,
				DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
				ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1, PoolSize: 1,
			})
			defer c.Close()
			// The epoch comes from SENTINEL MASTER; the address from GET-MASTER-ADDR-BY-NAME,
			// which names the promoted replica already while the failover reconfigures the
			// other replicas.
			m, err := c.Master(ctx, o.MasterName).Result()
			if err != nil {
				return
			}
			hp, err := c.GetMasterAddrByName(ctx, o.MasterName).Result()
			if err != nil || len(hp) != 2 {
				return
			}
			epoch, _ := strconv.ParseInt(m["config-epoch"], 10, 64)
			views <- view{net.JoinHostPort(hp[0], hp[1]), epoch}
		})
	}
	wg.Wait()
	close(views)
	newest := view{epoch: -1}
	for v := range views {
		if v.epoch > newest.epoch {
			newest = v
		}
	}
	return newest.addr
}
