package redisbench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/lockscript"
)

func TestMain(m *testing.M) { golocktest.Main(m) }

// workers is how many goroutines drive runs at once.
const workers = 8

// namesPerWorker is how many lock names each worker cycles through: 8 × 128 names spread
// over a cluster's slots evenly enough.
const namesPerWorker = 128

// lockName is the k-th run's lock name of worker w.
func lockName(w, k int) string {
	return "redisbench." + strconv.Itoa(w) + "." + strconv.Itoa(k%namesPerWorker)
}

// golockConfig is golock's settings for env (CRONLOCK_* strings), loaded as golock loads
// them, from an empty config file of the benchmark's own: an empty CRONLOCK_CONFIG would
// search the machine's /etc.
func golockConfig(tb testing.TB, env []string, extra ...string) *config.Config {
	tb.Helper()
	empty := filepath.Join(tb.TempDir(), "cronlock.conf")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	environ := append(slices.Concat(env, extra), "CRONLOCK_CONFIG="+empty)
	cfg, _, err := config.Load(environ, "")
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// runOptions are the lock options of one golock run of `true` for cfg, filled in as the
// runner fills them: a fresh owner token, the host, the pid, the command line.
func runOptions(cfg *config.Config) lockscript.Options {
	o := cfg.LockOptions()
	host, _ := os.Hostname()
	o.Owner, o.Host, o.PID, o.Command = uuid.NewString(), host, os.Getpid(), "true"
	return o
}

// nodeStats is what one Redis said about itself at one moment.
type nodeStats struct {
	cpu   time.Duration    // used_cpu_sys + used_cpu_user
	calls map[string]int64 // by command, from INFO commandstats
	usec  map[string]int64 // likewise
	conns int64            // total_connections_received
	mem   int64            // used_memory
	rss   int64            // used_memory_rss
	keys  int64            // db0's keys
}

// readStats reads INFO of the Redis c talks to.
func readStats(tb testing.TB, c *redis.Client) nodeStats {
	tb.Helper()
	info, err := c.Info(context.Background(), "cpu", "commandstats", "stats", "memory", "keyspace").Result()
	if err != nil {
		tb.Fatalf("INFO: %v", err)
	}
	s := nodeStats{calls: map[string]int64{}, usec: map[string]int64{}}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_cpu_sys", k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			s.cpu += time.Duration(f * float64(time.Second))
		case k == "total_connections_received":
			s.conns, _ = strconv.ParseInt(v, 10, 64)
		case k == "used_memory":
			s.mem, _ = strconv.ParseInt(v, 10, 64)
		case k == "used_memory_rss":
			s.rss, _ = strconv.ParseInt(v, 10, 64)
		case k == "db0":
			keys, _, _ := strings.Cut(strings.TrimPrefix(v, "keys="), ",")
			s.keys, _ = strconv.ParseInt(keys, 10, 64)
		case strings.HasPrefix(k, "cmdstat_"):
			name := strings.TrimPrefix(k, "cmdstat_")
			for _, field := range strings.Split(v, ",") {
				f, n, _ := strings.Cut(field, "=")
				switch f {
				case "calls":
					s.calls[name], _ = strconv.ParseInt(n, 10, 64)
				case "usec":
					s.usec[name], _ = strconv.ParseInt(n, 10, 64)
				}
			}
		}
	}
	return s
}

// measuring is the commands the measurement itself sends, left out of every count.
var measuring = map[string]bool{"info": true, "config|resetstat": true}

// clientCommands are the commands a golock run may send itself; with scripts running,
// every other command counted was run by a script (redis.call).
var clientCommands = map[string]bool{"evalsha": true, "eval": true, "command": true, "command|docs": true,
	"command|info": true, "cluster|slots": true, "cluster|shards": true, "cluster|nodes": true,
	"hello": true, "auth": true, "ping": true, "select": true, "readonly": true, "wait": true,
	"client|setinfo": true, "client|setname": true, "script|load": true}

// cluster is the Redis servers a benchmark measures: one, or a cluster's masters.
type cluster struct {
	clients []*redis.Client
}

// resetStats zeroes every node's INFO counters (CONFIG RESETSTAT).
func (cl cluster) resetStats(tb testing.TB) {
	tb.Helper()
	for _, c := range cl.clients {
		if err := c.ConfigResetStat(context.Background()).Err(); err != nil {
			tb.Fatalf("CONFIG RESETSTAT: %v", err)
		}
	}
}

func (cl cluster) stats(tb testing.TB) []nodeStats {
	tb.Helper()
	all := make([]nodeStats, len(cl.clients))
	for i, c := range cl.clients {
		all[i] = readStats(tb, c)
	}
	return all
}

// rusage is the benchmark process's CPU time so far, user and system.
func rusage() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drive runs run b.N times (b.Loop decides how many) on workers goroutines, worker w
// calling run(w, k) for its k-th run, and reports the figures of the package doc for the
// servers of cl, per unit ("run", or "renewal"). The first error stops the benchmark once
// every worker is done.
func drive(b *testing.B, cl cluster, unit string, run func(w, k int) error) {
	b.Helper()
	cl.resetStats(b)
	before, cpu0 := cl.stats(b), rusage()
	start := time.Now()

	jobs := make(chan struct{})
	var (
		wg       sync.WaitGroup
		once     sync.Once
		failed   atomic.Bool
		firstErr error // set once, read after wg.Wait
	)
	for w := range workers {
		wg.Go(func() {
			k := 0
			for range jobs {
				if failed.Load() {
					continue // drain: the benchmark stops at the end of the loop
				}
				if err := run(w, k); err != nil {
					once.Do(func() { firstErr = err; failed.Store(true) })
				}
				k++
			}
		})
	}
	runs := 0
	for b.Loop() {
		jobs <- struct{}{}
		runs++
	}
	close(jobs)
	wg.Wait()
	took, driver := time.Since(start), rusage()-cpu0
	after := cl.stats(b)
	if firstErr != nil {
		b.Fatalf("a run failed: %v", firstErr)
	}
	report(b, runs, took, driver, before, after, unit)
}

// report reports the per-unit figures (unit: "run", "renewal") of n units done in took,
// the driver having used driver CPU time, from the nodes' stats before and after.
func report(b *testing.B, n int, took, driver time.Duration, before, after []nodeStats, unit string) {
	b.Helper()
	per := func(x float64) float64 { return x / float64(n) }
	var cpu time.Duration
	var sent, inner, scriptUsec, conns int64
	maxNode, busiest := 0.0, time.Duration(0)
	for i := range after {
		d := after[i].cpu - before[i].cpu
		cpu += d
		busiest = max(busiest, d)
		maxNode = max(maxNode, 100*d.Seconds()/took.Seconds())
		conns += after[i].conns - before[i].conns
		scripted := after[i].calls["evalsha"]+after[i].calls["eval"] > before[i].calls["evalsha"]+before[i].calls["eval"]
		for name, calls := range after[i].calls {
			d := calls - before[i].calls[name]
			switch {
			case measuring[name]:
			case !scripted || clientCommands[name]:
				sent += d
			default:
				inner += d
			}
		}
		scriptUsec += after[i].usec["evalsha"] - before[i].usec["evalsha"] + after[i].usec["eval"] - before[i].usec["eval"]
	}
	b.ReportMetric(float64(n)/took.Seconds(), unit+"s/s")
	b.ReportMetric(per(float64(cpu.Microseconds())), "server-µs/"+unit)
	b.ReportMetric(per(float64(scriptUsec)), "script-µs/"+unit)
	b.ReportMetric(per(float64(sent)), "cmds/"+unit)
	b.ReportMetric(per(float64(inner)), "inner-cmds/"+unit)
	b.ReportMetric(per(float64(conns)), "conns/"+unit)
	b.ReportMetric(100*cpu.Seconds()/took.Seconds(), "server-cpu-%")
	// What Redis can serve, whatever the driver's machine: the units per second at which
	// the busiest node's one core would be full (Redis runs commands on one thread).
	if busiest > 0 {
		b.ReportMetric(float64(n)/busiest.Seconds(), "capacity-"+unit+"s/s")
	}
	if len(after) > 1 {
		b.ReportMetric(maxNode, "max-node-cpu-%")
	}
	b.ReportMetric(per(float64(driver.Microseconds())), "driver-µs/"+unit)
	b.ReportMetric(100*driver.Seconds()/took.Seconds(), "driver-cpu-%")
}
