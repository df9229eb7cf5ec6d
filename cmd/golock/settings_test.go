package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// TestCLISettingsThatCannotWork: settings each valid alone but contradicting each other
// are refused before anything runs, against a Redis golock could otherwise use: exit 201,
// one line naming both variables, no job, and a password given anywhere never shown.
func TestCLISettingsThatCannotWork(t *testing.T) {
	t.Parallel()
	const pw = "Pa55wordXyz"
	srv := redistest.Start(t, redistest.WithPassword(pw))
	plainURL := "CRONLOCK_URL=redis://:" + pw + "@" + srv.Addr()
	certs := redistest.NewCerts(t)

	// The same Redis, reached as each case below would reach it, runs a job: the refusals
	// are the settings', not the server's.
	marker := cliPath(t, "ran")
	cliWantCode(t, golocktest.Run(t, golocktest.Env(plainURL, "CRONLOCK_GRACE=0"), "touch", marker), 0)
	if !cliExists(marker) {
		t.Fatal("the job did not run with good settings")
	}

	tests := []struct {
		name    string
		setting []string
		names   []string // the variables the line must name
	}{
		{"kill grace two thirds of lease", []string{"CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=2"}, []string{"CRONLOCK_KILL_GRACE", "CRONLOCK_LEASE"}},
		{"kill grace zero", []string{"CRONLOCK_KILL_GRACE=0"}, []string{"CRONLOCK_KILL_GRACE", "CRONLOCK_LEASE"}},
		{"release not above kill grace", []string{"CRONLOCK_RELEASE=5", "CRONLOCK_GRACE=0"}, []string{"CRONLOCK_RELEASE", "CRONLOCK_KILL_GRACE"}},
		{"lease too short", []string{"CRONLOCK_LEASE=0.3"}, []string{"CRONLOCK_LEASE", "CRONLOCK_KILL_GRACE"}},
		{"tls with a redis url", []string{plainURL, "CRONLOCK_TLS=yes"}, []string{"CRONLOCK_TLS", "CRONLOCK_URL"}},
		{"ca with a redis url", []string{plainURL, "CRONLOCK_TLS_CA_CERT=" + certs.CA}, []string{"CRONLOCK_TLS_CA_CERT", "CRONLOCK_URL"}},
		{"ca with tls no", []string{"CRONLOCK_TLS=no", "CRONLOCK_TLS_CA_CERT=" + certs.CA}, []string{"CRONLOCK_TLS_CA_CERT", "CRONLOCK_TLS=no"}},
		{"url database -1", []string{plainURL + "/-1"}, []string{"CRONLOCK_URL"}},
		{"password in port", []string{"CRONLOCK_PORT=" + pw}, []string{"CRONLOCK_PORT"}},
		{"password in sentinel host", []string{"CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_HOST=h:" + pw}, []string{"CRONLOCK_SENTINEL_HOST"}},
		{"password in sentinel port", []string{"CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_PORT=" + pw}, []string{"CRONLOCK_SENTINEL_PORT"}},
		{"password in db", []string{"CRONLOCK_DB=" + pw}, []string{"CRONLOCK_DB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			marker := cliPath(t, "ran")
			env := golocktest.Env(append(append(srv.Env(), "CRONLOCK_GRACE=0"), tt.setting...)...)
			r := golocktest.Run(t, env, "touch", marker)
			cliWantCode(t, r, 201)
			lines := cliLines(r.Stderr)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "golock: ") {
				t.Fatalf("stderr %q, want one line", r.Stderr)
			}
			t.Logf("line: %s", lines[0])
			for _, name := range tt.names {
				if !strings.Contains(lines[0], name) {
					t.Errorf("line %q does not name %s", lines[0], name)
				}
			}
			if strings.Contains(r.Stderr+r.Stdout, pw) {
				t.Errorf("the password is shown: %q", r.Stderr)
			}
			if cliExists(marker) {
				t.Error("the job ran")
			}
		})
	}
}

// TestCLIRecordCmdNo: with CRONLOCK_RECORD_CMD=no, a secret in the command line reaches
// neither Redis (the lock record, the last-run record) nor --status, --list or the timeout
// message; they carry the line's SHA-256 instead, as `echo LINE | sha256sum` prints it.
func TestCLIRecordCmdNo(t *testing.T) {
	t.Parallel()
	const secret = "TopSecret42"
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	started := cliPath(t, "started")
	args := []string{"sh", "-c", `touch "$1"; sleep 30`, "job", started, "--password=" + secret}
	sum := sha256.Sum256([]byte(strings.Join(args, " ") + "\n"))
	hash := "sha256:" + hex.EncodeToString(sum[:])
	name := cliName(args...)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_RECORD_CMD=no", "CRONLOCK_TIMEOUT=2")...)

	wait := golocktest.Start(t, env, args...).Wait
	if !redistest.Poll(10*time.Second, func() bool { return cliExists(started) }) {
		t.Fatalf("the job did not start: %s", wait().Stderr)
	}
	record := c.HGetAll(ctx, name).Val()
	if record["cmd"] != hash {
		t.Errorf("record cmd %q, want %q", record["cmd"], hash)
	}
	for _, opts := range [][]string{
		append([]string{"--status", "--"}, args...), append([]string{"--status", "--json", "--"}, args...),
		{"--list"}, {"--list", "--json"},
	} {
		r := golocktest.Run(t, env, opts...)
		cliWantCode(t, r, 0)
		if strings.Contains(r.Stdout+r.Stderr, secret) || !strings.Contains(r.Stdout, name) {
			t.Errorf("golock %s: %q, want the lock without the secret", strings.Join(opts[:2], " "), r.Stdout)
		}
	}

	r := wait()
	cliWantCode(t, r, 202)
	lines := cliLines(r.Stderr)
	if len(lines) != 1 || !strings.Contains(lines[0], hash+" killed after CRONLOCK_TIMEOUT=2") {
		t.Errorf("stderr %q, want one line naming the command by its hash", r.Stderr)
	}
	last := c.HGetAll(ctx, lockscript.LastRunKey(name)).Val()
	if len(last) == 0 {
		t.Error("no last-run record")
	}
	for _, h := range []map[string]string{record, last} {
		for k, v := range h {
			if strings.Contains(v, secret) {
				t.Errorf("Redis holds the secret in %s: %q", k, v)
			}
		}
	}
	if strings.Contains(r.Stderr+r.Stdout, secret) {
		t.Errorf("the secret is shown: %q", r.Stderr)
	}

	// The default records and prints the line itself.
	started2 := cliPath(t, "started")
	args[4] = started2
	wait = golocktest.Start(t, golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_TIMEOUT=2")...), args...).Wait
	if !redistest.Poll(10*time.Second, func() bool { return cliExists(started2) }) {
		t.Fatalf("the job did not start: %s", wait().Stderr)
	}
	if got := c.HGet(ctx, cliName(args...), "cmd").Val(); got != strings.Join(args, " ") {
		t.Errorf("record cmd %q, want the command line", got)
	}
	if r := wait(); !strings.Contains(r.Stderr, secret) {
		t.Errorf("stderr %q, want the command line with CRONLOCK_RECORD_CMD unset", r.Stderr)
	}
}
