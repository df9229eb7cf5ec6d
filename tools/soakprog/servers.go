package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/freeport"
)

// server is one redis-server (or sentinel) process the soak owns, on a port it keeps
// across restarts, with a directory of its own (where AOF files survive a kill -9).
type server struct {
	port   int
	dir    string
	conf   string   // a configuration file given first (a sentinel's), or ""
	args   []string // after --port and --dir
	cmd    *exec.Cmd
	exited chan struct{}
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// client returns a client of s that never retries, for control commands; the caller
// closes it.
func (s *server) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: time.Second})
}

// startServer starts a redis-server with args on a free port in a directory under work.
func startServer(work, name string, args ...string) (*server, error) {
	return startWithConf(work, name, "", args...)
}

// startWithConf is startServer with a configuration file named first.
func startWithConf(work, name, conf string, args ...string) (*server, error) {
	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var err error
	for range 5 { // another server can take a free port between finding it and binding it
		s := &server{dir: dir, conf: conf, args: args}
		if s.port, err = freeport.Port(); err != nil {
			return nil, err
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// start launches the process and waits until it answers PING.
func (s *server) start() error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	args = append(args, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the soak
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("redis-server on port %d exited at start (its log: %s)", s.port, filepath.Join(s.dir, "redis.log"))
		default:
		}
		c := s.client()
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redis-server on port %d did not answer PING within 20 s", s.port)
}

// kill stops the process with SIGKILL (resuming it first, should it be stopped) and waits
// for it.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// restart starts a killed server again on its port; the port may linger a moment.
func (s *server) restart() error {
	var err error
	for range 50 {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// sentinelSet is a master, one replica and three sentinels that fail over a master that
// does not answer for a second.
type sentinelSet struct {
	nodes     []*server // the master and the replica, in either role
	sentinels []*server
}

const sentinelMaster = "mymaster"

func startSentinelSet(work string, nodeArgs []string) (*sentinelSet, error) {
	ss := &sentinelSet{}
	m, err := startServer(work, "node0", nodeArgs...)
	if err != nil {
		return ss, err
	}
	ss.nodes = append(ss.nodes, m)
	r, err := startServer(work, "node1", append(append([]string{}, nodeArgs...),
		"--replicaof", "127.0.0.1", strconv.Itoa(m.port))...)
	if err != nil {
		return ss, err
	}
	ss.nodes = append(ss.nodes, r)
	if err := waitLinkUp(r); err != nil {
		return ss, err
	}
	for i := range 3 {
		dir := filepath.Join(work, fmt.Sprintf("sentinel%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ss, err
		}
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n",
			sentinelMaster, m.port, sentinelMaster, sentinelMaster)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			return ss, err
		}
		s, err := startWithConf(work, fmt.Sprintf("sentinel%d", i), conf, "--sentinel")
		if err != nil {
			return ss, err
		}
		ss.sentinels = append(ss.sentinels, s)
	}
	// Every sentinel must know the replica and the other sentinels before a failover can work.
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range ss.sentinels {
		for {
			c := redis.NewSentinelClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
			others, _ := c.Sentinels(context.Background(), sentinelMaster).Result()
			replicas, _ := c.Replicas(context.Background(), sentinelMaster).Result()
			c.Close()
			ok := len(others) == 2 && len(replicas) == 1 && replicas[0]["master-link-status"] == "ok"
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return ss, fmt.Errorf("sentinel on port %d not ready: %d other sentinels, replicas %v", s.port, len(others), replicas)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ss, nil
}

// waitLinkUp waits until replica r has synced with its master.
func waitLinkUp(r *server) error {
	c := r.client()
	defer c.Close()
	for range 300 {
		info, _ := c.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("replica on port %d did not sync", r.port)
}

// master returns the node the first sentinel that answers names the master.
func (ss *sentinelSet) master() (*server, error) {
	var err error
	for _, s := range ss.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, ReadTimeout: time.Second})
		var hp []string
		hp, err = c.GetMasterAddrByName(context.Background(), sentinelMaster).Result()
		c.Close()
		if err != nil || len(hp) != 2 {
			continue
		}
		for _, n := range ss.nodes {
			if strconv.Itoa(n.port) == hp[1] {
				return n, nil
			}
		}
		err = fmt.Errorf("sentinel names unknown master %v", hp)
	}
	return nil, err
}

// env is how golock finds the master: through the three sentinels.
func (ss *sentinelSet) env() []string {
	var hosts []string
	for _, s := range ss.sentinels {
		hosts = append(hosts, s.addr())
	}
	return []string{"CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_MASTER=" + sentinelMaster,
		"CRONLOCK_SENTINEL_HOST=" + strings.Join(hosts, ",")}
}

func (ss *sentinelSet) killAll() {
	for _, s := range append(append([]*server{}, ss.sentinels...), ss.nodes...) {
		s.kill()
	}
}
