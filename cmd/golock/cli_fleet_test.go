package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The CLI tests of many golock runs on one lock: many at once, one round trip each, and
// runs that wait for the lock (CRONLOCK_WAIT).

// TestCLIManyAtOnce starts many golocks for one lock at once: exactly one runs the job,
// every other exits 200.
func TestCLIManyAtOnce(t *testing.T) {
	t.Parallel()
	const n = 20
	srv := redistest.Start(t)
	dir := t.TempDir()
	runs, release := filepath.Join(dir, "runs"), filepath.Join(dir, "release")
	// The job holds on until the test lets it go, after every other golock has given up:
	// each of them tried while the lock was held.
	args := []string{"sh", "-c", `echo ran >> "$1"; while [ ! -e "$2" ]; do sleep 0.02; done`, "job", runs, release}
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0")...)
	type exit struct {
		i int
		r golocktest.Result
	}
	exits := make(chan exit, n)
	for i := range n {
		wait := golocktest.Start(t, env, args...).Wait
		go func() { exits <- exit{i, wait()} }()
	}
	codes := map[int]int{}
	var stderr []string
	timeout := time.After(30 * time.Second)
	for len(codes) < n {
		if len(codes) == n-1 {
			if err := os.WriteFile(release, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case e := <-exits:
			codes[e.i] = e.r.Code
			if e.r.Stderr != "" {
				stderr = append(stderr, e.r.Stderr)
			}
		case <-timeout:
			_ = os.WriteFile(release, nil, 0o600)
			timeout = time.After(10 * time.Second)
			if len(codes) < n-1 {
				t.Errorf("only %d of %d golocks ended while one held the lock", len(codes), n-1)
			}
		}
	}
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[0] != 1 || count[200] != n-1 {
		t.Errorf("exit codes %v (code: how many), want one 0 and %d × 200", count, n-1)
	}
	text, _ := os.ReadFile(runs)
	if got := strings.Count(string(text), "ran\n"); got != 1 {
		t.Errorf("the job ran %d times, want once", got)
	}
	if len(stderr) > 0 {
		t.Errorf("golocks printed %q; want nothing", stderr)
	}
}

// TestCLIOneRoundTrip checks that a run sends Redis nothing but the connection handshake,
// one acquire and one release. MONITOR tells what golock sent from what its scripts ran.
func TestCLIOneRoundTrip(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	if err := c.Ping(context.Background()).Err(); err != nil { // our own handshake, before MONITOR
		t.Fatal(err)
	}
	env := golocktest.Env(srv.Env()...)
	for _, run := range []struct {
		name    string
		args    []string
		maxEval int // scripts sent in full: on a fresh server EVALSHA meets NOSCRIPT
	}{
		{"fresh server", []string{"true"}, 2},
		{"scripts cached", []string{"sh", "-c", "exit 0"}, 0},
	} {
		mon := cliMonitor(t, srv)
		cliWantCode(t, golocktest.Run(t, env, run.args...), 0)
		sent := mon.stop(c)
		t.Logf("%s: golock sent %q", run.name, sent)
		count := map[string]int{}
		for _, cmd := range sent {
			count[cmd]++
			switch cmd {
			case "evalsha", "eval", "hello", "auth", "select", "ping":
			default:
				t.Errorf("%s: golock sent %s; want only the handshake, acquire and release (sent %q)", run.name, cmd, sent)
			}
		}
		if count["evalsha"] != 2 || count["eval"] > run.maxEval || count["hello"] > 0 {
			t.Errorf("%s: sent %q; want evalsha twice (acquire, release), eval at most %d times and no HELLO",
				run.name, sent, run.maxEval)
		}
	}
}

// cliMonitoring reads a MONITOR connection to a server.
type cliMonitoring struct {
	conn net.Conn
	rd   *bufio.Reader
}

// cliMonitor starts a MONITOR on srv.
func cliMonitor(t *testing.T, srv *redistest.Server) *cliMonitoring {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	rd := bufio.NewReader(conn)
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR: %q %v", line, err)
	}
	return &cliMonitoring{conn: conn, rd: rd}
}

// stop returns, in lower case, the command names clients sent since the MONITOR began,
// leaving out what scripts ran; it ends with an ECHO sent through c.
func (m *cliMonitoring) stop(c *redis.Client) []string {
	const end = "end-of-monitor"
	var sent []string
	if err := c.Echo(context.Background(), end).Err(); err != nil {
		return []string{"ECHO failed: " + err.Error()}
	}
	defer m.conn.Close()
	// +1700000000.123456 [0 127.0.0.1:5555] "evalsha" "..." ... ; scripts show [0 lua].
	re := regexp.MustCompile(`^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]*)"`)
	for {
		line, err := m.rd.ReadString('\n')
		if err != nil {
			return append(sent, "MONITOR failed: "+err.Error())
		}
		mm := re.FindStringSubmatch(line)
		switch {
		case mm == nil || mm[1] == "lua":
		case strings.EqualFold(mm[2], "echo") && strings.Contains(line, end):
			return sent
		default:
			sent = append(sent, strings.ToLower(mm[2]))
		}
	}
}

// TestCLIWait checks CRONLOCK_WAIT: a waiter takes the lock as soon as the holder lets go,
// and gives up with 200 when the wait runs out.
func TestCLIWait(t *testing.T) {
	t.Parallel()
	t.Run("hand-off", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		dir := t.TempDir()
		started, ended, began := filepath.Join(dir, "started"), filepath.Join(dir, "ended"), filepath.Join(dir, "began")
		env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_KEY=wait")...)
		waitHolder := golocktest.Start(t, env, "sh", "-c", `touch "$1"; sleep 1.5; date +%s%N > "$2"`, "job", started, ended).Wait
		if !redistest.Poll(10*time.Second, func() bool { return cliExists(started) }) {
			t.Fatalf("the holder's job did not start: %+v", waitHolder())
		}
		waitWaiter := golocktest.Start(t, append(env, "CRONLOCK_WAIT=5"), "sh", "-c", `date +%s%N > "$1"`, "job", began).Wait
		holder, waiter := waitHolder(), waitWaiter()
		cliWantCode(t, holder, 0)
		cliWantCode(t, waiter, 0)
		end, begin := golocktest.ReadNanos(t, ended), golocktest.ReadNanos(t, began)
		delay := begin.Sub(end)
		t.Logf("hand-off: the waiter's job began %v after the holder's ended", delay.Round(time.Millisecond))
		if delay < 0 {
			t.Errorf("the waiter's job began %v before the holder's ended", -delay)
		}
		if delay > time.Second {
			t.Errorf("hand-off took %v, want well under a second", delay)
		}
		if holder.Stderr != "" || waiter.Stderr != "" {
			t.Errorf("stderr: holder %q, waiter %q; want nothing", holder.Stderr, waiter.Stderr)
		}
	})
	t.Run("runs out", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=wait")...)
		cliWantCode(t, golocktest.Run(t, append(env, "CRONLOCK_GRACE=60"), "true"), 0) // held for a minute
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, append(env, "CRONLOCK_WAIT=0.3"), "touch", marker)
		cliWantCode(t, r, 200)
		if cliExists(marker) {
			t.Error("the waiter ran its job while the lock was held")
		}
		if r.Took < 300*time.Millisecond || r.Took > 3*time.Second {
			t.Errorf("gave up after %v, want about 0.3 s", r.Took)
		}
		if r.Stderr != "" {
			t.Errorf("stderr %q, want nothing", r.Stderr)
		}
	})
	t.Run("grace hold ends", func(t *testing.T) {
		t.Parallel()
		// A lock held only for grace expires without a message: the waiter, told the TTL in
		// the held reply, wakes when it ends.
		srv := redistest.Start(t)
		env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=wait")...)
		cliWantCode(t, golocktest.Run(t, append(env, "CRONLOCK_GRACE=2.5"), "true"), 0)
		graceMS, err := srv.Client().HGet(context.Background(), "cronlock.wait", "grace_ms").Int64()
		if err != nil {
			t.Fatal(err)
		}
		began := cliPath(t, "began")
		r := golocktest.Run(t, append(env, "CRONLOCK_WAIT=10"), "sh", "-c", `date +%s%N > "$1"`, "job", began)
		cliWantCode(t, r, 0)
		delay := golocktest.ReadNanos(t, began).Sub(time.UnixMilli(graceMS))
		t.Logf("the waiter's job began %v after the grace hold ended", delay.Round(time.Millisecond))
		if delay < 0 || delay > 250*time.Millisecond {
			t.Errorf("the waiter's job began %v after the grace hold ended, want within a few ms", delay)
		}
	})
	t.Run("signal ends it", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=wait")...)
		cliWantCode(t, golocktest.Run(t, append(env, "CRONLOCK_GRACE=60"), "true"), 0) // held for a minute
		marker := cliPath(t, "ran")
		g := golocktest.Start(t, append(env, "CRONLOCK_WAIT=30"), "touch", marker)
		// Once it waits, it is subscribed to the lock's channel.
		channel := lockscript.Channel("cronlock.wait")
		if !redistest.Poll(10*time.Second, func() bool {
			n := srv.Client().PubSubNumSub(context.Background(), channel).Val()[channel]
			return n == 1
		}) {
			t.Fatal("the waiter never subscribed to the lock's channel")
		}
		if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		r := g.Wait()
		cliWantCode(t, r, 200)
		if cliExists(marker) {
			t.Error("the waiter ran its job after a signal")
		}
		if r.Took > 10*time.Second {
			t.Errorf("the wait went on %v after the signal, want it ended at once", r.Took)
		}
	})
}
