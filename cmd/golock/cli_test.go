package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The CLI tests run the real golock binary against real redis-server processes, each test
// with its own server. Their helpers are named cli* to keep clear of other test files.

// cliName is the lock name golock gives args with the default prefix and no CRONLOCK_KEY.
func cliName(args ...string) string { return lockscript.Name("cronlock.", "", args) }

// cliPath is a path in a fresh temporary directory; nothing is there yet.
func cliPath(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), name)
}

func cliExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// cliLines splits output into its non-empty lines.
func cliLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// cliWantCode fails the test unless r ended with code; it shows golock's output.
func cliWantCode(t *testing.T, r golocktest.Result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.Code, code, r.Stdout, r.Stderr)
	}
}

// TestCLIExitCodes is SPEC §10 as a table: what golock exits with, and for a command that
// cannot start, that its lock is gone at once rather than held for the grace time.
func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	notExec := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho should not run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hold := func(t *testing.T, name string) { cliHold(t, c, name) }
	holdForGrace := func(t *testing.T, name string) { cliHoldForGrace(t, c, name) }
	tests := []struct {
		name    string
		env     []string
		args    []string
		setup   func(t *testing.T, name string) // gets the lock name
		want    int
		stderr  string // a substring stderr must hold; empty: stderr must be empty
		stdout  string // a substring stdout must hold
		keyGone bool   // the lock must be gone right after the run
		keyHeld bool   // the lock must still be held (the grace hold)
	}{
		{name: "exit 3", args: []string{"sh", "-c", "exit 3"}, want: 3, keyHeld: true},
		{name: "true", args: []string{"true"}, want: 0, keyHeld: true},
		{name: "false", args: []string{"false"}, want: 1, keyHeld: true},
		{name: "killed by SIGTERM", args: []string{"sh", "-c", "kill -TERM $$"}, want: 128 + 15, keyHeld: true},
		{name: "killed by SIGKILL", args: []string{"sh", "-c", "kill -KILL $$"}, want: 128 + 9, keyHeld: true},
		{name: "not found", args: []string{"golock-test-no-such-command", "x"}, want: 127,
			stderr: "golock-test-no-such-command", keyGone: true},
		{name: "not found by path", args: []string{"/nonexistent/golock-test"}, want: 127,
			stderr: "/nonexistent/golock-test", keyGone: true},
		{name: "not executable", args: []string{notExec}, want: 126, stderr: notExec, keyGone: true},
		{name: "timeout", env: []string{"CRONLOCK_TIMEOUT=0.3"}, args: []string{"sleep", "5"}, want: 202,
			stderr: "sleep 5 killed after CRONLOCK_TIMEOUT=0.3"},
		{name: "held elsewhere", args: []string{"true"}, setup: hold, want: 200, keyHeld: true},
		{name: "reset of a running holder", env: []string{"CRONLOCK_RESET=yes"}, args: []string{"true"}, setup: hold, want: 200, keyHeld: true},
		{name: "reset of a grace hold", env: []string{"CRONLOCK_RESET=yes"}, args: []string{"true"}, setup: holdForGrace, want: 200, keyGone: true},
		{name: "reset of a free lock", env: []string{"CRONLOCK_RESET=yes"}, args: []string{"true"}, want: 200, keyGone: true},
		{name: "bad config", env: []string{"CRONLOCK_PORT=0"}, args: []string{"true"}, want: 201, stderr: "CRONLOCK_PORT"},
		{name: "no args", want: 201, stderr: "usage: golock"},
		{name: "only --", args: []string{"--"}, want: 201, stderr: "usage: golock"},
		{name: "--key alone", args: []string{"--key"}, want: 201, stderr: "golock: --key needs a COMMAND\ntry golock --help\n"},
		{name: "unknown option", args: []string{"--frobnicate", "true"}, want: 201,
			stderr: "golock: unknown option --frobnicate\ntry golock --help\n"},
		{name: "unknown short option", args: []string{"-x", "true"}, want: 201, stderr: "golock: unknown option -x\ntry golock --help\n"},
		{name: "--name without --status or RESET", args: []string{"--name", "cronlock.x"}, want: 201, stderr: "CRONLOCK_RESET=yes"},
		{name: "--doctor, Redis without persistence", args: []string{"--doctor"}, want: 1, stdout: "FAIL    persistence: none"},
		{name: "--help", args: []string{"--help"}, want: 0, stdout: "\nThe settings people set most"},
		{name: "-h", args: []string{"-h"}, want: 0, stdout: "\nExit status:\n"},
		{name: "--version", args: []string{"--version"}, want: 0, stdout: "golock "},
		{name: "-- then an option-like command", args: []string{"--", "sh", "-c", "exit 7"}, want: 7, keyHeld: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := "exit-code-" + strconv.Itoa(i)
			name := "cronlock." + key
			if tt.setup != nil {
				tt.setup(t, name)
			}
			r := golocktest.Run(t, golocktest.Env(append(srv.Env(), append([]string{"CRONLOCK_KEY=" + key}, tt.env...)...)...), tt.args...)
			// Read the lock before anything else: the grace hold is 40 s, so a lock that is
			// gone was deleted at once.
			exists, err := c.Exists(context.Background(), name).Result()
			if err != nil {
				t.Fatal(err)
			}
			cliWantCode(t, r, tt.want)
			switch {
			case tt.stderr == "" && r.Stderr != "":
				t.Errorf("stderr %q, want nothing", r.Stderr)
			case tt.stderr != "" && !strings.Contains(r.Stderr, tt.stderr):
				t.Errorf("stderr %q, want it to hold %q", r.Stderr, tt.stderr)
			case strings.HasSuffix(r.Stderr, "\n"+hintHelp+"\n"):
				// A misused option: one line naming it, then the hint.
				if len(cliLines(r.Stderr)) != 2 && !strings.HasPrefix(r.Stderr, "usage: golock") {
					t.Errorf("stderr %q, want one line and the hint", r.Stderr)
				}
			case tt.stderr != "" && len(cliLines(r.Stderr)) != 1:
				t.Errorf("stderr %q, want one line", r.Stderr)
			}
			if !strings.Contains(r.Stdout, tt.stdout) {
				t.Errorf("stdout %q, want it to hold %q", r.Stdout, tt.stdout)
			}
			if tt.keyGone && exists != 0 {
				t.Errorf("lock %s still there after the run; want it deleted at once", name)
			}
			if tt.keyHeld && exists != 1 {
				t.Errorf("lock %s gone after the run; want it held for the grace time", name)
			}
			if tt.want == 202 && r.Took > 4*time.Second {
				t.Errorf("timed-out run took %v; the job was not killed", r.Took)
			}
		})
	}
}

// cliHold writes a lock record at name held by another golock, for a minute.
func cliHold(t *testing.T, c *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	err := c.HSet(ctx, name, "owner", "00000000-0000-4000-8000-000000000000", "fence", "1",
		"host", "elsewhere", "pid", "1", "cmd", "true", "acquired_ms", now,
		"grace_ms", now+60000, "deadline_ms", now+86400000, "version", lockscript.RecordVersion).Err()
	if err == nil {
		err = c.PExpire(ctx, name, time.Minute).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// cliHoldForGrace writes a lock record of another owner whose job has ended, held for grace.
func cliHoldForGrace(t *testing.T, c *redis.Client, name string) {
	t.Helper()
	cliHold(t, c, name)
	if err := c.HSet(context.Background(), name, "released_ms", time.Now().UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestCLIHeldLockRunsNothing checks that a run whose lock another golock holds exits 200
// silently without running its job, and that a run that goes well is silent too.
func TestCLIHeldLockRunsNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=held")...)
	first := cliPath(t, "first")
	r := golocktest.Run(t, env, "touch", first)
	cliWantCode(t, r, 0)
	if r.Stderr != "" || r.Stdout != "" {
		t.Errorf("a run that went well printed stdout %q stderr %q; want nothing (cron would mail it)", r.Stdout, r.Stderr)
	}
	if !cliExists(first) {
		t.Fatal("the job did not run")
	}
	// The first run's lock is held for its grace time (40 s): the next one must not run.
	second := cliPath(t, "second")
	r = golocktest.Run(t, env, "touch", second)
	cliWantCode(t, r, 200)
	if r.Stderr != "" || r.Stdout != "" {
		t.Errorf("a held lock printed stdout %q stderr %q; want nothing", r.Stdout, r.Stderr)
	}
	if cliExists(second) {
		t.Error("the job ran although its lock was held")
	}
	// Under CRONLOCK_VERBOSE the holder is named in a debug line.
	r = golocktest.Run(t, append(env, "CRONLOCK_VERBOSE=yes"), "touch", second)
	cliWantCode(t, r, 200)
	if !strings.Contains(r.Stderr, "golock: debug: lock held by ") || cliExists(second) {
		t.Errorf("verbose held run: stderr %q, job ran: %v", r.Stderr, cliExists(second))
	}
}

// TestCLIResetClearsLock checks that CRONLOCK_RESET=yes revokes a lock another owner holds
// and keeps it taken until that owner's job has ended (here its lease, ended by hand), exits
// 200 without running the job, and that the next run then runs.
func TestCLIResetClearsLock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	marker := cliPath(t, "ran")
	args := []string{"touch", marker}
	name := cliName(args...)
	cliHold(t, c, name)
	fence, _ := c.Get(context.Background(), lockscript.FenceKey(name)).Result()

	r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_RESET=yes")...), args...)
	cliWantCode(t, r, 200)
	if r.Stderr != "" {
		t.Errorf("reset printed %q; want nothing", r.Stderr)
	}
	if cliExists(marker) {
		t.Error("the job ran under CRONLOCK_RESET")
	}
	if why := c.HGet(context.Background(), name, "revoked_why").Val(); why != "reset" {
		t.Fatalf("the running holder's lock after a reset: revoked_why %q, want it kept and marked reset", why)
	}
	if r := golocktest.Run(t, golocktest.Env(srv.Env()...), args...); r.Code != 200 || cliExists(marker) {
		t.Fatalf("a run while the revoked holder may still run: exit %d, want 200 and nothing run", r.Code)
	}
	if err := c.Del(context.Background(), name).Err(); err != nil { // its lease ran out
		t.Fatal(err)
	}
	r = golocktest.Run(t, golocktest.Env(srv.Env()...), args...)
	cliWantCode(t, r, 0)
	if !cliExists(marker) {
		t.Error("the run after the reset did not run the job")
	}
	if got := c.HGet(context.Background(), name, "fence").Val(); got == "" || got == fence {
		t.Errorf("fence after reset %q, want a new one", got)
	}
}

// TestCLIGraceHoldsLock checks CRONLOCK_GRACE: a short job keeps its lock for the grace
// time from acquisition, and a run after it ends runs.
func TestCLIGraceHoldsLock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=1.5", "CRONLOCK_KEY=grace")...)
	start := time.Now()
	cliWantCode(t, golocktest.Run(t, env, "true"), 0)

	ttl := c.PTTL(context.Background(), "cronlock.grace").Val()
	if ttl <= 0 || ttl > 1500*time.Millisecond {
		t.Errorf("lock TTL after the job %v; want the rest of the 1.5 s grace", ttl)
	}
	if c.HGet(context.Background(), "cronlock.grace", "released_ms").Val() == "" {
		t.Error("the record has no released_ms during the grace hold")
	}
	marker := cliPath(t, "ran")
	r := golocktest.Run(t, env, "touch", marker)
	cliWantCode(t, r, 200)
	if cliExists(marker) {
		t.Fatal("a run during the grace hold ran its job")
	}
	var last golocktest.Result
	ok := redistest.Poll(10*time.Second, func() bool {
		last = golocktest.Run(t, env, "touch", marker)
		return last.Code != 200
	})
	took := time.Since(start)
	if !ok {
		t.Fatalf("still held %v after the first run started; grace is 1.5 s", took)
	}
	cliWantCode(t, last, 0)
	if !cliExists(marker) {
		t.Error("the job did not run after the grace hold")
	}
	if took < 1450*time.Millisecond {
		t.Errorf("the lock was free %v after the first run started; want at least the 1.5 s grace", took)
	}
	t.Logf("lock free again %v after the first run started (grace 1.5 s)", took.Round(time.Millisecond))
}

// TestCLILockRecord checks the record of SPEC §3 while a job runs, and that the job's
// CRONLOCK_LOCK, CRONLOCK_OWNER and CRONLOCK_FENCE match it.
func TestCLILockRecord(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	dir := t.TempDir()
	envFile, goFile := filepath.Join(dir, "env"), filepath.Join(dir, "go")
	args := []string{"sh", "-c", `env > "$1.tmp" && mv "$1.tmp" "$1"; while [ ! -e "$2" ]; do sleep 0.02; done`,
		"job", envFile, goFile}
	name := cliName(args...)
	g := golocktest.Start(t, golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=2", "CRONLOCK_RELEASE=3600")...), args...)
	if !redistest.Poll(10*time.Second, func() bool { return cliExists(envFile) }) {
		r := g.Wait()
		t.Fatalf("the job did not start: exit %d, stderr %q", r.Code, r.Stderr)
	}
	rec, err := c.HGetAll(ctx, name).Result()
	if err != nil {
		t.Fatal(err)
	}
	redisNow := c.Time(ctx).Val().UnixMilli()
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := g.Wait(); r.Code != 0 || r.Stderr != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
	}

	host, _ := os.Hostname()
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuidV4.MatchString(rec["owner"]) {
		t.Errorf("owner %q is not a UUID v4", rec["owner"])
	}
	num := func(field string) int64 {
		n, err := strconv.ParseInt(rec[field], 10, 64)
		if err != nil {
			t.Errorf("%s = %q, want a number", field, rec[field])
		}
		return n
	}
	acquired := num("acquired_ms")
	if fence := num("fence"); fence <= 0 {
		t.Errorf("fence %d, want a positive number", fence)
	}
	if d := redisNow - acquired; d < 0 || d > 10000 {
		t.Errorf("acquired_ms %d is %d ms from Redis TIME %d", acquired, d, redisNow)
	}
	if g := num("grace_ms"); g != acquired+2000 {
		t.Errorf("grace_ms %d, want acquired_ms + 2000 = %d", g, acquired+2000)
	}
	if d := num("deadline_ms"); d != acquired+3600000 {
		t.Errorf("deadline_ms %d, want acquired_ms + 3600000 = %d", d, acquired+3600000)
	}
	for field, want := range map[string]string{
		"host": host, "pid": strconv.Itoa(g.Cmd.Process.Pid), "cmd": strings.Join(args, " "),
		"version": lockscript.RecordVersion,
	} {
		if rec[field] != want {
			t.Errorf("%s = %q, want %q", field, rec[field], want)
		}
	}
	if _, ok := rec["released_ms"]; ok {
		t.Error("released_ms is set while the job runs")
	}

	text, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	childEnv := map[string]string{}
	for _, line := range strings.Split(string(text), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			childEnv[k] = v
		}
	}
	for k, want := range map[string]string{"CRONLOCK_LOCK": name, "CRONLOCK_OWNER": rec["owner"],
		"CRONLOCK_FENCE": rec["fence"], "CRONLOCK_PORT": strconv.Itoa(srv.Port)} {
		if childEnv[k] != want {
			t.Errorf("the job's %s = %q, want %q", k, childEnv[k], want)
		}
	}
	// The job has ended and its grace hold keeps the lock: the counter has moved one past
	// the record's fence, so that no late renewal can bring the lock back.
	fence, _ := strconv.ParseInt(rec["fence"], 10, 64)
	if got := c.Get(ctx, lockscript.FenceKey(name)).Val(); got != strconv.FormatInt(fence+1, 10) {
		t.Errorf("fence counter %s = %q, want one past the record's %q", lockscript.FenceKey(name), got, rec["fence"])
	}
	// A job that calls golock again hands back CRONLOCK_LOCK/OWNER/FENCE: no warnings.
	r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_LOCK="+name,
		"CRONLOCK_OWNER="+rec["owner"], "CRONLOCK_FENCE="+rec["fence"])...), "true")
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("nested run: exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
	}
}

// TestCLIKeyNames checks that golock names locks as cronlock does.
func TestCLIKeyNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"pwd"}, "cronlock.c6ad4d9c5b03d1b42aec7d14899614db"},
		{nil, []string{"ls", "-al"}, "cronlock.116a0615d30dbfdede6a4c955715af7d"},
		{nil, []string{"--", "ls", "-al"}, "cronlock.116a0615d30dbfdede6a4c955715af7d"},
		{[]string{"CRONLOCK_PREFIX=jobs:"}, []string{"pwd"}, "jobs:c6ad4d9c5b03d1b42aec7d14899614db"},
		{[]string{"CRONLOCK_KEY=nightly"}, []string{"pwd"}, "cronlock.nightly"},
		{[]string{"CRONLOCK_PREFIX={cron}.", "CRONLOCK_KEY=backup"}, []string{"pwd"}, "{cron}.backup"},
	}
	for _, tt := range tests {
		r := golocktest.Run(t, golocktest.Env(tt.env...), append([]string{"--key"}, tt.args...)...)
		if r.Code != 0 || r.Stdout != tt.want+"\n" || r.Stderr != "" {
			t.Errorf("%q golock --key %q: exit %d, stdout %q, stderr %q; want %s", tt.env, tt.args,
				r.Code, r.Stdout, r.Stderr, tt.want)
		}
	}
}

// TestCLILegacyLock checks locks written by cronlock (a string holding the unix second they
// expire at, by Redis's clock) and foreign values at a lock's name.
func TestCLILegacyLock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	redisNow := c.Time(ctx).Val().Unix()
	env := golocktest.Env(srv.Env()...)

	t.Run("live", func(t *testing.T) {
		marker := cliPath(t, "ran")
		name := cliName("touch", marker)
		value := strconv.FormatInt(redisNow+60, 10)
		c.Set(ctx, name, value, 0)
		r := golocktest.Run(t, env, "touch", marker)
		cliWantCode(t, r, 200)
		if cliExists(marker) || r.Stderr != "" {
			t.Errorf("job ran: %v, stderr %q; want no run and nothing said", cliExists(marker), r.Stderr)
		}
		if got := c.Get(ctx, name).Val(); got != value {
			t.Errorf("cronlock's lock changed to %q", got)
		}
	})
	t.Run("stale", func(t *testing.T) {
		marker := cliPath(t, "ran")
		name := cliName("touch", marker)
		c.Set(ctx, name, strconv.FormatInt(redisNow-60, 10), 0)
		r := golocktest.Run(t, env, "touch", marker)
		cliWantCode(t, r, 0)
		if !cliExists(marker) || r.Stderr != "" {
			t.Errorf("job ran: %v, stderr %q; want a quiet run", cliExists(marker), r.Stderr)
		}
		if typ := c.Type(ctx, name).Val(); typ != "hash" {
			t.Errorf("after taking over the stale lock, %s is a %s; want golock's hash", name, typ)
		}
	})
	for _, foreign := range []struct {
		kind string
		set  func(name string) error
	}{
		{"list", func(name string) error { return c.RPush(ctx, name, "a", "b").Err() }},
		{"string", func(name string) error { return c.Set(ctx, name, "not a time", 0).Err() }},
		{"set", func(name string) error { return c.SAdd(ctx, name, "a").Err() }},
	} {
		t.Run("foreign "+foreign.kind, func(t *testing.T) {
			marker := cliPath(t, "ran")
			name := cliName("touch", marker)
			if err := foreign.set(name); err != nil {
				t.Fatal(err)
			}
			dump := c.Dump(ctx, name).Val()
			r := golocktest.Run(t, env, "touch", marker)
			cliWantCode(t, r, 200)
			if cliExists(marker) {
				t.Error("the job ran over a foreign value")
			}
			if lines := cliLines(r.Stderr); len(lines) != 1 || !strings.HasPrefix(lines[0], "golock: warning: ") ||
				!strings.Contains(lines[0], foreign.kind) {
				t.Errorf("stderr %q, want one warning line naming the type", r.Stderr)
			}
			if c.Type(ctx, name).Val() != foreign.kind || c.Dump(ctx, name).Val() != dump {
				t.Errorf("the foreign %s at %s was changed", foreign.kind, name)
			}
		})
	}
}

// TestCLIBadSettings checks each setting that can be bad through the real binary: exit 201,
// one line on stderr naming the variable, and the job never runs.
func TestCLIBadSettings(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	badLine := filepath.Join(dir, "bad-line.conf")
	if err := os.WriteFile(badLine, []byte("CRONLOCK_HOST=127.0.0.1\nnot a setting\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badValue := filepath.Join(dir, "bad-value.conf")
	if err := os.WriteFile(badValue, []byte("CRONLOCK_GRACE=soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		setting []string
		names   string // what the line must name
	}{
		{[]string{"CRONLOCK_PORT=0"}, "CRONLOCK_PORT"},
		{[]string{"CRONLOCK_PORT=65536"}, "CRONLOCK_PORT"},
		{[]string{"CRONLOCK_PORT=abc"}, "CRONLOCK_PORT"},
		{[]string{"CRONLOCK_DB=-1"}, "CRONLOCK_DB"},
		{[]string{"CRONLOCK_DB=x"}, "CRONLOCK_DB"},
		{[]string{"CRONLOCK_GRACE=100", "CRONLOCK_RELEASE=50"}, "CRONLOCK_GRACE"},
		{[]string{"CRONLOCK_LEASE=0"}, "CRONLOCK_LEASE"},
		{[]string{"CRONLOCK_LEASE=0.000000002"}, "CRONLOCK_LEASE"},
		{[]string{"CRONLOCK_KILL_GRACE=30"}, "CRONLOCK_KILL_GRACE"},
		{[]string{"CRONLOCK_REDIS_TIMEOUT=-1"}, "CRONLOCK_REDIS_TIMEOUT"},
		{[]string{"CRONLOCK_REDIS_TIMEOUT=0"}, "CRONLOCK_REDIS_TIMEOUT"},
		{[]string{"CRONLOCK_RECONNECT_BACKOFF=NaN"}, "CRONLOCK_RECONNECT_BACKOFF"},
		{[]string{"CRONLOCK_GRACE=Inf"}, "CRONLOCK_GRACE"},
		{[]string{"CRONLOCK_RELEASE=abc"}, "CRONLOCK_RELEASE"},
		{[]string{"CRONLOCK_LEASE=-1"}, "CRONLOCK_LEASE"},
		{[]string{"CRONLOCK_KILL_GRACE=x"}, "CRONLOCK_KILL_GRACE"},
		{[]string{"CRONLOCK_TIMEOUT=-5"}, "CRONLOCK_TIMEOUT"},
		{[]string{"CRONLOCK_WAIT=1h"}, "CRONLOCK_WAIT"},
		{[]string{"CRONLOCK_RECONNECT_ATTEMPTS=-1"}, "CRONLOCK_RECONNECT_ATTEMPTS"},
		{[]string{"CRONLOCK_MIN_REPLICAS=-1"}, "CRONLOCK_MIN_REPLICAS"},
		{[]string{"CRONLOCK_RESET=maybe"}, "CRONLOCK_RESET"},
		{[]string{"CRONLOCK_VERBOSE=maybe"}, "CRONLOCK_VERBOSE"},
		{[]string{"CRONLOCK_ON_LOST=explode"}, "CRONLOCK_ON_LOST"},
		{[]string{"CRONLOCK_LOG_FORMAT=xml"}, "CRONLOCK_LOG_FORMAT"},
		{[]string{"CRONLOCK_HOST=a b"}, "CRONLOCK_HOST"},
		{[]string{"CRONLOCK_CONFIG=" + filepath.Join(dir, "absent.conf")}, "CRONLOCK_CONFIG"},
		{[]string{"CRONLOCK_CONFIG=" + dir}, "CRONLOCK_CONFIG"},
		{[]string{"CRONLOCK_CONFIG=" + badLine}, "line 2"},
		{[]string{"CRONLOCK_CONFIG=" + badValue}, "CRONLOCK_GRACE"},
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + filepath.Join(dir, "absent.pem")}, "CRONLOCK_TLS_CA_CERT"},
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CERT=" + badValue}, "CRONLOCK_TLS_KEY"},
		{[]string{"CRONLOCK_TLS=sometimes"}, "CRONLOCK_TLS"},
		{[]string{"CRONLOCK_URL=http://example.com"}, "CRONLOCK_URL"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.setting, " "), func(t *testing.T) {
			t.Parallel()
			marker := cliPath(t, "ran")
			r := golocktest.Run(t, golocktest.Env(append(srv.Env(), tt.setting...)...), "touch", marker)
			cliWantCode(t, r, 201)
			lines := cliLines(r.Stderr)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "golock: ") || !strings.Contains(lines[0], tt.names) {
				t.Errorf("stderr %q, want one line naming %s", r.Stderr, tt.names)
			}
			if cliExists(marker) {
				t.Error("the job ran with a bad setting")
			}
		})
	}
}
