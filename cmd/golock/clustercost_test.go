package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// clientCommands are the commands a client sends itself; INFO commandstats also counts the
// ones the scripts call inside Redis, which are left out.
var clientCommands = map[string]bool{"evalsha": true, "eval": true, "command": true, "command|docs": true,
	"command|info": true, "command|count": true, "cluster|slots": true, "cluster|shards": true, "cluster|nodes": true,
	"hello": true, "auth": true, "ping": true, "select": true, "readonly": true, "wait": true, "client|setinfo": true,
	"client|setname": true, "script|load": true}

// commandCalls is how many times each command a client sends ran on the cluster's
// masters, by INFO commandstats, summed over the nodes.
func commandCalls(t *testing.T, cl *redistest.Cluster) map[string]int {
	t.Helper()
	calls := map[string]int{}
	for _, n := range cl.Nodes {
		info, err := n.Client().Info(t.Context(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
			if !ok {
				continue
			}
			num, _, _ := strings.Cut(rest, ",")
			k, _ := strconv.Atoi(num)
			if name = strings.TrimPrefix(name, "cmdstat_"); clientCommands[name] {
				calls[name] += k
			}
		}
	}
	return calls
}

// TestClusterRunCost: a run on Redis Cluster sends its two scripts and learns the slots,
// and never asks for the server's whole COMMAND table (90 kB and 0.8 ms of server CPU,
// which go-redis fetches to learn where a command's keys are).
func TestClusterRunCost(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	env := golocktest.Env(append(cl.Env(), "CRONLOCK_GRACE=0")...)
	golocktest.Run(t, env, "true") // the scripts loaded once (a NOSCRIPT and an EVAL each)
	const runs = 5
	before := commandCalls(t, cl)
	for range runs {
		if r := golocktest.Run(t, env, "true"); r.Code != 0 {
			t.Fatalf("golock true: exit %d: %s", r.Code, r.Stderr)
		}
	}
	after := commandCalls(t, cl)
	total := 0
	for name, n := range after {
		d := n - before[name]
		total += d
		if d > 0 {
			t.Logf("%s: %d per run", name, d/runs)
		}
	}
	t.Logf("measured: %.1f commands per run across 3 masters", float64(total)/runs)
	if n := after["command"] - before["command"]; n != 0 {
		t.Errorf("%d COMMAND calls in %d runs, want none", n, runs)
	}
	if float64(total)/runs > 4.5 {
		t.Errorf("%.1f commands per run, want at most 4.5", float64(total)/runs)
	}
}
