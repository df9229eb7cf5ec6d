package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
)

// TestStatusAndList checks --status and --list, in text and JSON, against a lock held by a
// running golock, one held for grace after its job, and the last-run record release leaves.
func TestStatusAndList(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := baseEnv(append(srv.Env(), "CRONLOCK_PREFIX=st.")...)
	release := cliPath(t, "release")
	running := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
	runningName := strings.TrimSpace(runGolock(t, env, "--key", running[0], running[1], running[2]).stdout)
	_, wait := cliStart(t, env, running...)

	if r := runGolock(t, env, "sh", "-c", "exit 4"); r.code != 4 {
		t.Fatalf("exit %d, want 4: %s", r.code, r.stderr)
	}
	if !redistest.Poll(5*time.Second, func() bool { return srv.Client().Exists(t.Context(), runningName).Val() == 1 }) {
		t.Fatal("the running job's lock never appeared")
	}

	r := runGolock(t, env, "--status", "sh", "-c", "exit 4")
	cliWantCode(t, r, 0)
	if !strings.Contains(r.stdout, "job ended, held for grace") || !strings.Contains(r.stdout, "last run: ") ||
		!strings.Contains(r.stdout, "exit 4") || r.stderr != "" {
		t.Errorf("--status of a finished job:\n%s%s", r.stdout, r.stderr)
	}

	r = runGolock(t, env, "--list", "--json")
	cliWantCode(t, r, 0)
	var list []statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("--list --json: %v\n%s", err, r.stdout)
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
		t.Errorf("--list --json = %s, want the running lock held and the finished one released", r.stdout)
	}
	if r := runGolock(t, env, "--list"); len(cliLines(r.stdout)) != 2 || r.code != 0 {
		t.Errorf("--list: exit %d, %q; want 2 lines", r.code, r.stdout)
	}

	r = runGolock(t, env, "--status", "--json", "never", "ran")
	var free statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &free); err != nil || free.State != "free" || free.LastRun != nil {
		t.Errorf("--status --json of a free lock: %s (%v)", r.stdout, err)
	}

	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cliWantCode(t, wait(), 0)

	for _, args := range [][]string{{"--list", "extra"}, {"--json", "true"}, {"--status"}, {"--status", "--list"}} {
		if r := runGolock(t, env, args...); r.code != 201 || !strings.HasSuffix(r.stderr, "\n"+hintHelp+"\n") {
			t.Errorf("golock %q: exit %d, %q; want a line, the hint and 201", args, r.code, r.stderr)
		}
	}
	dead := baseEnv("CRONLOCK_PORT=1", "CRONLOCK_RECONNECT_ATTEMPTS=0")
	if r := runGolock(t, dead, "--list"); r.code != 201 || len(cliLines(r.stderr)) != 1 {
		t.Errorf("--list with Redis down: exit %d, %q; want 201 and one line", r.code, r.stderr)
	}
}
