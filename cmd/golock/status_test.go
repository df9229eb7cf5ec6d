package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// TestStatusAndList checks --status and --list, in text and JSON, against a lock held by a
// running golock, one held for grace after its job, and the last-run record release leaves.
func TestStatusAndList(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=st.")...)
	release := cliPath(t, "release")
	running := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
	runningName := strings.TrimSpace(golocktest.Run(t, env, "--key", running[0], running[1], running[2]).Stdout)
	wait := golocktest.Start(t, env, running...).Wait

	if r := golocktest.Run(t, env, "sh", "-c", "exit 4"); r.Code != 4 {
		t.Fatalf("exit %d, want 4: %s", r.Code, r.Stderr)
	}
	if !redistest.Poll(5*time.Second, func() bool { return srv.Client().Exists(t.Context(), runningName).Val() == 1 }) {
		t.Fatal("the running job's lock never appeared")
	}

	r := golocktest.Run(t, env, "--status", "sh", "-c", "exit 4")
	cliWantCode(t, r, 0)
	if !strings.Contains(r.Stdout, "job ended, held for grace") || !strings.Contains(r.Stdout, "last run: ") ||
		!strings.Contains(r.Stdout, "exit 4") || r.Stderr != "" {
		t.Errorf("--status of a finished job:\n%s%s", r.Stdout, r.Stderr)
	}

	r = golocktest.Run(t, env, "--list", "--json")
	cliWantCode(t, r, 0)
	var list []statusJSON
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("--list --json: %v\n%s", err, r.Stdout)
	}
	states := map[string]string{}
	for _, st := range list {
		states[st.Name] = st.State
		if st.State == "released" && (st.LastRun == nil || st.LastRun.Exit != 4 || !st.LastRun.Ran) {
			t.Errorf("the finished job's last run: %+v", st.LastRun)
		}
		if st.State == "held" && (st.Owner == "" || st.Fence == 0 || st.TTLMS <= 0 || st.LastRun != nil) {
			t.Errorf("the running job: %+v", st)
		}
	}
	if len(list) != 2 || states[runningName] != "held" {
		t.Errorf("--list --json = %s, want the running lock held and the finished one released", r.Stdout)
	}
	if r := golocktest.Run(t, env, "--list"); len(cliLines(r.Stdout)) != 2 || r.Code != 0 {
		t.Errorf("--list: exit %d, %q; want 2 lines", r.Code, r.Stdout)
	}

	r = golocktest.Run(t, env, "--status", "--json", "never", "ran")
	var free statusJSON
	if err := json.Unmarshal([]byte(r.Stdout), &free); err != nil || free.State != "free" || free.LastRun != nil {
		t.Errorf("--status --json of a free lock: %s (%v)", r.Stdout, err)
	}

	// A job that ran and ended, its grace over: free, and still listed, with its command.
	if r := golocktest.Run(t, append(env, "CRONLOCK_GRACE=0"), "echo", "done"); r.Code != 0 {
		t.Fatalf("echo done: exit %d: %s", r.Code, r.Stderr)
	}
	r = golocktest.Run(t, env, "--list")
	var endedLine string
	for _, l := range cliLines(r.Stdout) {
		if strings.Contains(l, ": free; last run: ") {
			endedLine = l
		}
	}
	if len(cliLines(r.Stdout)) != 3 || !strings.HasSuffix(endedLine, `, command "echo done"`) {
		t.Errorf("--list after a job ran and ended: %q; want 3 lines, the ended one free with its command", r.Stdout)
	}
	if r := golocktest.Run(t, env, "--list", "--held"); len(cliLines(r.Stdout)) != 2 || strings.Contains(r.Stdout, "free") {
		t.Errorf("--list --held: %q; want the 2 held locks only", r.Stdout)
	}
	if r := golocktest.Run(t, env, "--held", "--list", "--json"); r.Code != 0 || strings.Count(r.Stdout, `"name"`) != 2 {
		t.Errorf("--held --list --json: exit %d, %q; want the 2 held locks", r.Code, r.Stdout)
	}

	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cliWantCode(t, wait(), 0)

	for _, args := range [][]string{{"--list", "extra"}, {"--json", "true"}, {"--status"}, {"--status", "--list"}} {
		if r := golocktest.Run(t, env, args...); r.Code != 201 || !strings.HasSuffix(r.Stderr, "\n"+hintHelp+"\n") {
			t.Errorf("golock %q: exit %d, %q; want a line, the hint and 201", args, r.Code, r.Stderr)
		}
	}
	dead := golocktest.Env("CRONLOCK_PORT=1", "CRONLOCK_RECONNECT_ATTEMPTS=0")
	if r := golocktest.Run(t, dead, "--list"); r.Code != 201 || len(cliLines(r.Stderr)) != 1 {
		t.Errorf("--list with Redis down: exit %d, %q; want 201 and one line", r.Code, r.Stderr)
	}
}
