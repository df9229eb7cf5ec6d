package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/redistest"
)

func TestMain(m *testing.M) { golocktest.Main(m) }

// exporterBin is golock-exporter, built once (with golock's config search).
func exporterBin(t testing.TB) string {
	t.Helper()
	return golocktest.Build(t, "cmd/golock-exporter")
}

// golock runs golock with env and args and returns its exit code and stdout.
func golock(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	r := golocktest.Run(t, env, args...)
	return r.Code, r.Stdout
}

// name is the lock name golock gives args under env.
func name(t *testing.T, env []string, args ...string) string {
	t.Helper()
	_, out := golock(t, env, append([]string{"--key"}, args...)...)
	return strings.TrimSpace(out)
}

// process is a golock-exporter process the test started.
type process struct {
	url    string // of /metrics
	stderr string // the file its log goes to
	pid    int
}

// startExporter runs golock-exporter with env and args, and waits until it serves. It
// listens on port 0, so the kernel picks a free port as it binds, and the test reads the
// port from the log line that says where it serves: a port found free beforehand can be
// taken, by another test's connection, before the exporter binds it. It is stopped at the
// test's end.
func startExporter(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	logf := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(exporterBin(t), append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env, cmd.Stderr = env, f
	if err := proctest.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	var addr string
	up := redistest.Poll(10*time.Second, func() bool {
		if addr == "" {
			b, _ := os.ReadFile(logf)
			_, line, _ := strings.Cut(string(b), "serving /metrics ")
			line, _, whole := strings.Cut(line, "\n") // wait until the line is read whole
			_, rest, ok := strings.Cut(line, " listen=")
			if !whole || !ok {
				return false
			}
			addr, _, _ = strings.Cut(rest, " ")
		}
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	if !up {
		b, _ := os.ReadFile(logf)
		t.Fatalf("golock-exporter never served (at %q): %s", addr, b)
	}
	return &process{url: "http://" + addr + "/metrics", stderr: logf, pid: cmd.Process.Pid}
}

func (e *process) log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.stderr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metrics is one scrape, parsed by Prometheus's own text parser.
type metrics map[string]*dto.MetricFamily

// scrape GETs /metrics (with Prometheus's scrape-timeout header when timeout is set) and
// parses it; it returns how long the scrape took.
func (e *process) scrape(t *testing.T, timeout time.Duration) (metrics, time.Duration) {
	t.Helper()
	header := ""
	if timeout > 0 {
		header = strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)
	}
	m, took, err := e.scrapeHeader(header)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return m, took
}

// scrapeHeader is scrape with X-Prometheus-Scrape-Timeout-Seconds: header (none when
// ""); it may run outside the test's goroutine.
func (e *process) scrapeHeader(header string) (metrics, time.Duration, error) {
	req, err := http.NewRequest("GET", e.url, nil)
	if err != nil {
		return nil, 0, err
	}
	if header != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", header)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 200 {
		return nil, took, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, took, fmt.Errorf("the text parser refuses it: %v", err)
	}
	return fams, took, nil
}

// get is the value of metric name with labels (label=value pairs), and whether it is there.
func (m metrics) get(name string, labels ...string) (float64, bool) {
	fam := m[name]
	if fam == nil {
		return 0, false
	}
next:
	for _, mt := range fam.Metric {
		have := map[string]string{}
		for _, lp := range mt.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case mt.Gauge != nil:
			return mt.Gauge.GetValue(), true
		case mt.Counter != nil:
			return mt.Counter.GetValue(), true
		}
	}
	return 0, false
}

// statusJSON is what golock --status --json prints, as far as the exporter shows it.
type statusJSON struct {
	State   string `json:"state"`
	Host    string `json:"host"`
	Fence   int64  `json:"fence"`
	AgeMS   int64  `json:"age_ms"`
	TTLMS   int64  `json:"ttl_ms"`
	Others  []any  `json:"others"`
	LastRun *struct {
		Host       string `json:"host"`
		Fence      int64  `json:"fence"`
		StartedMS  int64  `json:"started_ms"`
		EndedMS    int64  `json:"ended_ms"`
		DurationMS int64  `json:"duration_ms"`
		Exit       int    `json:"exit"`
		SuccessMS  int64  `json:"success_ms"`
	} `json:"last_run"`
}

// TestExporter scrapes locks in every state over HTTP, parses the answer with
// Prometheus's text parser, and checks each value against golock --status --json: a lock
// held by a running job, one held for grace after its job, one free after a success, one
// free after a failure (whose earlier success is kept), and a cronlock string lock.
func TestExporter(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=ex.", "CRONLOCK_GRACE=0")...)

	release := filepath.Join(t.TempDir(), "release")
	running := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
	holder := golocktest.Start(t, env, running...)
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600); holder.Wait() })
	// Two runs hold one lock at once under CRONLOCK_LIMIT=2.
	shared := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done; echo shared"}
	for range 2 {
		c := golocktest.Start(t, append(env, "CRONLOCK_LIMIT=2"), shared...)
		t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600); c.Wait() })
	}
	locks := map[string]string{ // lock name: the state it must be in
		name(t, env, running...):           "held",
		name(t, env, "true"):               "free",
		name(t, env, "sh", "-c", "exit 3"): "free",
		name(t, env, "sleep", "0.1"):       "released",
		"ex.legacy":                        "cronlock",
		name(t, env, shared...):            "held",
	}
	if code, _ := golock(t, env, "true"); code != 0 {
		t.Fatalf("golock true: exit %d", code)
	}
	if code, _ := golock(t, env, "sh", "-c", "exit 0"); code != 0 { // ex.<md5 of it>: a success, then...
		t.Fatalf("exit %d", code)
	}
	if code, _ := golock(t, env, "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("golock sh -c 'exit 3': exit %d", code)
	}
	if code, _ := golock(t, append(env, "CRONLOCK_GRACE=3600"), "sleep", "0.1"); code != 0 {
		t.Fatalf("golock sleep: exit %d", code)
	}
	// ...and a failure of the same lock, whose earlier success the last run keeps.
	failedAfterSuccess := name(t, env, "sh", "-c", "exit 0")
	redis := srv.Client()
	redis.HSet(t.Context(), "{"+failedAfterSuccess+"}.last", "exit", "5")
	locks[failedAfterSuccess] = "free"
	redis.Set(t.Context(), "ex.legacy", time.Now().Add(time.Hour).Unix(), time.Hour)
	if !redistest.Poll(5*time.Second, func() bool {
		_, out := golock(t, env, "--status", "--json", "--name", name(t, env, shared...))
		return redis.Exists(t.Context(), name(t, env, running...)).Val() == 1 && strings.Contains(out, `"others":[{`)
	}) {
		t.Fatal("the running jobs' locks never appeared")
	}

	e := startExporter(t, env)
	m, took := e.scrape(t, 0)
	t.Logf("measured: a scrape of %d locks took %v", len(locks), took)
	if v, ok := m.get("golock_up"); !ok || v != 1 {
		t.Errorf("golock_up = %v, %v; want 1", v, ok)
	}
	if v, _ := m.get("golock_locks"); int(v) != len(locks) {
		t.Errorf("golock_locks = %v, want %d", v, len(locks))
	}
	for lock, state := range locks {
		_, out := golock(t, env, "--status", "--json", "--name", lock)
		var st statusJSON
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("--status --json: %v: %s", err, out)
		}
		if st.State != state {
			t.Errorf("%s: --status says %s, want %s", lock, st.State, state)
		}
		for _, s := range []string{"free", "held", "released", "cronlock", "foreign"} {
			if v, ok := m.get("golock_lock_state", "lock", lock, "state", s); !ok || (v == 1) != (s == state) {
				t.Errorf("%s: golock_lock_state{state=%q} = %v, %v; want the lock %s", lock, s, v, ok, state)
			}
		}
		near := func(metric string, v float64, ok bool, wantMS int64) {
			t.Helper()
			if d := v - float64(wantMS)/1000; !ok || d < -2 || d > 2 {
				t.Errorf("%s: %s = %v, %v; --status --json says %d ms", lock, metric, v, ok, wantMS)
			}
		}
		exact := func(metric string, v float64, ok bool, want float64) {
			t.Helper()
			if !ok || v != want {
				t.Errorf("%s: %s = %v, %v; --status --json says %v", lock, metric, v, ok, want)
			}
		}
		holders, _ := m.get("golock_lock_holders", "lock", lock)
		if want := map[bool]float64{true: 1}[state != "free"] + float64(len(st.Others)); holders != want {
			t.Errorf("%s: golock_lock_holders = %v, --status --json shows %v", lock, holders, want)
		}
		held, _ := m.get("golock_lock_held", "lock", lock)
		exact("golock_lock_held", held, true, map[bool]float64{true: 1}[state != "free"])
		if state == "held" || state == "released" {
			v, ok := m.get("golock_lock_fence", "lock", lock)
			exact("golock_lock_fence", v, ok, float64(st.Fence))
			v, ok = m.get("golock_lock_holder_info", "lock", lock, "host", st.Host)
			exact("golock_lock_holder_info", v, ok, float64(1+len(st.Others))) // one host runs them all
			v, ok = m.get("golock_lock_holder_age_seconds", "lock", lock)
			near("golock_lock_holder_age_seconds", v, ok, st.AgeMS)
		}
		if state != "free" {
			v, ok := m.get("golock_lock_ttl_seconds", "lock", lock)
			near("golock_lock_ttl_seconds", v, ok, st.TTLMS)
		}
		l := st.LastRun
		if _, ok := m.get("golock_lock_last_run_exit_code", "lock", lock); (l != nil) != ok {
			t.Errorf("%s: last run in --status %v, in the metrics %v", lock, l != nil, ok)
		}
		if l == nil {
			continue
		}
		v, ok := m.get("golock_lock_last_run_exit_code", "lock", lock)
		exact("golock_lock_last_run_exit_code", v, ok, float64(l.Exit))
		v, ok = m.get("golock_lock_last_run_start_timestamp_seconds", "lock", lock)
		exact("golock_lock_last_run_start_timestamp_seconds", v, ok, float64(l.StartedMS)/1000)
		v, ok = m.get("golock_lock_last_run_end_timestamp_seconds", "lock", lock)
		exact("golock_lock_last_run_end_timestamp_seconds", v, ok, float64(l.EndedMS)/1000)
		v, ok = m.get("golock_lock_last_run_duration_seconds", "lock", lock)
		exact("golock_lock_last_run_duration_seconds", v, ok, float64(l.DurationMS)/1000)
		v, ok = m.get("golock_lock_last_run_fence", "lock", lock)
		exact("golock_lock_last_run_fence", v, ok, float64(l.Fence))
		v, ok = m.get("golock_lock_last_run_info", "lock", lock, "host", l.Host)
		exact("golock_lock_last_run_info", v, ok, 1)
		v, ok = m.get("golock_lock_last_success_timestamp_seconds", "lock", lock)
		if l.SuccessMS == 0 && ok || l.SuccessMS != 0 {
			exact("golock_lock_last_success_timestamp_seconds", v, ok, float64(l.SuccessMS)/1000)
		}
	}
	if v, ok := m.get("golock_lock_last_success_timestamp_seconds", "lock", failedAfterSuccess); !ok || v == 0 {
		t.Errorf("a failure after a success: last success %v, %v; want the success kept", v, ok)
	}
	// A lock that never succeeded: 0, so that time() - it is large and an alert on it fires.
	if v, ok := m.get("golock_lock_last_success_timestamp_seconds", "lock", name(t, env, "sh", "-c", "exit 3")); !ok || v != 0 {
		t.Errorf("a lock that never succeeded: last success %v, %v; want 0", v, ok)
	}
	// Redis safety: the test's Redis has no persistence and no memory limit.
	node := srv.Addr()
	for metric, want := range map[string]float64{"golock_redis_persistent": 0, "golock_redis_aof_enabled": 0,
		"golock_redis_evicts_locks": 0, "golock_redis_maxmemory_bytes": 0} {
		if v, ok := m.get(metric, "node", node); !ok || v != want {
			t.Errorf("%s{node=%q} = %v, %v; want %v", metric, node, v, ok, want)
		}
	}
	if v, ok := m.get("golock_redis_maxmemory_policy_info", "node", node, "policy", "noeviction"); !ok || v != 1 {
		t.Errorf("golock_redis_maxmemory_policy_info = %v, %v; want noeviction", v, ok)
	}
	redis.ConfigSet(t.Context(), "maxmemory", "100mb")
	redis.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lru")
	redis.ConfigSet(t.Context(), "appendonly", "yes")
	m, _ = e.scrape(t, 0)
	for metric, want := range map[string]float64{"golock_redis_persistent": 1, "golock_redis_aof_enabled": 1,
		"golock_redis_evicts_locks": 1, "golock_redis_maxmemory_bytes": 100 << 20} {
		if v, ok := m.get(metric, "node", node); !ok || v != want {
			t.Errorf("after CONFIG SET: %s = %v, %v; want %v", metric, v, ok, want)
		}
	}
}

// TestExporterRedisDown: a Redis that does not answer (paused: it accepts but never
// replies) or is gone (refused) is golock_up 0, a count and one log line, never a crash;
// a scrape is bounded by --timeout and by Prometheus's own scrape timeout; and the
// exporter recovers when Redis is back.
func TestExporterRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=down.")...)
	if code, _ := golock(t, env, "true"); code != 0 {
		t.Fatal("golock true failed")
	}
	e := startExporter(t, env, "--timeout", "1.5")
	if m, _ := e.scrape(t, 0); !metricIs(m, "golock_up", 1) {
		t.Fatal("golock_up is not 1 with Redis up")
	}

	srv.Pause()
	m, took := e.scrape(t, 0)
	t.Logf("measured: a scrape with Redis paused took %v (--timeout 1.5)", took)
	if !metricIs(m, "golock_up", 0) || !metricIs(m, "golock_exporter_scrape_errors_total", 1) || took > 4*time.Second {
		t.Errorf("Redis paused: golock_up %v, errors %v, took %v; want 0, 1, about 1.5 s",
			m["golock_up"], m["golock_exporter_scrape_errors_total"], took)
	}
	m, took = e.scrape(t, 500*time.Millisecond)
	t.Logf("measured: a scrape with Redis paused and a 0.5 s scrape timeout took %v", took)
	if !metricIs(m, "golock_up", 0) || took > 1500*time.Millisecond {
		t.Errorf("Prometheus's 0.5 s scrape timeout: took %v, want under 1.5 s", took)
	}
	srv.Resume()
	if m, _ := e.scrape(t, 0); !metricIs(m, "golock_up", 1) || !metricIs(m, "golock_locks", 1) {
		t.Errorf("Redis back: golock_up %v, golock_locks %v", m["golock_up"], m["golock_locks"])
	}

	srv.Kill()
	m, took = e.scrape(t, 0)
	t.Logf("measured: a scrape with Redis gone took %v", took)
	if !metricIs(m, "golock_up", 0) || !metricIs(m, "golock_exporter_scrape_errors_total", 3) {
		t.Errorf("Redis gone: golock_up %v, errors %v", m["golock_up"], m["golock_exporter_scrape_errors_total"])
	}
	e.scrape(t, 0)
	log := e.log(t)
	if n := strings.Count(log, "cannot read the locks"); n != 2 || !strings.Contains(log, "Redis answers again") {
		t.Errorf("log: %d lines about a Redis that cannot be read, want 2 (one per outage) and one about recovery:\n%s", n, log)
	}
}

func metricIs(m metrics, name string, want float64) bool {
	v, ok := m.get(name)
	return ok && v == want
}

// TestExporterOptions: a bad option or setting is one line and exit 201.
func TestExporterOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--bogus"}, "unknown option --bogus"},
		{nil, []string{"--listen", "nocolon"}, "--listen needs HOST:PORT"},
		{nil, []string{"--timeout", "0"}, "--timeout needs a number of seconds"},
		{[]string{"CRONLOCK_PORT=99999"}, nil, "CRONLOCK_PORT"},
		{nil, []string{"--listen", "256.0.0.1:1"}, "cannot listen on"},
	} {
		cmd := exec.Command(exporterBin(t), tc.args...)
		cmd.Env = golocktest.Env(tc.env...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 201 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v %q: exit %d, %q; want 201 and %q", tc.env, tc.args, code, out, tc.want)
		}
	}
	out, err := exec.Command(exporterBin(t), "--help").Output()
	if err != nil || !strings.Contains(string(out), "usage: golock-exporter") {
		t.Errorf("--help: %v, %q", err, out)
	}
}
