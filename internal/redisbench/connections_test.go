package redisbench

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// A running golock job holds one Redis connection for its whole run: its heartbeat renews
// the lease over it. Redis's maxclients (10,000 by default) and its file-descriptor limit
// thus cap how many jobs one Redis supervises at once. The figures below are what each
// such connection costs Redis, what a run meets when Redis is full, and what a new
// connection per renewal would cost instead.

// connections is how many connections BenchmarkConnectionMemory opens.
const connections = 2000

// settle is how long a connection is left idle before it is measured again: Redis frees
// an idle client's query buffer after 2 s (clientsCron, which visits every client each
// second).
const settle = 3500 * time.Millisecond

// BenchmarkConnectionMemory reports Redis's memory per connection: used_memory and RSS
// per idle connection (each has sent one PING), and per golock client holding a lock it
// has renewed once (its connection and its lock), each measured right after the last
// command (fresh) and after settle. Each iteration measures on fresh servers.
func BenchmarkConnectionMemory(b *testing.B) {
	var fresh, settled [4]float64 // idle, idle RSS, held, held RSS
	iterations := 0
	for b.Loop() {
		idleSrv, heldSrv := redistest.Start(b), redistest.Start(b)
		idleAdmin, heldAdmin := idleSrv.Client(), heldSrv.Client()
		idle0, held0 := readStats(b, idleAdmin), readStats(b, heldAdmin)

		conns := make([]net.Conn, connections)
		each(b, connections, func(i int) (err error) {
			conns[i], err = pinged(idleSrv.Addr())
			return err
		})
		cfg := golockConfig(b, heldSrv.Env())
		clients := make([]redis.UniversalClient, connections)
		each(b, connections, func(i int) error {
			clients[i] = redisclient.Connect(cfg)
			ctx := context.Background()
			l, err := lockscript.Acquire(ctx, clients[i], "redisbench.conn."+strconv.Itoa(i), runOptions(cfg))
			if err == nil {
				_, err = l.Renew(ctx)
			}
			return err
		})
		perConn := func(into *[4]float64) {
			idle, held := readStats(b, idleAdmin), readStats(b, heldAdmin)
			into[0] += float64(idle.mem-idle0.mem) / connections
			into[1] += float64(idle.rss-idle0.rss) / connections
			into[2] += float64(held.mem-held0.mem) / connections
			into[3] += float64(held.rss-held0.rss) / connections
		}
		perConn(&fresh)
		time.Sleep(settle)
		perConn(&settled)

		for _, c := range conns {
			c.Close()
		}
		for _, c := range clients {
			c.Close()
		}
		idleSrv.Kill()
		heldSrv.Kill()
		iterations++
	}
	n := float64(iterations)
	for i, unit := range []string{"B/idle-conn", "rss-B/idle-conn", "B/held-lock-conn", "rss-B/held-lock-conn"} {
		b.ReportMetric(fresh[i]/n, unit)
		b.ReportMetric(settled[i]/n, "settled-"+unit)
	}
}

// pinged opens a connection to addr and sends it one PING, as a client does that has done
// its first command.
func pinged(addr string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	reply, err := ping(conn)
	if err == nil && reply != "+PONG\r\n" {
		err = &net.OpError{Op: "ping", Net: "tcp", Err: os.ErrInvalid}
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// ping sends PING on conn and returns the reply's first line.
func ping(conn net.Conn) (string, error) {
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return "", err
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(conn).ReadString('\n')
}

// BenchmarkRenewal reports what one renewal of a held lock costs Redis: over the
// connection the run keeps (kept), as golock renews, and over a new connection per
// renewal (new-conn), as it would if it kept none.
func BenchmarkRenewal(b *testing.B) {
	for _, mode := range []string{"kept", "new-conn"} {
		b.Run(mode, func(b *testing.B) {
			srv := redistest.Start(b)
			cfg := golockConfig(b, srv.Env())
			locks := make([]*lockscript.Lock, workers)
			for w := range locks {
				var c redis.UniversalClient = freshConn{cfg: cfg}
				if mode == "kept" {
					c = redisclient.Connect(cfg)
					b.Cleanup(func() { c.Close() })
				}
				l, err := lockscript.Acquire(context.Background(), c, lockName(w, 0), runOptions(cfg))
				if err != nil {
					b.Fatal(err)
				}
				locks[w] = l
			}
			drive(b, cluster{[]*redis.Client{srv.Client()}}, "renewal", func(w, _ int) error {
				_, err := locks[w].Renew(context.Background())
				return err
			})
		})
	}
}

// freshConn is a client that sends each command over a new connection made by golock's
// constructor, closed after the reply. Only Process is called (lockscript runs its scripts
// through it); the embedded interface is nil.
type freshConn struct {
	redis.UniversalClient
	cfg *config.Config
}

func (f freshConn) Process(ctx context.Context, cmd redis.Cmder) error {
	c := redisclient.Connect(f.cfg)
	defer c.Close()
	return c.Process(ctx, cmd)
}

// maxClients is the maxclients of TestMaxClientsReached's Redis.
const maxClients = 50

// TestMaxClientsReached fills a Redis's maxclients with idle connections, as that many
// running jobs would, and checks what one more golock run does: it must not run its job,
// and must say why in one line.
func TestMaxClientsReached(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--maxclients", strconv.Itoa(maxClients)))
	for range maxClients {
		conn, err := pinged(srv.Addr())
		if err != nil {
			t.Fatalf("connection within maxclients: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
	}
	if conn, err := net.Dial("tcp", srv.Addr()); err == nil {
		reply, _ := ping(conn)
		conn.Close()
		if !strings.Contains(reply, "max number of clients reached") {
			t.Fatalf("connection %d was answered %q, want Redis's max number of clients reached", maxClients+1, reply)
		}
	}

	ran := filepath.Join(t.TempDir(), "ran")
	r := golocktest.Run(t, golocktest.Env(srv.Env()...), "touch", ran)
	t.Logf("golock with Redis full: exit %d after %v, stderr:\n%s", r.Code, r.Took.Round(time.Millisecond), r.Stderr)
	if _, err := os.Stat(ran); err == nil {
		t.Error("the job ran without a lock")
	}
	if r.Code != 201 {
		t.Errorf("exit %d, want 201", r.Code)
	}
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "max number of clients reached") || !strings.Contains(lines[0], "nothing ran") {
		t.Errorf("stderr is not one line saying Redis has too many clients and nothing ran:\n%s", r.Stderr)
	}
}
