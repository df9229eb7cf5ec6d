package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// checkLine is the form of a monitoring plugin's output: status, text, perfdata.
var checkLine = regexp.MustCompile(`^GOLOCK (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+ \| held=[01];;;0;1 holder_age=[0-9.]+s;[0-9.]*;;0( [a-z_]+=[0-9.]+s?;[0-9.]*;[0-9.]*;0)*\n$`)

// TestCheck runs golock --check in a case built for each of its four codes, by lock and
// by --name, and checks the one line of text and perfdata each prints.
func TestCheck(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_RECONNECT_ATTEMPTS=0")...)
	check := func(want int, wantText string, args ...string) {
		t.Helper()
		r := golocktest.Run(t, env, append([]string{"--check"}, args...)...)
		if r.Code != want || !strings.Contains(r.Stdout, wantText) || r.Stderr != "" {
			t.Errorf("--check %q: exit %d, %q, stderr %q; want %d and %q", args, r.Code, r.Stdout, r.Stderr, want, wantText)
		}
		if want != 3 && !checkLine.MatchString(r.Stdout) {
			t.Errorf("--check %q: %q is not one line of text and perfdata", args, r.Stdout)
		}
		t.Logf("exit %d: %s", r.Code, strings.TrimSpace(r.Stdout))
	}

	// UNKNOWN: never ran (a mistyped command looks the same), and no --max-age asks for a success.
	check(3, "GOLOCK UNKNOWN - "+cliName("true")+": no run recorded yet", "true")
	// CRITICAL: with --max-age, no success is recorded.
	check(2, "no successful run recorded", "--max-age", "1h", "true")
	// OK: the last run succeeded, within --max-age.
	cliWantCode(t, golocktest.Run(t, env, "true"), 0)
	check(0, "GOLOCK OK - "+cliName("true")+": last run succeeded on ", "--max-age=1h", "true")
	check(0, "last_success_age=", "--name", cliName("true"), "--max-age", "3600")
	// CRITICAL: the last success is older than --max-age.
	time.Sleep(1200 * time.Millisecond)
	check(2, "longer than --max-age 1s", "--max-age", "1", "true")
	// CRITICAL: the last run failed, whatever --max-age says; its last success is told.
	fail := []string{"sh", "-c", "exit 3"}
	cliWantCode(t, golocktest.Run(t, env, fail...), 3)
	check(2, "last run failed with exit 3 on ", fail...)
	check(2, "last_exit=3;;;0", "--max-age", "1d", "--name", cliName(fail...))

	// WARNING: the run under way has held the lock longer than --max-age; OK within it.
	release := cliPath(t, "release")
	running := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
	wait := golocktest.Start(t, env, running...).Wait
	if !redistest.Poll(5*time.Second, func() bool { return srv.Client().Exists(t.Context(), cliName(running...)).Val() == 1 }) {
		t.Fatal("the running job's lock never appeared")
	}
	check(0, "running on ", append([]string{"--max-age", "1m"}, running...)...)
	time.Sleep(1200 * time.Millisecond)
	check(1, "GOLOCK WARNING - "+cliName(running...)+": held by ", append([]string{"--max-age", "1"}, running...)...)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cliWantCode(t, wait(), 0)

	// UNKNOWN: Redis cannot be read (nothing listens), tried once.
	env = golocktest.Env("CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", redistest.FreePort(t)))
	start := time.Now()
	check(3, "GOLOCK UNKNOWN - "+cliName("true")+": cannot read Redis: at 127.0.0.1:", "true")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("UNKNOWN took %v: Redis must be tried once", took)
	}

	// Misuse of --check, and a bad setting, are UNKNOWN: one plugin line on stdout, exit 3.
	for _, args := range [][]string{{"--check"}, {"--check", "--max-age", "soon", "true"},
		{"--check", "--max-age"}, {"--check", "--max-age", "0", "true"}, {"--check", "--json", "true"},
		{"--check", "--max-age", "1sm", "true"}, {"--check", "--max-age", "2dh", "true"}} {
		if r := golocktest.Run(t, env, args...); r.Code != 3 || !strings.HasPrefix(r.Stdout, "GOLOCK UNKNOWN - golock: ") ||
			strings.Count(r.Stdout, "\n") != 1 || r.Stderr != "" {
			t.Errorf("golock %q: exit %d, stdout %q, stderr %q; want one UNKNOWN line on stdout and 3", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	bad := golocktest.Run(t, append(env, "CRONLOCK_LEASE=soon"), "--check", "true")
	if bad.Code != 3 || !strings.HasPrefix(bad.Stdout, "GOLOCK UNKNOWN - CRONLOCK_LEASE: ") || bad.Stderr != "" {
		t.Errorf("--check with a bad setting: exit %d, stdout %q, stderr %q; want one UNKNOWN line naming it, 3", bad.Code, bad.Stdout, bad.Stderr)
	}
	// Misuse without --check is golock's: one line, the hint, exit 201.
	if r := golocktest.Run(t, env, "--max-age", "1", "true"); r.Code != 201 || !strings.HasSuffix(r.Stderr, "\n"+hintHelp+"\n") {
		t.Errorf("golock --max-age 1 true: exit %d, %q; want a line, the hint and 201", r.Code, r.Stderr)
	}
}
