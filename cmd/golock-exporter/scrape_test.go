package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/manual/render"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// seed writes n locks under prefix straight into Redis, in one pipeline, as golock leaves
// them: every lock has a last run (every third failed, the others succeeded), and every
// other lock is held now by a run of its command.
func seed(t testing.TB, c *redis.Client, prefix string, n int) {
	t.Helper()
	now := time.Now().UnixMilli()
	pipe := c.Pipeline()
	for i := range n {
		name := prefix + strconv.Itoa(i)
		exit, success := "0", strconv.FormatInt(now-1000, 10)
		if i%3 == 0 {
			exit = "1"
		}
		pipe.HSet(t.Context(), lockscript.LastRunKey(name), "host", "cron"+strconv.Itoa(i%50), "pid", i+2,
			"fence", now*1000+int64(i), "started_ms", now-61_000, "ended_ms", now-1000, "exit", exit, "ran", "1",
			"ended", "exited", "ok_started_ms", now-61_000, "success_ms", success)
		pipe.PExpire(t.Context(), lockscript.LastRunKey(name), 30*24*time.Hour)
		if i%2 == 0 {
			pipe.HSet(t.Context(), name, "owner", "0f5c7a36-2d6e-4a9b-8c1f-"+strconv.Itoa(100000000000+i),
				"fence", now*1000+int64(n+i), "host", "cron"+strconv.Itoa(i%50), "pid", i+3,
				"cmd", "/usr/local/bin/job --shard "+strconv.Itoa(i), "acquired_ms", now-5000,
				"grace_ms", now+35_000, "deadline_ms", now+3_595_000, "version", "1")
			pipe.PExpire(t.Context(), name, time.Hour)
		}
		if (i+1)%1000 == 0 || i == n-1 {
			if _, err := pipe.Exec(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// commandCalls reads INFO commandstats: how many times Redis ran each command since the
// last CONFIG RESETSTAT.
func commandCalls(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for line := range strings.Lines(info) {
		cmd, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		calls[cmd], _ = strconv.Atoi(n)
	}
	return calls
}

// TestExporterSharedRead: six scrapes at once cost Redis one read, and each gets every
// lock. Redis is paused while they arrive, so that all six find the first one's read
// under way; INFO commandstats counts what Redis ran.
func TestExporterSharedRead(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const locks = 40
	seed(t, srv.Client(), "share.", locks)
	e := startExporter(t, golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=share.")...))
	c := srv.Client()

	e.scrape(t, 0) // loads the inspect script into Redis
	c.ConfigResetStat(t.Context())
	if m, _ := e.scrape(t, 0); !metricIs(m, "golock_locks", locks) {
		t.Fatalf("one scrape: golock_locks %v", m["golock_locks"])
	}
	one := commandCalls(t, c)
	if one["evalsha"] != locks || one["scan"] == 0 {
		t.Fatalf("one scrape ran %v: want a SCAN and an inspection per lock", one)
	}

	c.ConfigResetStat(t.Context())
	srv.Pause()
	var wg sync.WaitGroup
	got := make([]metrics, 6)
	for i := range got {
		wg.Go(func() {
			got[i], _, _ = e.scrapeHeader("")
		})
	}
	time.Sleep(500 * time.Millisecond) // all six are in
	srv.Resume()
	wg.Wait()
	six := commandCalls(t, c)
	for i, m := range got {
		if !metricIs(m, "golock_up", 1) || !metricIs(m, "golock_locks", locks) {
			t.Errorf("scrape %d of 6: golock_up %v, golock_locks %v", i+1, m["golock_up"], m["golock_locks"])
		}
	}
	for _, cmd := range []string{"scan", "evalsha", "eval", "info", "config|get"} {
		if six[cmd] != one[cmd] {
			t.Errorf("six concurrent scrapes ran %s %d times, one scrape %d: they did not share one read", cmd, six[cmd], one[cmd])
		}
	}
	t.Logf("measured: one scrape and six concurrent ones each ran scan %d, evalsha %d", six["scan"], six["evalsha"])
}

// TestExporterLatin1 reads locks whose name, host and command line are Latin-1 bytes (a
// crontab in Latin-1 and its CRONLOCK_KEY): the scrape is whole (golock_up 1, every Redis
// gauge), Prometheus's parser takes it, and each byte that is not UTF-8 reads \xNN.
func TestExporterLatin1(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=lat.", "CRONLOCK_GRACE=0")...)
	release := filepath.Join(t.TempDir(), "release")
	held := golocktest.Start(t, append(env, "CRONLOCK_KEY=caf\xe9"),
		"sh", "-c", "while [ ! -e "+release+" ]; do sleep 0.05; done # caf\xe9")
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600); held.Wait() })
	if code, _ := golock(t, append(env, "CRONLOCK_KEY=na\xefve\\n"), "true"); code != 0 {
		t.Fatalf("golock true: exit %d", code)
	}
	c := srv.Client()
	if !redistest.Poll(5*time.Second, func() bool { return c.Exists(t.Context(), "lat.caf\xe9").Val() == 1 }) {
		t.Fatal("the held lock never appeared")
	}
	c.HSet(t.Context(), "lat.caf\xe9", "host", "h\xf4te")

	m, _ := startExporter(t, env).scrape(t, 0)
	if !metricIs(m, "golock_up", 1) || !metricIs(m, "golock_locks", 2) {
		t.Errorf("golock_up %v, golock_locks %v; want 1 and 2", m["golock_up"], m["golock_locks"])
	}
	for _, metric := range []string{"golock_redis_persistent", "golock_redis_evicts_locks", "golock_redis_aof_enabled"} {
		if _, ok := m.get(metric); !ok {
			t.Errorf("%s is missing", metric)
		}
	}
	wantCmd := `sh -c while [ ! -e ` + release + ` ]; do sleep 0.05; done # caf\xe9`
	if v, ok := m.get("golock_lock_info", "lock", `lat.caf\xe9`, "command", wantCmd); !ok || v != 1 {
		t.Errorf("golock_lock_info{lock=%q, command=%q} = %v, %v; have %v", `lat.caf\xe9`, wantCmd, v, ok, m["golock_lock_info"])
	}
	if v, ok := m.get("golock_lock_holder_info", "lock", `lat.caf\xe9`, "host", `h\xf4te`, "command", wantCmd); !ok || v != 1 {
		t.Errorf("golock_lock_holder_info = %v, %v; have %v", v, ok, m["golock_lock_holder_info"])
	}
	if v, ok := m.get("golock_lock_last_run_exit_code", "lock", `lat.na\xefve\\n`); !ok || v != 0 {
		t.Errorf(`lat.na\xefve\\n: last exit %v, %v; have %v`, v, ok, m["golock_lock_last_run_exit_code"])
	}
}

// TestExporterCommandLabel: golock_lock_info names a lock's command line: its holder's
// while it is held, its last run's after (also for a lock this exporter never saw held, and
// after a restart of the exporter).
func TestExporterCommandLabel(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=cmd.", "CRONLOCK_GRACE=0")...)
	if code, _ := golock(t, env, "true"); code != 0 {
		t.Fatalf("golock true: exit %d", code)
	}
	e := startExporter(t, env)
	release := filepath.Join(t.TempDir(), "release")
	job := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
	lock := name(t, env, job...)
	held := golocktest.Start(t, env, job...)
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600); held.Wait() })
	c := srv.Client()
	if !redistest.Poll(5*time.Second, func() bool { return c.Exists(t.Context(), lock).Val() == 1 }) {
		t.Fatal("the held lock never appeared")
	}
	wantCmd := strings.Join(job, " ")
	m, _ := e.scrape(t, 0)
	if !metricIs(m, "golock_up", 1) {
		t.Fatal("golock_up is not 1")
	}
	if v, ok := m.get("golock_lock_info", "lock", lock, "command", wantCmd); !ok || v != 1 {
		t.Errorf("held: golock_lock_info{command=%q} = %v, %v; have %v", wantCmd, v, ok, m["golock_lock_info"])
	}
	if v, ok := m.get("golock_lock_info", "lock", name(t, env, "true"), "command", "true"); !ok || v != 1 {
		t.Errorf(`never seen held: golock_lock_info{command="true"} = %v, %v; have %v`, v, ok, m["golock_lock_info"])
	}
	_ = os.WriteFile(release, nil, 0o600)
	held.Wait()
	if c.Exists(t.Context(), lock).Val() != 0 {
		t.Fatal("the lock is still held after its run")
	}
	m, _ = startExporter(t, env).scrape(t, 0) // a new exporter: it learns the command from Redis
	if v, ok := m.get("golock_lock_info", "lock", lock, "command", wantCmd); !ok || v != 1 {
		t.Errorf("after the run: golock_lock_info = %v, %v; want the last run's command; have %v", v, ok, m["golock_lock_info"])
	}
}

// TestExporterTimeoutHeader: a scrape-timeout header that is huge, infinite or no number
// cannot shorten a scrape below the exporter's own --timeout (it once overflowed into
// 0.1 s); with Redis paused, each such scrape takes the full --timeout.
func TestExporterTimeoutHeader(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	e := startExporter(t, golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=hdr.")...), "--timeout", "1")
	srv.Pause()
	t.Cleanup(srv.Resume)
	for _, h := range []string{"1e300", "+Inf", "NaN", "9223372036.9"} {
		m, took, err := e.scrapeHeader(h)
		if err != nil {
			t.Fatalf("header %s: %v", h, err)
		}
		t.Logf("measured: header %s, Redis paused: the scrape took %v (--timeout 1)", h, took)
		if !metricIs(m, "golock_up", 0) || took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("header %s: golock_up %v, took %v; want 0 after about 1 s", h, m["golock_up"], took)
		}
	}
}

// TestManPage: golock-exporter.1 is rendered from golock-exporter.md as it is now, and
// --man prints it with the version in its title.
func TestManPage(t *testing.T) {
	src, err := os.ReadFile("golock-exporter.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(render.Roff(string(src))) != manPage {
		t.Error("golock-exporter.1 is stale: run go generate ./cmd/golock-exporter")
	}
	out, err := exec.Command(exporterBin(t), "--man").Output()
	if err != nil || !strings.Contains(string(out), "\n.TH golock-exporter 1 ") || strings.Contains(string(out), "{{version}}") {
		t.Fatalf("--man: %v, %.200q", err, out)
	}
	for _, opt := range []string{"--listen", "--timeout", "--help", "--man", "--version", "golock-exporter.service",
		"golock.rules.yml"} {
		if !strings.Contains(string(out), opt) {
			t.Errorf("the man page does not mention %s", opt)
		}
	}
}
