package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// options are the soak's command line.
type options struct {
	duration time.Duration
	golock   string // "": build ./cmd/golock
	config   string
	hosts    int
	locks    int
	seed     uint64
	keep     string // "": the logs go with the temporary directory
	rejudge  string // judge what --keep kept in this directory again, running nothing
}

// The settings every golock of the fleet runs with: short, so that much happens in a
// minute. The tolerance they give: worst phase LEASE − KILL_GRACE − LEASE/3 = 1.5 s, best
// phase LEASE − KILL_GRACE = 2.5 s.
const (
	lease            = 3 * time.Second
	killGrace        = 500 * time.Millisecond
	redisTimeout     = time.Second
	reconnects       = 1
	reconnectBackoff = 200 * time.Millisecond
)

var configs = map[string]string{
	"aof":           "one Redis with AOF (appendfsync always)",
	"nopersist":     "one Redis without persistence",
	"sentinel":      "a master, a replica and three sentinels; failovers by kill -9 of the master",
	"sentinel-wait": "the sentinel set, golock with CRONLOCK_MIN_REPLICAS=1",
	"limit3":        "one Redis with AOF, CRONLOCK_LIMIT=3",
}

// configNames lists the configs for usage lines.
const configNames = "aof, nopersist, sentinel, sentinel-wait or limit3"

func parseArgs(args []string) (options, error) {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	fs.DurationVar(&o.duration, "duration", time.Minute, "how long the fleet runs (faults included)")
	fs.StringVar(&o.golock, "golock", "", "the golock binary, or any program with its command line")
	fs.StringVar(&o.config, "config", "aof", configNames)
	fs.IntVar(&o.hosts, "hosts", 0, "simulated hosts (default 8; 10 with limit3)")
	fs.IntVar(&o.locks, "locks", 3, "locks the hosts share")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed (default: from the clock)")
	fs.StringVar(&o.keep, "keep", "", "keep the logs and Redis files in this directory")
	fs.StringVar(&o.rejudge, "rejudge", "", "judge again the logs that --keep kept in this directory")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%v (usage: soak --duration D [--golock PATH] [--config aof|nopersist|sentinel|sentinel-wait|limit3] [--hosts N] [--locks N] [--seed N] [--keep DIR])", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, ok := configs[o.config]; !ok {
		return o, fmt.Errorf("unknown --config %q: %s", o.config, configNames)
	}
	if o.duration <= 0 || o.locks < 1 || o.hosts < 0 {
		return o, errors.New("--duration, --locks and --hosts must be positive")
	}
	if o.hosts == 0 {
		o.hosts = 8
		if o.config == "limit3" {
			o.hosts = 10
		}
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o, nil
}

// limit is how many jobs of a lock may run at once.
func (o options) limit() int {
	if o.config == "limit3" {
		return 3
	}
	return 1
}

// sentinel tells whether the fleet finds its Redis through Sentinel.
func (o options) sentinel() bool {
	return o.config == "sentinel" || o.config == "sentinel-wait"
}

// minReplicas is the fleet's CRONLOCK_MIN_REPLICAS.
func (o options) minReplicas() int {
	if o.config == "sentinel-wait" {
		return 1
	}
	return 0
}

// window is a span on the shared monotonic clock, in nanoseconds.
type window struct{ from, to int64 }

// runRecord is one golock the fleet started, as the driver saw it.
type runRecord struct {
	id         int
	host       int
	lock       string
	jobMs      int  // how long the job was asked to run
	ignoreTerm bool // the job ignores SIGTERM, so only SIGKILL ends it
	start      int64
	exit       int64
	code       int // -1: ended by a signal (the driver's SIGKILL of a hung golock)
	stderr     string
	stops      []window // SIGSTOPs of this golock
	hung       bool     // the driver killed it for running far too long
}

// fault is one fault injected, on the shared clock; a SIGSTOP names its run.
type fault struct {
	kind   string
	window window
	length time.Duration // how long it was made to last (a delay's replies come later still)
	run    int           // the stopped golock's run, or 0
	detail string
}

// result is what the soak saw, for the judge.
type result struct {
	opts   options
	runs   []*runRecord
	faults []fault
	jobLog string // the jobs' lines

	loadStart, loadEnd string // the machine's load averages (1, 5, 15 minutes)
}

// loadAvg is the first three fields of /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if err != nil || len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// soak runs the fleet and the faults for opts.duration and returns what happened.
func soak(ctx context.Context, o options, stderr io.Writer) (*result, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server not found in PATH: the soak needs a real Redis (tools/need-redis installs one)")
	}
	work, err := os.MkdirTemp("", "golock-soak-")
	if err != nil {
		return nil, err
	}
	if o.keep != "" {
		if err := os.MkdirAll(o.keep, 0o755); err != nil {
			return nil, err
		}
		os.RemoveAll(work)
		work = o.keep
	} else {
		defer os.RemoveAll(work)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if o.golock == "" {
		o.golock = filepath.Join(work, "golock")
		fmt.Fprintln(stderr, "soak: building ./cmd/golock")
		build := exec.Command("go", "build", "-o", o.golock, "github.com/golock/golock/cmd/golock")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("building golock: %w", err)
		}
	}
	if o.golock, err = filepath.Abs(o.golock); err != nil {
		return nil, err
	}
	emptyConf := filepath.Join(work, "empty.conf")
	if err := os.WriteFile(emptyConf, nil, 0o644); err != nil {
		return nil, err
	}
	jobLog := filepath.Join(work, "jobs.log")

	w := &world{opts: o, work: work, rng: rand.New(rand.NewPCG(o.seed, o.seed>>1|1)), stderr: stderr}
	defer w.teardown()
	if err := w.setUp(); err != nil {
		return nil, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "CRONLOCK_CONFIG=" + emptyConf,
		"CRONLOCK_LEASE=" + secs(lease), "CRONLOCK_KILL_GRACE=" + secs(killGrace), "CRONLOCK_GRACE=0",
		"CRONLOCK_REDIS_TIMEOUT=" + secs(redisTimeout), "CRONLOCK_RECONNECT_ATTEMPTS=" + strconv.Itoa(reconnects),
		"CRONLOCK_RECONNECT_BACKOFF=" + secs(reconnectBackoff)}
	env = append(env, w.golockEnv()...)
	if o.limit() > 1 {
		env = append(env, "CRONLOCK_LIMIT="+strconv.Itoa(o.limit()))
	}
	if o.minReplicas() > 0 {
		env = append(env, "CRONLOCK_MIN_REPLICAS="+strconv.Itoa(o.minReplicas()))
	}
	fmt.Fprintf(stderr, "soak: %s for %v: %s; %d hosts, %d locks; seed %d; golock %s; logs in %s\n",
		o.config, o.duration, configs[o.config], o.hosts, o.locks, o.seed, o.golock, work)

	load0 := loadAvg()
	f := &fleet{opts: o, golock: o.golock, self: self, jobLog: jobLog, env: env, live: map[int]*liveRun{}}
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for h := range o.hosts {
		seed := w.rng.Uint64()
		wg.Go(func() { f.host(runCtx, h+1, rand.New(rand.NewPCG(seed, uint64(h)))) })
	}
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		var fw sync.WaitGroup
		fw.Go(func() { w.injectFaults(runCtx) })
		fw.Go(func() { w.stopGolocks(runCtx, f) })
		if o.minReplicas() > 0 {
			fw.Go(func() { w.watchReplicas(runCtx, o.minReplicas()) })
		}
		fw.Wait()
	}()
	<-faultsDone
	wg.Wait() // each host lets its last golock finish
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}
	data, err := os.ReadFile(jobLog)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	res := &result{opts: o, runs: f.runs, faults: w.faults, jobLog: string(data), loadStart: load0, loadEnd: loadAvg()}
	if o.keep != "" {
		if err := res.save(work); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// save writes what the driver saw beside the jobs' log: runs.log, one line per golock
// (times on the shared monotonic clock, in ns), and faults.log, one line per fault.
func (res *result) save(dir string) error {
	var b bytes.Buffer
	for _, r := range res.runs {
		fmt.Fprintf(&b, "run %d host %d lock %s job %dms ignore-term %v start %d exit %d took %v code %d hung %v stops %v stderr %q\n",
			r.id, r.host, r.lock, r.jobMs, r.ignoreTerm, r.start, r.exit, time.Duration(r.exit-r.start).Round(time.Millisecond),
			r.code, r.hung, r.stops, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "runs.log"), b.Bytes(), 0o644); err != nil {
		return err
	}
	b.Reset()
	for _, f := range res.faults {
		fmt.Fprintf(&b, "fault %s from %d to %d length %v run %d %s\n", f.kind, f.window.from, f.window.to,
			f.length.Round(time.Millisecond), f.run, f.detail)
	}
	return os.WriteFile(filepath.Join(dir, "faults.log"), b.Bytes(), 0o644)
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// fleet is the simulated hosts: each starts golock, waits for it, and starts again.
type fleet struct {
	opts   options
	golock string
	self   string
	jobLog string
	env    []string

	mu   sync.Mutex
	runs []*runRecord
	live map[int]*liveRun // golocks running now, by run
	next int
}

type liveRun struct {
	rec *runRecord
	pid int
}

// hangAfter is how long past its job's length a golock may run before the driver takes
// it as hung and kills it: every wait golock makes is bounded far below this.
const hangAfter = 30 * time.Second

func (f *fleet) host(ctx context.Context, h int, rng *rand.Rand) {
	for ctx.Err() == nil {
		rec := &runRecord{host: h, lock: fmt.Sprintf("soak-%c", 'a'+rng.IntN(f.opts.locks)),
			jobMs: 100 + rng.IntN(int(2*lease/time.Millisecond)-100), ignoreTerm: rng.IntN(5) == 0}
		f.runOne(rec)
		// A short pause, as between cron ticks of different hosts.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100+rng.IntN(500)) * time.Millisecond):
		}
	}
}

func (f *fleet) runOne(rec *runRecord) {
	f.mu.Lock()
	f.next++
	rec.id = f.next
	f.runs = append(f.runs, rec)
	f.mu.Unlock()
	ignore := "0"
	if rec.ignoreTerm {
		ignore = "1"
	}
	cmd := exec.Command(f.golock, f.self, jobCommand, strconv.Itoa(rec.id), rec.lock, strconv.Itoa(rec.jobMs), ignore, f.jobLog)
	cmd.Env = append(append([]string{}, f.env...), "CRONLOCK_KEY="+rec.lock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the soak
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	rec.start = mono()
	if err := cmd.Start(); err != nil {
		rec.exit, rec.code, rec.stderr = mono(), -1, err.Error()
		return
	}
	f.mu.Lock()
	f.live[rec.id] = &liveRun{rec: rec, pid: cmd.Process.Pid}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { // the hang guard
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			f.mu.Lock()
			var stopped int64
			for _, s := range rec.stops {
				stopped += s.to - s.from
			}
			f.mu.Unlock()
			if time.Duration(mono()-rec.start-stopped) > time.Duration(rec.jobMs)*time.Millisecond+hangAfter {
				f.mu.Lock()
				rec.hung = true
				f.mu.Unlock()
				_ = cmd.Process.Signal(syscall.SIGCONT)
				_ = cmd.Process.Kill()
				return
			}
		}
	}()
	err := cmd.Wait()
	exit := mono()
	close(done)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, rec.id)
	rec.exit = exit
	rec.code = cmd.ProcessState.ExitCode()
	if err != nil && rec.code == 0 {
		rec.code = -1
	}
	rec.stderr = errBuf.String()
}

// pick returns a golock running for at least min, chosen at random, or nil.
func (f *fleet) pick(rng *rand.Rand, min time.Duration) *liveRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c []*liveRun
	now := mono()
	for _, l := range f.live {
		if time.Duration(now-l.rec.start) >= min {
			c = append(c, l)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[rng.IntN(len(c))]
}
