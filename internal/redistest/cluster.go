package redistest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/freeport"
)

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// busOffset is how far above a node's port Redis Cluster puts its bus port.
const busOffset = 10000

// Cluster is a Redis Cluster of masters, with or without replicas; its nodes are stopped
// at the test's end.
type Cluster struct {
	// Nodes are the masters; Nodes[i] serves the i-th of len(Nodes) equal ranges of slots
	// (SlotNode tells which one serves a slot).
	Nodes []*Server
	// Replicas[i] replicates Nodes[i] (StartClusterWithReplicas); empty without replicas.
	// AwaitPromotion swaps a promoted replica with its dead master.
	Replicas []*Server

	t testing.TB
}

// StartCluster starts masters redis-server nodes in cluster mode (opts, e.g. WithPassword,
// apply to each), gives each an equal range of the 16384 slots, joins them (CLUSTER MEET)
// and returns once every node reports cluster_state:ok and knows every other node.
func StartCluster(t testing.TB, masters int, opts ...Option) *Cluster {
	t.Helper()
	return startCluster(t, masters, 2*time.Second, opts)
}

func startCluster(t testing.TB, masters int, nodeTimeout time.Duration, opts []Option) *Cluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("redistest: StartCluster needs at least one node, got %d", masters)
	}
	cl := &Cluster{t: t}
	for range masters {
		cl.Nodes = append(cl.Nodes, startClusterNode(t, nodeTimeout, opts))
	}
	ctx := context.Background()
	for i, n := range cl.Nodes {
		c := redis.NewClient(n.options())
		lo, hi := cl.slotRange(i)
		err := c.Do(ctx, "cluster", "addslotsrange", lo, hi).Err()
		if err == nil {
			// Distinct epochs, as redis-cli --cluster create sets them: no collision to settle.
			err = c.Do(ctx, "cluster", "set-config-epoch", i+1).Err()
		}
		if err == nil && i > 0 {
			err = c.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(cl.Nodes[0].Port)).Err()
		}
		c.Close()
		if err != nil {
			t.Fatalf("redistest: cluster node %s: %v", n.Addr(), err)
		}
	}
	cl.awaitReady()
	return cl
}

// awaitReady waits until every node reports cluster_state:ok and knows every other node.
func (cl *Cluster) awaitReady() {
	t := cl.t
	t.Helper()
	for _, n := range append(slices.Clone(cl.Nodes), cl.Replicas...) {
		c := redis.NewClient(n.options())
		var info string
		ok := Poll(30*time.Second, func() bool {
			info = c.ClusterInfo(context.Background()).Val()
			return infoField(info, "cluster_state") == "ok" &&
				infoField(info, "cluster_known_nodes") == strconv.Itoa(len(cl.Nodes)+len(cl.Replicas))
		})
		c.Close()
		if !ok {
			t.Fatalf("redistest: cluster node %s is not ready:\n%s", n.Addr(), info)
		}
	}
}

// StartClusterWithReplicas is StartCluster with one replica for each master (Replicas)
// and the given cluster-node-timeout: a master that does not answer for that long is
// failed over to its replica by the cluster itself. It returns once every replica is in
// sync with its master.
func StartClusterWithReplicas(t testing.TB, masters int, nodeTimeout time.Duration, opts ...Option) *Cluster {
	t.Helper()
	opts = append(slices.Clone(opts), WithArgs("--repl-diskless-sync-delay", "0"))
	cl := startCluster(t, masters, nodeTimeout, opts)
	ctx := context.Background()
	for _, m := range cl.Nodes {
		r := startClusterNode(t, nodeTimeout, opts)
		mc, rc := redis.NewClient(m.options()), redis.NewClient(r.options())
		id, err := mc.Do(ctx, "cluster", "myid").Text()
		if err == nil {
			err = rc.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(m.Port)).Err()
		}
		if err == nil {
			// The replica must know the master before it can replicate it.
			Poll(15*time.Second, func() bool {
				err = rc.Do(ctx, "cluster", "replicate", id).Err()
				return err == nil
			})
		}
		if err == nil && !Poll(15*time.Second, func() bool {
			return infoField(rc.Info(ctx, "replication").Val(), "master_link_status") == "up"
		}) {
			err = fmt.Errorf("no replication link to master %s", m.Addr())
		}
		mc.Close()
		rc.Close()
		if err != nil {
			t.Fatalf("redistest: cluster replica %s: %v", r.Addr(), err)
		}
		cl.Replicas = append(cl.Replicas, r)
	}
	cl.awaitReady()
	return cl
}

// AwaitPromotion waits up to timeout until Replicas[i] serves the slots of Nodes[i] (its
// master, killed by the test) in the view of every other master, then swaps the two, and
// returns when the replica itself said role:master (polled every 20 ms).
func (cl *Cluster) AwaitPromotion(i int, timeout time.Duration) (promoted time.Time) {
	t := cl.t
	t.Helper()
	replica := cl.Replicas[i]
	lo, _ := cl.slotRange(i)
	var state string
	ok := Poll(timeout, func() bool {
		if promoted.IsZero() && replica.Role() == "master" {
			promoted = time.Now()
		}
		if promoted.IsZero() {
			state = "the replica still says role:slave"
			return false
		}
		for j, n := range cl.Nodes {
			if j == i {
				continue
			}
			if owner := slotOwner(n, lo); owner != replica.Port {
				state = fmt.Sprintf("node %s says port %d serves slot %d", n.Addr(), owner, lo)
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("redistest: replica %s did not take over the slots of %s within %v: %s",
			replica.Addr(), cl.Nodes[i].Addr(), timeout, state)
	}
	cl.Nodes[i], cl.Replicas[i] = replica, cl.Nodes[i]
	return promoted
}

// slotOwner returns the port of the master that n says serves slot, or 0.
func slotOwner(n *Server, slot int) int {
	c := redis.NewClient(n.options())
	defer c.Close()
	ranges, _ := c.ClusterSlots(context.Background()).Result()
	for _, r := range ranges {
		if int(r.Start) <= slot && slot <= int(r.End) && len(r.Nodes) > 0 {
			_, port, _ := net.SplitHostPort(r.Nodes[0].Addr)
			p, _ := strconv.Atoi(port)
			return p
		}
	}
	return 0
}

// startClusterNode starts one cluster-enabled node on a port whose bus port is free too,
// with the given cluster-node-timeout.
func startClusterNode(t testing.TB, nodeTimeout time.Duration, opts []Option) *Server {
	t.Helper()
	dir := t.TempDir()
	var err error
	for range 5 { // a free port can be taken between finding it and binding it
		s := &Server{t: t}
		for _, o := range opts {
			o(s)
		}
		s.Port = FreeClusterPort(t)
		s.args = append(s.args, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", s.Port)),
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10))
		if s.Password != "" {
			s.args = append(s.args, "--masterauth", s.Password)
		}
		if err = s.start(); err == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: cannot start a cluster node: %v", err)
	return nil
}

// slotRange is the range of slots, lo to hi inclusive, that Nodes[i] serves.
func (cl *Cluster) slotRange(i int) (lo, hi int) {
	n := len(cl.Nodes)
	return i * clusterSlots / n, (i+1)*clusterSlots/n - 1
}

// SlotNode returns the node that serves slot.
func (cl *Cluster) SlotNode(slot int) *Server {
	for i, n := range cl.Nodes {
		if lo, hi := cl.slotRange(i); lo <= slot && slot <= hi {
			return n
		}
	}
	cl.t.Fatalf("redistest: slot %d is out of range", slot)
	return nil
}

// Env returns CRONLOCK_CLUSTER=yes, CRONLOCK_HOST listing every node as 127.0.0.1:port
// and, with a password, CRONLOCK_AUTH.
func (cl *Cluster) Env() []string {
	env := []string{"CRONLOCK_CLUSTER=yes", "CRONLOCK_HOST=" + strings.Join(cl.addrs(), ",")}
	if pw := cl.Nodes[0].Password; pw != "" {
		env = append(env, "CRONLOCK_AUTH="+pw)
	}
	return env
}

func (cl *Cluster) addrs() []string {
	addrs := make([]string, len(cl.Nodes))
	for i, n := range cl.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Client returns a cluster client of the nodes, closed at the test's end.
func (cl *Cluster) Client() *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.addrs(), Password: cl.Nodes[0].Password,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	cl.t.Cleanup(func() { c.Close() })
	return c
}

// FreeClusterPort returns a port on 127.0.0.1 that was free a moment ago, as was the
// cluster bus port 10000 above it; both lie below the ephemeral range, as FreePort's do.
func FreeClusterPort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Pair(busOffset)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return port
}

// ReadClient returns a client of a cluster node that reads its keys even while it is a
// replica (READONLY on each connection), closed at the test's end.
func ReadClient(t testing.TB, node *Server) *redis.Client {
	o := node.options()
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
