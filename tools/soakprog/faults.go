package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// world is the Redis side of the soak, and the faults done to it.
type world struct {
	opts   options
	work   string
	rng    *rand.Rand // used before the fleet starts only
	stderr io.Writer

	redis *server      // the one Redis (not with Sentinel)
	proxy *proxy       // between golock and the one Redis
	ss    *sentinelSet // with Sentinel

	mu     sync.Mutex
	faults []fault
}

func (w *world) setUp() error {
	var args []string
	switch w.opts.config {
	case "nopersist":
		args = []string{"--save", "", "--appendonly", "no"}
	default:
		args = []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}
	}
	args = append(args, "--enable-debug-command", "yes")
	if w.opts.sentinel() {
		ss, err := startSentinelSet(w.work, args)
		w.ss = ss
		return err
	}
	s, err := startServer(w.work, "redis", args...)
	if err != nil {
		return err
	}
	w.redis = s
	w.proxy, err = newProxy(s.addr())
	return err
}

func (w *world) golockEnv() []string {
	if w.ss != nil {
		return w.ss.env()
	}
	return []string{"CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT=" + strconv.Itoa(w.proxy.port)}
}

func (w *world) teardown() {
	if w.proxy != nil {
		w.proxy.close()
	}
	if w.redis != nil {
		w.redis.kill()
	}
	if w.ss != nil {
		w.ss.killAll()
	}
}

func (w *world) record(f fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults = append(w.faults, f)
}

// faultLength is how long a fault lasts: 0.2 s to 4 s, across the soak's tolerance (1.5 s
// in the worst phase, 2.5 s in the best), so that some are ridden through and some not.
func faultLength(rng *rand.Rand) time.Duration {
	return 200*time.Millisecond + time.Duration(rng.Int64N(int64(3800*time.Millisecond)))
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// injectFaults does one fault to Redis or the network at a time, with quiet gaps of 1 s
// to 5 s between them, until ctx ends.
func (w *world) injectFaults(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.opts.seed+1, 7))
	kinds := []string{"blackhole", "reset", "delay", "kill-9", "client-pause", "debug-sleep"}
	if w.ss != nil {
		kinds = []string{"failover", "client-pause", "debug-sleep"}
	}
	for sleep(ctx, time.Second+time.Duration(rng.Int64N(int64(4*time.Second)))) {
		kind := kinds[rng.IntN(len(kinds))]
		d := faultLength(rng)
		f, err := w.inject(ctx, kind, d, rng)
		if err != nil {
			fmt.Fprintf(w.stderr, "soak: %s: %v\n", kind, err)
		}
		if f.window.from != 0 {
			if f.length == 0 {
				f.length = time.Duration(f.window.to - f.window.from)
			}
			w.record(f)
		}
	}
}

// inject does one fault of kind lasting about d and returns it with its window: from its
// start until Redis answers as before.
func (w *world) inject(ctx context.Context, kind string, d time.Duration, rng *rand.Rand) (fault, error) {
	f := fault{kind: kind}
	target := w.redis
	if w.ss != nil {
		m, err := w.ss.master()
		if err != nil {
			return f, err
		}
		target = m
	}
	switch kind {
	case "blackhole":
		f.window.from = mono()
		w.proxy.setBlackhole(true)
		time.Sleep(d)
		w.proxy.setBlackhole(false)
		f.window.to = mono()
	case "reset":
		f.window.from = mono()
		w.proxy.reset()
		f.window.to = mono()
	case "delay":
		delay := 100*time.Millisecond + time.Duration(rng.Int64N(int64(1400*time.Millisecond)))
		f.detail = "replies " + delay.Round(time.Millisecond).String() + " late"
		f.window.from = mono()
		w.proxy.setDelay(delay)
		time.Sleep(d)
		w.proxy.setDelay(0)
		f.window.to = mono() + int64(delay) // replies under way arrive that late
		f.length = d
	case "kill-9":
		f.detail = "down " + d.Round(time.Millisecond).String()
		f.window.from = mono()
		target.kill()
		time.Sleep(d)
		err := target.restart()
		f.window.to = mono()
		if err != nil {
			return f, err
		}
	case "client-pause":
		c := target.client()
		defer c.Close()
		f.window.from = mono()
		err := c.Do(ctx, "CLIENT", "PAUSE", d.Milliseconds(), "WRITE").Err()
		f.window.to = f.window.from + int64(d)
		if err != nil {
			return fault{}, err
		}
		time.Sleep(d)
	case "debug-sleep":
		c := target.client()
		defer c.Close()
		f.window.from = mono()
		err := c.Do(ctx, "DEBUG", "SLEEP", d.Seconds()).Err()
		f.window.to = mono()
		if err != nil {
			return f, err
		}
	case "failover":
		return w.failover(target)
	}
	return f, nil
}

// failover kills the master with SIGKILL and waits until a sentinel names the replica and
// it answers as master; then it starts the old master again as a replica of the new one.
// The window ends when the new master answers.
func (w *world) failover(old *server) (fault, error) {
	f := fault{kind: "failover", window: window{from: mono()}}
	old.kill()
	var now *server
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		m, err := w.ss.master()
		if err == nil && m != old && m.role() == "master" {
			now = m
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.window.to = mono()
	if now == nil {
		f.detail = "no failover within 60 s"
		return f, fmt.Errorf("no failover within 60 s of killing the master on port %d", old.port)
	}
	f.detail = fmt.Sprintf("%v to a new master", time.Duration(f.window.to-f.window.from).Round(time.Millisecond))
	old.args = append(withoutReplicaOf(old.args), "--replicaof", "127.0.0.1", strconv.Itoa(now.port))
	if err := old.restart(); err != nil {
		return f, err
	}
	// The next failover needs the old master back as a synced replica, and Sentinel refuses a
	// second failover of the same master within twice its failover-timeout (5 s).
	if err := waitLinkUp(old); err != nil {
		return f, err
	}
	time.Sleep(10 * time.Second)
	return f, nil
}

func withoutReplicaOf(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--replicaof" {
			i += 2
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// role is what INFO replication says s is ("master", "slave", or "" when it does not
// answer).
func (s *server) role() string {
	c := s.client()
	defer c.Close()
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		return ""
	}
	return infoField(info, "role")
}

// stopGolocks stops a running golock with SIGSTOP now and then (every 2 s to 6 s), for a
// fault's length, and resumes it with SIGCONT. Its job runs on meanwhile, unwatched.
func (w *world) stopGolocks(ctx context.Context, f *fleet) {
	rng := rand.New(rand.NewPCG(w.opts.seed+2, 9))
	for sleep(ctx, 2*time.Second+time.Duration(rng.Int64N(int64(4*time.Second)))) {
		l := f.pick(rng, 300*time.Millisecond)
		if l == nil {
			continue
		}
		d := faultLength(rng)
		from := mono()
		if syscall.Kill(l.pid, syscall.SIGSTOP) != nil {
			continue
		}
		time.Sleep(d)
		_ = syscall.Kill(l.pid, syscall.SIGCONT)
		win := window{from, mono()}
		f.mu.Lock()
		l.rec.stops = append(l.rec.stops, win)
		f.mu.Unlock()
		w.record(fault{kind: "sigstop", window: win, length: time.Duration(win.to - win.from), run: l.rec.id})
	}
}

// infoField returns the value of field in an INFO reply, or "".
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}
