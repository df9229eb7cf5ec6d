package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// doctorFails returns the lines of a --doctor report marked FAIL.
func doctorFails(out string) []string {
	var fails []string
	for _, l := range cliLines(out) {
		if strings.HasPrefix(l, "FAIL") {
			fails = append(fails, l)
		}
	}
	return fails
}

// wantLine fails the test unless a line of out matches pattern.
func wantLine(t *testing.T, out, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for _, l := range cliLines(out) {
		if re.MatchString(l) {
			return
		}
	}
	t.Errorf("no line matches %s in:\n%s", pattern, out)
}

// persistent are redis-server arguments for a Redis that keeps its data across a restart.
var persistent = redistest.WithArgs("--appendonly", "yes")

// TestDoctor runs golock --doctor against real servers, healthy and not, and checks that
// each problem is named on a FAIL line with a nonzero exit, that a healthy Redis gives 0,
// that no password is shown, and that the doctor sends Redis only reads.
func TestDoctor(t *testing.T) {
	t.Parallel()

	t.Run("healthy", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t, persistent)
		dir := t.TempDir()
		conf := filepath.Join(dir, "golock.conf")
		if err := os.WriteFile(conf, []byte("CRONLOCK_SENTINEL_AUTH='doctor-pw'\nCRONLOCK_GRACE=0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := append(golocktest.Env("CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", srv.Port)), "CRONLOCK_CONFIG="+conf)
		cliWantCode(t, golocktest.Run(t, env, "true"), 0) // loads two scripts
		before := srv.Client().DBSize(t.Context()).Val()

		mon := cliMonitor(t, srv)
		start := time.Now()
		r := golocktest.Run(t, env, "--doctor")
		took := time.Since(start)
		sent := mon.stop(srv.Client())
		cliWantCode(t, r, 0)
		t.Logf("measured: --doctor against a healthy local Redis took %v\n%s", took.Round(time.Millisecond), r.Stdout)
		if fails := doctorFails(r.Stdout); len(fails) > 0 || r.Stderr != "" {
			t.Errorf("FAIL lines %q, stderr %q; want none", fails, r.Stderr)
		}
		wantLine(t, r.Stdout, `^ok +config file .*golock\.conf \(CRONLOCK_CONFIG names it\)$`)
		wantLine(t, r.Stdout, `^using +CRONLOCK_SENTINEL_AUTH=\*\*\* \(config file\)$`)
		wantLine(t, r.Stdout, `^using +CRONLOCK_GRACE=0 \(config file\)$`)
		wantLine(t, r.Stdout, fmt.Sprintf(`^using +CRONLOCK_PORT=%d \(environment\)$`, srv.Port))
		wantLine(t, r.Stdout, `^using +CRONLOCK_LEASE=30 \(default\)$`)
		wantLine(t, r.Stdout, fmt.Sprintf(`^ok +Redis at 127\.0\.0\.1:%d: answers`, srv.Port))
		wantLine(t, r.Stdout, `^ok +auth: no password set, and Redis asks for none$`)
		wantLine(t, r.Stdout, `^ok +Redis \d+\.\d+\.\d+, standalone, master$`)
		// The run above sent only acquire and release.
		wantLine(t, r.Stdout, `^note +scripts: 2 of 7 loaded; not yet: extend, held, inspect, reset, revoke \(a run sends a script the server lacks, with EVAL\)$`)
		wantLine(t, r.Stdout, `^ok +maxmemory-policy noeviction`)
		wantLine(t, r.Stdout, `^ok +persistence: AOF on`)
		wantLine(t, r.Stdout, `^ok +replicas: 0 online`)
		if strings.Contains(r.Stdout+r.Stderr, "doctor-pw") {
			t.Error("the report shows the password")
		}
		// It reads and changes nothing.
		for _, cmd := range sent {
			if !slices.Contains([]string{"hello", "ping", "info", "config", "script", "scan", "get"}, cmd) { // MONITOR hides CONFIG
				t.Errorf("--doctor sent %s; want only reads (sent %q)", cmd, sent)
			}
		}
		if after := srv.Client().DBSize(t.Context()).Val(); after != before {
			t.Errorf("keys %d before --doctor, %d after", before, after)
		}
	})

	tests := []struct {
		name  string
		opts  []redistest.Option
		env   []string
		code  int
		fails []string // a pattern per FAIL line
		lines []string // patterns of further lines
	}{
		{
			name: "allkeys-lru with maxmemory",
			opts: []redistest.Option{persistent, redistest.WithArgs("--maxmemory-policy", "allkeys-lru", "--maxmemory", "100mb")},
			code: 1,
			fails: []string{`^FAIL +maxmemory-policy allkeys-lru, maxmemory 100mb: when used memory reaches maxmemory, ` +
				`Redis evicts keys, and a held lock vanishes while its job runs: set maxmemory-policy noeviction$`},
		},
		{
			name: "volatile-ttl with maxmemory",
			opts: []redistest.Option{persistent, redistest.WithArgs("--maxmemory-policy", "volatile-ttl", "--maxmemory", "1gb")},
			code: 1,
			fails: []string{`^FAIL +maxmemory-policy volatile-ttl, maxmemory 1gb: .*Redis evicts keys with a TTL ` +
				`\(every lock has one\)`},
		},
		{
			name:  "allkeys-lru without maxmemory",
			opts:  []redistest.Option{persistent, redistest.WithArgs("--maxmemory-policy", "allkeys-lru")},
			code:  0,
			lines: []string{`^note +maxmemory-policy allkeys-lru, maxmemory 0 \(no limit\): no memory limit, so nothing is evicted now`},
		},
		{
			name:  "no persistence",
			code:  1,
			fails: []string{`^FAIL +persistence: none \(no RDB save points, AOF off\)`},
		},
		{
			name:  "RDB snapshots",
			opts:  []redistest.Option{redistest.WithArgs("--save", "3600 1")},
			code:  0,
			lines: []string{`^ok +persistence: RDB snapshots \(save 3600 1\), AOF off`},
		},
		{
			name:  "CONFIG refused",
			opts:  []redistest.Option{redistest.WithArgs("--rename-command", "CONFIG", "")},
			code:  0,
			lines: []string{`^unknown +persistence: AOF off; RDB save points unknown \(CONFIG GET refused: ERR unknown command`},
		},
		{
			name:  "fewer replicas than MIN_REPLICAS",
			opts:  []redistest.Option{persistent},
			env:   []string{"CRONLOCK_MIN_REPLICAS=1"},
			code:  1,
			fails: []string{`^FAIL +replicas: 0 online, fewer than CRONLOCK_MIN_REPLICAS=1`},
		},
		{
			name:  "password",
			opts:  []redistest.Option{persistent, redistest.WithPassword("right-pw")},
			env:   []string{"CRONLOCK_AUTH=right-pw"},
			code:  0,
			lines: []string{`^using +CRONLOCK_AUTH=\*\*\* \(environment\)$`, `^ok +auth: password accepted`},
		},
		{
			name:  "wrong password",
			opts:  []redistest.Option{persistent, redistest.WithPassword("right-pw")},
			env:   []string{"CRONLOCK_AUTH=wrong-pw"},
			code:  1,
			fails: []string{`^FAIL +auth at 127\.0\.0\.1:\d+: WRONGPASS .*; Redis refused the password: check CRONLOCK_USERNAME and CRONLOCK_AUTH$`},
			lines: []string{`^using +CRONLOCK_AUTH=\*\*\* \(environment\)$`},
		},
		{
			name:  "password where none is wanted",
			opts:  []redistest.Option{persistent},
			env:   []string{"CRONLOCK_AUTH=wrong-pw"},
			code:  1,
			fails: []string{`^FAIL +auth at .*Redis has no password, yet one is set`},
		},
		{
			name: "bad setting",
			env:  []string{"CRONLOCK_LEASE=abc"},
			code: 201,
			fails: []string{`^FAIL +CRONLOCK_LEASE: must be a number of seconds, 0 or more \(e\.g\. 30 or 0\.5\), ` +
				`got "abc"; nothing would run \(exit 201\)$`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, tt.opts...)
			env := golocktest.Env(append([]string{"CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", srv.Port)}, tt.env...)...)
			r := golocktest.Run(t, env, "--doctor")
			cliWantCode(t, r, tt.code)
			checkReport(t, r, tt.fails, tt.lines)
			if strings.Contains(r.Stdout+r.Stderr, "-pw") {
				t.Errorf("the report shows a password:\n%s", r.Stdout)
			}
		})
	}

	t.Run("config file permissions", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t, persistent, redistest.WithPassword("file-pw"))
		conf := filepath.Join(t.TempDir(), "cronlock.conf")
		if err := os.WriteFile(conf, []byte("CRONLOCK_AUTH=file-pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := golocktest.Env("CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", srv.Port), "CRONLOCK_CONFIG="+conf)
		for _, tc := range []struct {
			mode  os.FileMode
			fails []string
		}{
			{0o640, nil}, // what the manual advises: root and the group of golock's users
			{0o644, []string{`^FAIL +config file .* holds CRONLOCK_AUTH and is readable by every user \(mode 0644\)`}},
			{0o660, []string{`^FAIL +config file .* is writable by its group`}},
		} {
			if err := os.Chmod(conf, tc.mode); err != nil {
				t.Fatal(err)
			}
			r := golocktest.Run(t, env, "--doctor")
			cliWantCode(t, r, min(len(tc.fails), 1))
			checkReport(t, r, tc.fails, nil)
			if tc.fails == nil {
				wantLine(t, r.Stdout, `^ok +config file .*cronlock\.conf: permissions fine$`)
			}
			if strings.Contains(r.Stdout+r.Stderr, "file-pw") {
				t.Errorf("the report shows the password:\n%s", r.Stdout)
			}
		}
	})

	t.Run("config file unreadable", func(t *testing.T) {
		t.Parallel()
		// One line says the file cannot be read; none says it is fine.
		for _, conf := range []string{filepath.Join(t.TempDir(), "missing.conf"), t.TempDir()} {
			r := golocktest.Run(t, golocktest.Env("CRONLOCK_CONFIG="+conf), "--doctor")
			cliWantCode(t, r, 201)
			checkReport(t, r, []string{`^FAIL +CRONLOCK_CONFIG: .*` + regexp.QuoteMeta(conf) + `.*; nothing would run \(exit 201\)$`}, nil)
			if strings.Contains(r.Stdout, "ok ") {
				t.Errorf("an ok line beside the unreadable config file %s:\n%s", conf, r.Stdout)
			}
		}
	})

	t.Run("Redis down", func(t *testing.T) {
		t.Parallel()
		port := redistest.FreePort(t) // nothing listens there
		// Tried once, not on the reconnect schedule (0+5+10+15+20 s).
		r := golocktest.Run(t, golocktest.Env("CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", port)), "--doctor")
		cliWantCode(t, r, 1)
		checkReport(t, r, []string{fmt.Sprintf(`^FAIL +Redis at 127\.0\.0\.1:%d: no answer: .*connection refused$`, port)}, nil)
		if r.Took > 5*time.Second {
			t.Errorf("--doctor took %v with Redis down; want one try", r.Took)
		}
		t.Logf("measured: --doctor with Redis down took %v", r.Took.Round(time.Millisecond))
	})
}

// checkReport fails the test unless the FAIL lines of r match fails, one each in order,
// and each of lines matches some line.
func checkReport(t *testing.T, r golocktest.Result, fails, lines []string) {
	t.Helper()
	got := doctorFails(r.Stdout)
	if len(got) != len(fails) {
		t.Fatalf("FAIL lines %q, want %d:\n%s%s", got, len(fails), r.Stdout, r.Stderr)
	}
	for i, pat := range fails {
		if !regexp.MustCompile(pat).MatchString(got[i]) {
			t.Errorf("FAIL line %q, want it to match %s", got[i], pat)
		}
	}
	for _, pat := range lines {
		wantLine(t, r.Stdout, pat)
	}
	if len(fails) > 0 && r.Code != 201 && !strings.Contains(r.Stdout, fmt.Sprintf("%d problem(s) found", len(fails))) {
		t.Errorf("no count of the problems found:\n%s", r.Stdout)
	}
}

// doctorHealthy runs --doctor with env and fails the test unless it exits 0, with no FAIL
// line, and each of lines matches a line of its report.
func doctorHealthy(t *testing.T, env []string, lines ...string) {
	t.Helper()
	r := golocktest.Run(t, env, "--doctor")
	cliWantCode(t, r, 0)
	checkReport(t, r, nil, lines)
}

// TestDoctorTLS: --doctor says whether the server's certificate was verified, and by which
// CA, and names the setting to fix when it was not.
func TestDoctorTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, persistent, redistest.WithTLS(false))
	other := redistest.NewCerts(t) // a CA that did not sign the server's certificate
	base := []string{"CRONLOCK_HOST=127.0.0.1", fmt.Sprintf("CRONLOCK_PORT=%d", srv.Port), "CRONLOCK_TLS=yes"}

	doctorHealthy(t, golocktest.Env(append(base, "CRONLOCK_TLS_CA_CERT="+srv.Certs().CA)...),
		fmt.Sprintf(`^ok +TLS to 127\.0\.0\.1:%d: TLS 1\.3, certificate of server verified for 127\.0\.0\.1, issued by golock test CA`, srv.Port))

	r := golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_TLS_CA_CERT="+other.CA)...), "--doctor")
	cliWantCode(t, r, 1)
	checkReport(t, r, []string{
		fmt.Sprintf(`^FAIL +TLS to 127\.0\.0\.1:%d: .*certificate signed by unknown authority.*; CRONLOCK_TLS_CA_CERT must name the CA`, srv.Port),
		`^FAIL +Redis at .*: no answer: .*unknown authority`,
	}, nil)

	r = golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_TLS_SKIP_VERIFY=yes")...), "--doctor")
	cliWantCode(t, r, 1)
	checkReport(t, r, []string{`^FAIL +TLS to .*: TLS 1\.3, but the certificate is not verified \(CRONLOCK_TLS_SKIP_VERIFY=yes\)`}, nil)
}

// TestDoctorSentinel: with Sentinel, each sentinel is asked about the master and whether a
// failover could be agreed on (SENTINEL CKQUORUM); a sentinel that does not answer fails.
func TestDoctorSentinel(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, 2, persistent)
	env := golocktest.Env(s.Env()...)
	doctorHealthy(t, env,
		fmt.Sprintf(`^ok +sentinel 127\.0\.0\.1:%d: master mymaster at %s, flags master, 1 replica\(s\), 1 other sentinel\(s\), quorum \d: OK`,
			s.SentinelPorts[0], regexp.QuoteMeta(s.MasterAddr())),
		`^ok +replicas: 1 online`,
		`^ok +a failover's down-after \(\S+\) is shorter than the outage a job rides through at worst \(15s\)$`)
	// A lease too short for the sentinels' down-after: a note, and what to change.
	r := golocktest.Run(t, append(env, "CRONLOCK_LEASE=1.5", "CRONLOCK_KILL_GRACE=0.5"), "--doctor")
	wantLine(t, r.Stdout, `^note +a failover takes more than \S+ \(down-after\), and a job rides through 500ms at worst .*raise CRONLOCK_LEASE or lower down-after$`)

	// A sentinel that does not answer: the other still does, and says a failover needs it.
	port := redistest.FreePort(t)
	var hosts []string
	for _, p := range s.SentinelPorts {
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", p))
	}
	hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", port))
	r = golocktest.Run(t, append(env, "CRONLOCK_SENTINEL_HOST="+strings.Join(hosts, ",")), "--doctor")
	cliWantCode(t, r, 1)
	checkReport(t, r, []string{fmt.Sprintf(`^FAIL +sentinel 127\.0\.0\.1:%d: no answer about master mymaster: .*connection refused`, port)}, nil)
}

// TestDoctorCluster: with Cluster, every node's cluster_state is read, and each master is
// checked as a single Redis would be; a cluster with slots no node serves fails.
func TestDoctorCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, persistent)
	env := golocktest.Env(cl.Env()...)
	var lines []string
	for _, n := range cl.Nodes {
		lines = append(lines,
			fmt.Sprintf(`^ok +cluster node %s: cluster_state ok, 16384 of 16384 slots ok, 3 nodes known$`, regexp.QuoteMeta(n.Addr())),
			fmt.Sprintf(`^ok +master %s: persistence: AOF on`, regexp.QuoteMeta(n.Addr())))
	}
	doctorHealthy(t, env, lines...)

	// One node gives up its slots: the cluster no longer covers them.
	lo, hi := 0, 16384/3-1
	if err := cl.SlotNode(0).Client().Do(t.Context(), "cluster", "delslotsrange", lo, hi).Err(); err != nil {
		t.Fatal(err)
	}
	var last golocktest.Result
	if !redistest.Poll(20*time.Second, func() bool {
		last = golocktest.Run(t, env, "--doctor")
		return last.Code == 1 && strings.Contains(last.Stdout, "cluster_state fail")
	}) {
		t.Fatalf("--doctor never saw the cluster fail: exit %d\n%s%s", last.Code, last.Stdout, last.Stderr)
	}
	wantLine(t, last.Stdout, `^FAIL +cluster node \S+: cluster_state fail, 10923 of 16384 slots ok`)
}
