package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

const isoRE = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`

// TestStatusByName checks --status --name NAME (the name --list prints) on a lock held by
// a running golock, one held for grace, one whose command is recorded as a hash, a free
// one and a cronlock string lock, in text and JSON; and a reset by name.
func TestStatusByName(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=byname.", "CRONLOCK_LEASE=1.5")...)
	release := cliPath(t, "release")
	running := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
	name := strings.TrimSpace(golocktest.Run(t, env, append([]string{"--key"}, running...)...).Stdout)
	wait := golocktest.Start(t, env, running...).Wait
	if !redistest.Poll(5*time.Second, func() bool { return c.Exists(t.Context(), name).Val() == 1 }) {
		t.Fatal("the running job's lock never appeared")
	}

	// Held, by name; the command as a command names another lock, which is free.
	r := golocktest.Run(t, env, "--status", "--name", name)
	cliWantCode(t, r, 0)
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `: held by \S+ pid \d+, owner [0-9a-f-]{36}, fence \d+, since ` +
		isoRE + ` \(age [0-9.]+m?s\), ttl [0-9.]+s, command ` + regexp.QuoteMeta(strconv.Quote(strings.Join(running, " "))) + `$`)
	if !want.MatchString(strings.TrimSpace(r.Stdout)) || r.Stderr != "" {
		t.Errorf("--status --name of a held lock:\n%s%s\nwant it to match %s", r.Stdout, r.Stderr, want)
	}
	t.Logf("--status --name: %s", r.Stdout)
	if r := golocktest.Run(t, env, "--status", name); !strings.HasSuffix(strings.TrimSpace(r.Stdout), ": free") {
		t.Errorf("--status NAME (a command) = %q, want another lock, free", r.Stdout)
	}
	if r := golocktest.Run(t, env, "--list"); !strings.Contains(r.Stdout, "command "+strconv.Quote(strings.Join(running, " "))) {
		t.Errorf("--list does not show the command:\n%s", r.Stdout)
	}

	// JSON: numbers are numbers; every moment in milliseconds and ISO 8601.
	r = golocktest.Run(t, env, "--status", "--json", "--name", name)
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &raw); err != nil {
		t.Fatalf("--status --json: %v\n%s", err, r.Stdout)
	}
	for _, k := range []string{"pid", "fence", "age_ms", "ttl_ms", "acquired_ms", "grace_until_ms", "deadline_ms"} {
		if _, ok := raw[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, raw[k])
		}
	}
	for _, k := range []string{"acquired", "grace_until", "deadline"} {
		s, _ := raw[k].(string)
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil || ts.UnixMilli() != int64(raw[k+"_ms"].(float64)) {
			t.Errorf("%s = %q (%v), want the ISO form of %s_ms %v", k, s, err, k, raw[k+"_ms"])
		}
	}
	if raw["state"] != "held" || raw["command"] != strings.Join(running, " ") {
		t.Errorf("--status --json: %s", r.Stdout)
	}

	// Reset by name: its holder is revoked at its next renewal, and the lock is gone with
	// its job.
	r = golocktest.Run(t, append(env, "CRONLOCK_RESET=yes"), "--name", name)
	cliWantCode(t, r, exitHeld)
	if r := wait(); r.Code != exitFailed || !strings.Contains(r.Stderr, "CRONLOCK_RESET") {
		t.Errorf("the reset holder: exit %d, %q; want 201 naming the reset", r.Code, r.Stderr)
	}
	if n := c.Exists(t.Context(), name).Val(); n != 0 {
		t.Error("the lock is still there after CRONLOCK_RESET=yes --name and its holder's end")
	}
	if r := golocktest.Run(t, env, "--status", "--name", name); !strings.HasPrefix(r.Stdout, name+": free; last run: ") {
		t.Errorf("after the reset: %q, want free", r.Stdout)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	// Held for grace, with the command recorded as its hash.
	graceEnv := append(env, "CRONLOCK_GRACE=30", "CRONLOCK_RECORD_CMD=no")
	cliWantCode(t, golocktest.Run(t, graceEnv, "echo", "s3cret"), 0)
	sum := sha256.Sum256([]byte("echo s3cret\n"))
	r = golocktest.Run(t, env, "--status", "--name", "byname."+cliKeyOf("echo", "s3cret"))
	if !regexp.MustCompile(`, job ended, held for grace until `+isoRE+`, command "sha256:`+hex.EncodeToString(sum[:])+`"; last run: .* exit 0$`).
		MatchString(strings.TrimSpace(r.Stdout)) || strings.Contains(r.Stdout, "s3cret") {
		t.Errorf("--status of a grace hold recorded as a hash:\n%s", r.Stdout)
	}

	// Free, by a name nothing ever held.
	r = golocktest.Run(t, env, "--status", "--name", "byname.nothing")
	if strings.TrimSpace(r.Stdout) != "byname.nothing: free" || r.Code != 0 {
		t.Errorf("--status --name of a free lock: exit %d, %q", r.Code, r.Stdout)
	}
	r = golocktest.Run(t, env, "--status", "--json", "--name", "byname.nothing")
	if strings.TrimSpace(r.Stdout) != `{"name":"byname.nothing","state":"free"}` {
		t.Errorf("--status --json of a free lock: %s", r.Stdout)
	}

	// cronlock's string lock: its expiry, by Redis's clock, as cronlock wrote it.
	expires := time.Now().Add(2 * time.Minute).Unix()
	if err := c.Set(t.Context(), "byname.legacy", expires, 0).Err(); err != nil {
		t.Fatal(err)
	}
	r = golocktest.Run(t, env, "--status", "--name", "byname.legacy")
	if want := fmt.Sprintf("byname.legacy: held by cronlock until %s, ttl none", iso(time.Unix(expires, 0))); strings.TrimSpace(r.Stdout) != want {
		t.Errorf("--status of a cronlock lock: %q, want %q", r.Stdout, want)
	}
	r = golocktest.Run(t, env, "--status", "--json", "--name", "byname.legacy")
	var legacy statusJSON
	if err := json.Unmarshal([]byte(r.Stdout), &legacy); err != nil || legacy.State != "cronlock" ||
		legacy.ExpiresMS != expires*1000 || legacy.Expires != iso(time.Unix(expires, 0)) {
		t.Errorf("--status --json of a cronlock lock: %s (%v)", r.Stdout, err)
	}
	// A reset by name clears it too.
	cliWantCode(t, golocktest.Run(t, append(env, "CRONLOCK_RESET=yes"), "--name", "byname.legacy"), exitHeld)
	if n := c.Exists(t.Context(), "byname.legacy").Val(); n != 0 {
		t.Error("the cronlock lock is still there after a reset by name")
	}
}

// cliKeyOf is the key golock makes of a command line (its MD5), without the prefix.
func cliKeyOf(args ...string) string { return strings.TrimPrefix(cliName(args...), "cronlock.") }

// TestInspectTriesOnce: --status and --list, which someone waits on, try Redis once, not on
// the reconnect schedule (0 + 5 + 10 + 15 + 20 s by default).
func TestInspectTriesOnce(t *testing.T) {
	t.Parallel()
	env := golocktest.Env("CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", redistest.FreePort(t)))
	for _, args := range [][]string{{"--status", "--name", "cronlock.x"}, {"--list"}, {"--status", "true"}} {
		r := golocktest.Run(t, env, args...)
		if r.Code != exitFailed || len(cliLines(r.Stderr)) != 1 || r.Took > 4*time.Second {
			t.Errorf("golock %q with Redis down: exit %d after %v, %q; want 201 at once, one line", args, r.Code, r.Took, r.Stderr)
		}
		t.Logf("measured: golock %q with Redis down ended after %v", args, r.Took.Round(time.Millisecond))
	}
}
