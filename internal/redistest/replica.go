package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartReplica starts a redis-server replicating master and returns once the replica's
// link to it is up (INFO replication: master_link_status:up), so that WAIT on the master
// counts it. With a master password the replica authenticates with it (masterauth) and
// requires it too, so that it can stand in for the master after a failover. Both servers
// sync without the default 5 s diskless-sync delay: StartReplica sets
// repl-diskless-sync-delay 0 on master. TLS masters are not supported.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	if master.certs != nil {
		t.Fatal("redistest: StartReplica does not support TLS masters")
	}
	ctx := context.Background()
	if err := master.Client().ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatalf("redistest: master %s: %v", master.Addr(), err)
	}
	opts := []Option{WithArgs("--replicaof", "127.0.0.1", strconv.Itoa(master.Port),
		"--repl-diskless-sync-delay", "0")}
	if master.Password != "" {
		opts = append(opts, WithPassword(master.Password), WithArgs("--masterauth", master.Password))
	}
	r := Start(t, opts...)
	c := r.Client()
	var info string
	ok := Poll(15*time.Second, func() bool {
		info = c.Info(ctx, "replication").Val()
		return strings.Contains(info, "master_link_status:up")
	})
	if !ok {
		t.Fatalf("redistest: replica %s did not sync with master %s:\n%s", r.Addr(), master.Addr(), info)
	}
	return r
}

// Role is what INFO replication says the server is: "master" or "slave" (or "" when it
// does not answer).
func (s *Server) Role() string {
	c := redis.NewClient(s.options())
	defer c.Close()
	info, _ := c.Info(context.Background(), "replication").Result()
	return infoField(info, "role")
}

// infoField returns the value of field in an INFO reply, or "".
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}
