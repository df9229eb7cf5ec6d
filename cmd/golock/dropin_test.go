package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// The drop-in tests check that a crontab line and config file written for cronlock give
// golock the lock cronlock would take, and that what golock cannot do as cronlock does is
// refused (201) before the job runs. Their helpers are named dropin*.

// cronlockName is the lock name cronlock computes: PREFIX then KEY, or the md5 of the
// arguments joined by spaces and a newline (echo "$@" | md5sum).
func cronlockName(prefix, key string, args ...string) string {
	if key == "" {
		sum := md5.Sum([]byte(strings.Join(args, " ") + "\n"))
		key = hex.EncodeToString(sum[:])
	}
	return prefix + key
}

// dropinInstall puts golock in a fresh directory, with conf beside it as cronlock.conf
// when conf is not empty, and returns the directory.
func dropinInstall(t *testing.T, conf string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "golock")
	golockBin := golocktest.Binary(t)
	if err := os.Link(golockBin, bin); err != nil { // another file system: copy it
		in, err := os.Open(golockBin)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if conf != "" {
		if err := os.WriteFile(filepath.Join(dir, "cronlock.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDropInLockName checks, for each form a cronlock configuration takes, that golock's
// --key prints the name cronlock computes from the same crontab line and files: the file
// found where cronlock finds it, its assignments winning over the environment, expanded as
// bash expands them.
func TestDropInLockName(t *testing.T) {
	args := []string{"backup.sh", "--full", "/srv"}
	const (
		explicit = "CRONLOCK_CONFIG" // the file is named by CRONLOCK_CONFIG
		beside   = "beside"          // cronlock.conf beside golock, run by its full path
		onPath   = "on PATH"         // the same, run as "golock", found on PATH
		symlink  = "symlink"         // the same, run through an absolute symlink elsewhere
		relLink  = "relative symlink"
		none     = "none" // no file anywhere
	)
	tests := []struct {
		name   string
		where  string
		conf   string
		env    []string
		prefix string // cronlock's prefix, worked out by hand from its rules
		key    string
	}{
		{"env only", none, "", []string{"CRONLOCK_PREFIX=fromenv."}, "fromenv.", ""},
		{"defaults", none, "", nil, "cronlock.", ""},
		{"file only", explicit, "CRONLOCK_PREFIX=fromfile.\n", nil, "fromfile.", ""},
		{"both: the file wins", explicit, "CRONLOCK_PREFIX=fromfile.\n", []string{"CRONLOCK_PREFIX=fromenv."}, "fromfile.", ""},
		{"the file sets another variable", explicit, "CRONLOCK_GRACE=5\n", []string{"CRONLOCK_PREFIX=fromenv."}, "fromenv.", ""},
		{"the file empties it: the default", explicit, "CRONLOCK_PREFIX=\n", []string{"CRONLOCK_PREFIX=fromenv."}, "cronlock.", ""},
		{"key in the file", explicit, "CRONLOCK_KEY=nightly-backup\n", []string{"CRONLOCK_KEY=other"}, "cronlock.", "nightly-backup"},
		{"${X:-d} with X set", explicit, "CRONLOCK_PREFIX=\"${TEAM:-ops}.jobs.\"\n", []string{"TEAM=web"}, "web.jobs.", ""},
		{"${X:-d} with X unset", explicit, "CRONLOCK_PREFIX=\"${TEAM:-ops}.jobs.\"\n", nil, "ops.jobs.", ""},
		{"${X:-d} with X empty", explicit, "CRONLOCK_PREFIX=\"${TEAM:-ops}.jobs.\"\n", []string{"TEAM="}, "ops.jobs.", ""},
		{"${X-d} with X empty", explicit, "CRONLOCK_PREFIX=\"${TEAM-ops}.jobs.\"\n", []string{"TEAM="}, ".jobs.", ""},
		{"the environment's own value", explicit, "CRONLOCK_PREFIX=\"${CRONLOCK_PREFIX}app1.\"\n", []string{"CRONLOCK_PREFIX=site."}, "site.app1.", ""},
		{"a variable of the file's own", explicit, "BASE=jobs\nCRONLOCK_PREFIX=\"${BASE}.app1.\"\n", nil, "jobs.app1.", ""},
		{"double quotes", explicit, "CRONLOCK_PREFIX=\"a b \\\"c\\\" $HOME.\"\n", []string{"HOME=/root"}, "a b \"c\" /root.", ""},
		{"single quotes", explicit, "CRONLOCK_PREFIX='a b $HOME.'\n", []string{"HOME=/root"}, "a b $HOME.", ""},
		{"a comment after the value", explicit, "CRONLOCK_PREFIX=x. # the prefix\n", nil, "x.", ""},
		{"export", explicit, "export CRONLOCK_PREFIX=exported.\nexport CRONLOCK_KEY\n", nil, "exported.", ""},
		{"the file beside golock", beside, "CRONLOCK_PREFIX=beside.\n", []string{"CRONLOCK_PREFIX=fromenv."}, "beside.", ""},
		{"the file beside golock, CRONLOCK_CONFIG empty", beside, "CRONLOCK_PREFIX=beside.\n", []string{"CRONLOCK_CONFIG="}, "beside.", ""},
		{"the file beside golock found on PATH", onPath, "CRONLOCK_PREFIX=beside.\n", nil, "beside.", ""},
		{"the file beside golock through a symlink", symlink, "CRONLOCK_PREFIX=beside.\n", nil, "beside.", ""},
		{"the file beside golock through a relative symlink", relLink, "CRONLOCK_PREFIX=beside.\n", nil, "beside.", ""},
		{"no file, CRONLOCK_CONFIG empty", none, "", []string{"CRONLOCK_CONFIG=", "CRONLOCK_PREFIX=fromenv."}, "fromenv.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			path, argv0 := golocktest.Binary(t), golocktest.Binary(t)
			switch tt.where {
			case explicit:
				conf := filepath.Join(t.TempDir(), "some.conf")
				if err := os.WriteFile(conf, []byte(tt.conf), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, "CRONLOCK_CONFIG="+conf)
			case beside:
				path = filepath.Join(dropinInstall(t, tt.conf), "golock")
				argv0 = path
			case onPath:
				path = filepath.Join(dropinInstall(t, tt.conf), "golock")
				argv0 = "golock"
				env[0] = "PATH=" + filepath.Dir(path) + ":" + os.Getenv("PATH")
			case symlink, relLink:
				target := filepath.Join(dropinInstall(t, tt.conf), "golock")
				path = filepath.Join(t.TempDir(), "bin", "cronlock")
				if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				link := target
				if tt.where == relLink {
					var err error
					if link, err = filepath.Rel(filepath.Dir(path), target); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Symlink(link, path); err != nil {
					t.Fatal(err)
				}
				argv0 = path
			}
			// The program at path, run as argv0: how a shell or cron names it.
			r := golocktest.RunCmd(t, &exec.Cmd{Path: path, Args: append([]string{argv0, "--key"}, args...), Env: env, Dir: t.TempDir()})
			want := cronlockName(tt.prefix, tt.key, args...)
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != want {
				t.Errorf("golock --key: exit %d, %q (stderr %q), want cronlock's %q", r.Code, r.Stdout, r.Stderr, want)
			}
		})
	}
}

// TestDropInOverrideIsVerbose checks the one verbose line for each variable whose value in
// the environment the file replaces, never showing a value.
func TestDropInOverrideIsVerbose(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(conf, []byte("CRONLOCK_PREFIX=file.\nCRONLOCK_AUTH=file-secret\nCRONLOCK_GRACE=5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := golocktest.Env("CRONLOCK_CONFIG="+conf, "CRONLOCK_VERBOSE=yes", "CRONLOCK_PREFIX=env.",
		"CRONLOCK_AUTH=env-secret", "CRONLOCK_GRACE=5")
	r := golocktest.Run(t, env, "--key", "true")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	for _, name := range []string{"CRONLOCK_PREFIX", "CRONLOCK_AUTH"} {
		if strings.Count(r.Stderr, name+" in the environment is replaced") != 1 {
			t.Errorf("stderr %q: want one line about %s", r.Stderr, name)
		}
	}
	if strings.Contains(r.Stderr, "CRONLOCK_GRACE") { // the same value: nothing to say
		t.Errorf("stderr %q speaks of CRONLOCK_GRACE", r.Stderr)
	}
	if strings.Contains(r.Stderr, "secret") {
		t.Errorf("stderr shows a password: %q", r.Stderr)
	}
	if r = golocktest.Run(t, env[:len(env)-4], "--key", "true"); r.Stderr != "" { // not verbose: silent
		t.Errorf("without CRONLOCK_VERBOSE, stderr %q", r.Stderr)
	}
}

// TestDropInRefusesShell checks that what golock cannot evaluate as bash would (command
// substitution, backticks, arithmetic) stops it with 201 and a line naming the variable
// and the construct, and that neither the substitution nor the job runs.
func TestDropInRefusesShell(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "substituted")
	job := filepath.Join(dir, "job-ran")
	tests := []struct {
		conf, varName, construct string
	}{
		{"CRONLOCK_PREFIX=\"lock.$(touch " + marker + ").\"\n", "CRONLOCK_PREFIX", "command substitution $(...)"},
		{"CRONLOCK_HOST=127.0.0.1\nCRONLOCK_KEY=`touch " + marker + "`\n", "CRONLOCK_KEY", "backticks"},
		{"CRONLOCK_GRACE=$((60 * 2))\n", "CRONLOCK_GRACE", "arithmetic"},
		{"TODAY=$(touch " + marker + ")\nCRONLOCK_KEY=job-$TODAY\n", "TODAY", "command substitution"},
		{"touch " + marker + "\n", "CRONLOCK_CONFIG", "runs a command"},
	}
	for _, tt := range tests {
		conf := filepath.Join(t.TempDir(), "cronlock.conf")
		if err := os.WriteFile(conf, []byte(tt.conf), 0o600); err != nil {
			t.Fatal(err)
		}
		r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_CONFIG="+conf)...), "touch", job)
		line := strings.TrimSpace(r.Stderr)
		if r.Code != 201 || strings.Count(line, "\n") != 0 || !strings.Contains(line, tt.varName+": ") ||
			!strings.Contains(line, tt.construct) || !strings.Contains(line, conf) {
			t.Errorf("%q: exit %d, stderr %q; want 201 and one line naming %s, %q and the file", tt.conf, r.Code, r.Stderr, tt.varName, tt.construct)
		}
		for _, f := range []string{marker, job} {
			if _, err := os.Stat(f); err == nil {
				t.Fatalf("%q: %s exists: something ran", tt.conf, f)
			}
		}
	}
}

// TestDropInPasswords checks a password Redis does not take: none wanted (the check of
// cronlock's own test script: CRONLOCK_AUTH=INVALID_AUTH_CODE against a Redis without a
// password), a wrong one, a wrong one for an ACL user; each is 201, the job never runs, and
// no output shows the password. The right ones run the job.
func TestDropInPasswords(t *testing.T) {
	const wrong = "INVALID_AUTH_CODE"
	const right = "right-Pa55word"
	open := redistest.Start(t)
	locked := redistest.Start(t, redistest.WithPassword(right))
	acl := redistest.Start(t, redistest.WithArgs("--user", "cron", "on", ">"+right, "~*", "&*", "+@all"))
	host := func(s *redistest.Server) []string {
		return []string{"CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT=" + strconv.Itoa(s.Port)}
	}
	tests := []struct {
		name string
		env  []string
		code int
		says string
	}{
		{"no password wanted", append(host(open), "CRONLOCK_AUTH="+wrong), 201, "Redis has no password"},
		{"no password wanted, in the URL", []string{"CRONLOCK_URL=redis://:" + wrong + "@" + open.Addr()}, 201, "Redis has no password"},
		{"a wrong password", append(host(locked), "CRONLOCK_AUTH="+wrong), 201, "refused the password"},
		{"a wrong password for an ACL user", append(host(acl), "CRONLOCK_USERNAME=cron", "CRONLOCK_AUTH="+wrong), 201, "refused the password"},
		{"an unknown ACL user", append(host(acl), "CRONLOCK_USERNAME=nobody", "CRONLOCK_AUTH="+right), 201, "refused the password"},
		{"no password", host(open), 0, ""},
		{"the right password", append(host(locked), "CRONLOCK_AUTH="+right), 0, ""},
		{"the right password for an ACL user", append(host(acl), "CRONLOCK_USERNAME=cron", "CRONLOCK_AUTH="+right), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := filepath.Join(t.TempDir(), "ran")
			r := golocktest.Run(t, golocktest.Env(append(tt.env, "CRONLOCK_GRACE=0")...), "touch", job)
			_, err := os.Stat(job)
			if r.Code != tt.code || (err == nil) != (tt.code == 0) {
				t.Errorf("exit %d (job ran: %v), want %d; stderr %q", r.Code, err == nil, tt.code, r.Stderr)
			}
			if !strings.Contains(r.Stderr, tt.says) || tt.code != 0 && strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Errorf("stderr %q: want one line saying %q", r.Stderr, tt.says)
			}
			if strings.Contains(r.Stderr+r.Stdout, wrong) || strings.Contains(r.Stderr+r.Stdout, right) {
				t.Errorf("the output shows a password: %q", r.Stderr+r.Stdout)
			}
		})
	}
	// A connection's handshake, as cronlock's: nothing without a password (no round trip
	// before the first command), AUTH with one.
	for _, tt := range []struct {
		srv  *redistest.Server
		env  []string
		want string
	}{
		{open, host(open), "hello=0 auth=0"},
		{locked, append(host(locked), "CRONLOCK_AUTH="+right), "hello=0 auth=1"},
	} {
		start := dropinHandshakes(t, tt.srv)
		before := dropinHandshakes(t, tt.srv) // before minus start: what a reading costs
		if r := golocktest.Run(t, golocktest.Env(append(tt.env, "CRONLOCK_GRACE=0")...), "true"); r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		after := dropinHandshakes(t, tt.srv)
		var golock [3]int
		for i := range golock {
			golock[i] = after[i] - before[i] - (before[i] - start[i])
		}
		conns := max(golock[2], 1)
		got := "hello=" + strconv.Itoa(golock[0]/conns) + " auth=" + strconv.Itoa(golock[1]/conns)
		t.Logf("measured: per connection golock made, %s (%d connections)", got, conns)
		if got != tt.want || golock[2] < 1 {
			t.Errorf("per connection %s over %d connections, want %s", got, conns, tt.want)
		}
	}
}

// dropinHandshakes reads the server's count of HELLO and AUTH calls and of connections.
func dropinHandshakes(t *testing.T, srv *redistest.Server) [3]int {
	t.Helper()
	c := srv.Client()
	ctx := context.Background()
	stats, err := c.Info(ctx, "commandstats", "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	field := func(line, name string) int {
		for _, kv := range strings.Split(line, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		return 0
	}
	var counts [3]int // HELLO calls, AUTH calls, connections
	for _, line := range strings.Split(stats, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "cmdstat_hello":
			counts[0] = field(v, "calls")
		case "cmdstat_auth":
			counts[1] = field(v, "calls")
		case "total_connections_received":
			counts[2], _ = strconv.Atoi(v)
		}
	}
	return counts
}

// TestDropInPasswordTopologies checks the password Redis does not want behind Sentinel and
// in a cluster: 201, the job not run.
func TestDropInPasswordTopologies(t *testing.T) {
	sen := redistest.StartSentinel(t, 1)
	cl := redistest.StartCluster(t, 1)
	for name, env := range map[string][]string{"sentinel": sen.Env(), "cluster": cl.Env()} {
		job := filepath.Join(t.TempDir(), "ran")
		r := golocktest.Run(t, topoEnv(env, "CRONLOCK_AUTH=INVALID_AUTH_CODE", "CRONLOCK_RECONNECT_ATTEMPTS=0"), "touch", job)
		if _, err := os.Stat(job); r.Code != 201 || err == nil || !strings.Contains(r.Stderr, "Redis has no password") {
			t.Errorf("%s: exit %d (job ran: %v), stderr %q; want 201 saying Redis has no password", name, r.Code, err == nil, r.Stderr)
		}
		if strings.Contains(r.Stderr, "INVALID_AUTH_CODE") {
			t.Errorf("%s: stderr shows the password: %q", name, r.Stderr)
		}
	}
}
