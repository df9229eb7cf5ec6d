package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the sentinels of StartSentinel know the master by.
const SentinelMaster = "mymaster"

// Sentinel is a master, one replica of it and sentinel processes watching both under the
// name SentinelMaster; all of them are stopped at the test's end.
type Sentinel struct {
	Master, Replica *Server // Failover swaps them
	SentinelPorts   []int
	Password        string // the sentinels' own password (requirepass); empty: none

	t         testing.TB
	sentinels []*Server
	downAfter time.Duration
}

// StartSentinel starts a master (Start with opts, e.g. WithPassword), one replica of it
// (StartReplica) and the given number of sentinels monitoring it, with a quorum of a
// majority of them. It returns once every sentinel knows the master, the replica and the
// other sentinels. The sentinels take a master that does not answer for 2 s as down, and
// fail over on their own when a quorum agrees.
func StartSentinel(t testing.TB, sentinels int, opts ...Option) *Sentinel {
	t.Helper()
	return StartSentinelWithPassword(t, sentinels, "", opts...)
}

// StartSentinelWithPassword is StartSentinel with sentinels that require password
// (requirepass in their configuration; they use it with each other too). An empty
// password is none.
func StartSentinelWithPassword(t testing.TB, sentinels int, password string, opts ...Option) *Sentinel {
	t.Helper()
	return startSentinels(t, sentinels, password, 2*time.Second, opts)
}

// StartSentinelDownAfter is StartSentinel with sentinels that take a master that does not
// answer for downAfter as down (down-after-milliseconds): the failover after a kill of the
// master (Master.Kill) starts that much sooner.
func StartSentinelDownAfter(t testing.TB, sentinels int, downAfter time.Duration, opts ...Option) *Sentinel {
	t.Helper()
	return startSentinels(t, sentinels, "", downAfter, opts)
}

func startSentinels(t testing.TB, sentinels int, password string, downAfter time.Duration, opts []Option) *Sentinel {
	t.Helper()
	if sentinels < 1 {
		t.Fatalf("redistest: StartSentinel needs at least one sentinel, got %d", sentinels)
	}
	s := &Sentinel{t: t, Password: password, downAfter: downAfter}
	s.Master = Start(t, opts...)
	s.Replica = StartReplica(t, s.Master)
	quorum := sentinels/2 + 1
	for range sentinels {
		srv := s.startSentinel(quorum)
		s.sentinels = append(s.sentinels, srv)
		s.SentinelPorts = append(s.SentinelPorts, srv.Port)
	}
	s.waitReady(sentinels)
	return s
}

// startSentinel starts one sentinel process on a free port, with its own writable
// configuration file, and waits until it answers PING.
func (s *Sentinel) startSentinel(quorum int) *Server {
	t := s.t
	t.Helper()
	var err error
	for range 5 { // a free port can be taken between finding it and binding it
		srv := &Server{Port: FreePort(t), Password: s.Password, t: t}
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(s.config(srv.Port, dir, quorum)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err = launch(srv, exec.Command(Binary(t), conf, "--sentinel")); err == nil {
			t.Cleanup(srv.Kill)
			return srv
		}
	}
	t.Fatalf("redistest: cannot start redis-server --sentinel: %v", err)
	return nil
}

// config is a sentinel's configuration file. Sentinel rewrites it as it learns.
func (s *Sentinel) config(port int, dir string, quorum int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n", port, dir)
	fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d %d\n", SentinelMaster, s.Master.Port, quorum)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", SentinelMaster, s.downAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s 5000\n", SentinelMaster)
	if s.Master.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", SentinelMaster, s.Master.Password)
	}
	if s.Password != "" {
		fmt.Fprintf(&b, "requirepass %s\n", s.Password)
	}
	return b.String()
}

// sentinelClient returns a client of the i-th sentinel; the caller closes it.
func (s *Sentinel) sentinelClient(i int) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[i].Addr(), Password: s.Password,
		MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
}

// waitReady waits until every sentinel sees the master up, the replica and the n-1
// other sentinels.
func (s *Sentinel) waitReady(n int) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	for i := range s.sentinels {
		c := s.sentinelClient(i)
		var state string
		ok := Poll(30*time.Second, func() bool {
			master, err := c.Master(ctx, SentinelMaster).Result()
			if err != nil {
				state = err.Error()
				return false
			}
			replicas, err := c.Replicas(ctx, SentinelMaster).Result()
			if err != nil {
				state = err.Error()
				return false
			}
			others, err := c.Sentinels(ctx, SentinelMaster).Result()
			if err != nil {
				state = err.Error()
				return false
			}
			state = fmt.Sprintf("master %v; replicas %v; %d other sentinels", master, replicas, len(others))
			if master["flags"] != "master" || len(others) != n-1 {
				return false
			}
			return slices.ContainsFunc(replicas, func(r map[string]string) bool {
				return r["port"] == strconv.Itoa(s.Replica.Port) && r["flags"] == "slave" &&
					r["master-link-status"] == "ok"
			})
		})
		c.Close()
		if !ok {
			t.Fatalf("redistest: sentinel on port %d is not ready: %s", s.SentinelPorts[i], state)
		}
	}
}

// Env returns the settings that make golock find the master through the sentinels:
// CRONLOCK_USE_SENTINEL, CRONLOCK_SENTINEL_MASTER, CRONLOCK_SENTINEL_HOST (every sentinel
// as 127.0.0.1:port) and, when set, CRONLOCK_AUTH (the master's password) and
// CRONLOCK_SENTINEL_AUTH (the sentinels').
func (s *Sentinel) Env() []string {
	hosts := make([]string, len(s.SentinelPorts))
	for i, p := range s.SentinelPorts {
		hosts[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	env := []string{"CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_MASTER=" + SentinelMaster,
		"CRONLOCK_SENTINEL_HOST=" + strings.Join(hosts, ",")}
	if s.Master.Password != "" {
		env = append(env, "CRONLOCK_AUTH="+s.Master.Password)
	}
	if s.Password != "" {
		env = append(env, "CRONLOCK_SENTINEL_AUTH="+s.Password)
	}
	return env
}

// MasterAddr returns the master's "host:port" as the first sentinel reports it.
func (s *Sentinel) MasterAddr() string {
	s.t.Helper()
	addr, err := s.masterAddr(0)
	if err != nil {
		s.t.Fatalf("redistest: sentinel on port %d: %v", s.SentinelPorts[0], err)
	}
	return addr
}

func (s *Sentinel) masterAddr(i int) (string, error) {
	c := s.sentinelClient(i)
	defer c.Close()
	hp, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME replied %q", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// StartStaleSentinel starts one sentinel of its own that monitors SentinelMaster at port
// on 127.0.0.1 (where nothing need run) and knows no other sentinel: it goes on naming that
// port, with configuration epoch 0, after a failover elsewhere, as a sentinel cut off from
// the others would. It returns the sentinel's port.
func StartStaleSentinel(t testing.TB, port int) int {
	t.Helper()
	s := &Sentinel{t: t, Master: &Server{Port: port}, downAfter: 2 * time.Second}
	return s.startSentinel(1).Port
}

// Naming returns how many sentinels name addr ("host:port") as the master now.
func (s *Sentinel) Naming(addr string) int {
	n := 0
	for i := range s.sentinels {
		if got, err := s.masterAddr(i); err == nil && got == addr {
			n++
		}
	}
	return n
}

// Failover makes the sentinels promote the replica (SENTINEL FAILOVER) and returns when
// they have (AwaitFailover). The old master still runs: the sentinels turn it into a
// replica of the new one some seconds later.
func (s *Sentinel) Failover() {
	t := s.t
	t.Helper()
	c := s.sentinelClient(0)
	defer c.Close()
	var err error
	ok := Poll(15*time.Second, func() bool {
		// NOGOODSLAVE or INPROG can come while the sentinel refreshes its view.
		err = c.Failover(context.Background(), SentinelMaster).Err()
		if err != nil {
			time.Sleep(200 * time.Millisecond)
		}
		return err == nil
	})
	if !ok {
		t.Fatalf("redistest: SENTINEL FAILOVER %s: %v", SentinelMaster, err)
	}
	s.AwaitFailover(30 * time.Second)
}

// AwaitFailover waits up to timeout until every sentinel reports the replica as the
// master and the replica says so itself (role:master), then swaps Master and Replica. It
// follows Failover, or a failover the sentinels start on their own, e.g. once the master
// is killed (Master.Kill).
func (s *Sentinel) AwaitFailover(timeout time.Duration) {
	t := s.t
	t.Helper()
	want := s.Replica.Addr()
	var state string
	ok := Poll(timeout, func() bool {
		for i := range s.sentinels {
			addr, err := s.masterAddr(i)
			if err != nil || addr != want {
				state = fmt.Sprintf("sentinel on port %d reports master %s (err %v)", s.SentinelPorts[i], addr, err)
				return false
			}
		}
		role := s.Replica.Role()
		state = "the promoted replica says role:" + role
		return role == "master"
	})
	if !ok {
		t.Fatalf("redistest: failover to %s did not complete within %v: %s", want, timeout, state)
	}
	s.Master, s.Replica = s.Replica, s.Master
}
