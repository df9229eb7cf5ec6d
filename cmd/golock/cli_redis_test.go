package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// The CLI tests of how golock reaches Redis: a database, a password, a Redis that is
// unreachable, loading its data or late to start.

// cliListener accepts TCP connections on a free port, notes when each came, and hands
// each to serve (nil: close it at once). It is closed at the test's end.
type cliListener struct {
	ln net.Listener

	mu    sync.Mutex
	times []time.Time
}

func cliListen(t *testing.T, serve func(net.Conn)) *cliListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &cliListener{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.times = append(l.times, time.Now())
			l.mu.Unlock()
			if serve == nil {
				c.Close()
				continue
			}
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	return l
}

func (l *cliListener) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

func (l *cliListener) env() []string {
	return []string{"CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT=" + strconv.Itoa(l.port())}
}

// accepted returns when each connection came.
func (l *cliListener) accepted() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.times)
}

// TestCLIDatabase checks that CRONLOCK_DB selects the database, and that a bad one is
// refused before anything runs.
func TestCLIDatabase(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	db0 := srv.Client()
	db3 := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: 3})
	defer db3.Close()

	r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_DB=3", "CRONLOCK_KEY=db")...), "true")
	cliWantCode(t, r, 0)
	if n := db3.Exists(ctx, "cronlock.db").Val(); n != 1 {
		t.Error("the lock is not in database 3")
	}
	if n := db0.Exists(ctx, "cronlock.db").Val(); n != 0 {
		t.Error("the lock is in database 0")
	}

	marker := cliPath(t, "ran")
	r = golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_DB=-1")...), "touch", marker)
	cliWantCode(t, r, 201)
	if lines := cliLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "CRONLOCK_DB") {
		t.Errorf("stderr %q, want one line naming CRONLOCK_DB", r.Stderr)
	}
	if cliExists(marker) {
		t.Error("the job ran with a bad CRONLOCK_DB")
	}
}

// TestCLIPassword checks CRONLOCK_AUTH: the right password runs the job; a wrong or
// missing one fails at once (no reconnect attempts: Redis answered), and no output ever
// shows a password.
func TestCLIPassword(t *testing.T) {
	t.Parallel()
	const right, wrong = "Correct-Horse-42", "Wrong-Battery-7"
	srv := redistest.Start(t, redistest.WithPassword(right))
	noAuth := []string{"CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT=" + strconv.Itoa(srv.Port)}
	tests := []struct {
		name string
		env  []string
		want int
	}{
		{"right", srv.Env(), 0},
		{"right, verbose", append(srv.Env(), "CRONLOCK_VERBOSE=yes"), 0},
		{"wrong", append(noAuth, "CRONLOCK_AUTH="+wrong), 201},
		{"wrong, verbose", append(noAuth, "CRONLOCK_AUTH="+wrong, "CRONLOCK_VERBOSE=yes"), 201},
		{"wrong, json", append(noAuth, "CRONLOCK_AUTH="+wrong, "CRONLOCK_LOG_FORMAT=json"), 201},
		{"missing", noAuth, 201},
		{"missing, verbose", append(noAuth, "CRONLOCK_VERBOSE=yes"), 201},
		{"wrong, reset", append(noAuth, "CRONLOCK_AUTH="+wrong, "CRONLOCK_RESET=yes"), 201},
		{"missing, reset", append(noAuth, "CRONLOCK_RESET=yes"), 201},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			marker := cliPath(t, "ran")
			// The default retry schedule (5 attempts, 5 s apart) would take 50 s.
			env := golocktest.Env(append(tt.env, "CRONLOCK_KEY=pw-"+strconv.Itoa(i))...)
			r := golocktest.Run(t, env, "touch", marker)
			cliWantCode(t, r, tt.want)
			if ran := cliExists(marker); ran != (tt.want == 0) {
				t.Errorf("job ran: %v, want %v", ran, tt.want == 0)
			}
			for _, pw := range []string{right, wrong} {
				if strings.Contains(r.Stderr, pw) || strings.Contains(r.Stdout, pw) {
					t.Errorf("output shows a password:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
				}
			}
			if tt.want == 201 {
				if r.Took > 3*time.Second {
					t.Errorf("a refused password took %v: it must not be retried as a connection failure", r.Took)
				}
				if !strings.Contains(r.Stderr, "CRONLOCK_AUTH") {
					t.Errorf("stderr %q does not say to check CRONLOCK_AUTH", r.Stderr)
				}
				if n := len(cliLines(r.Stderr)); n != 1 && !strings.Contains(tt.name, "verbose") {
					t.Errorf("stderr %q, want one line", r.Stderr)
				}
			}
		})
	}
}

// TestCLIUnreachableRedis checks the reconnect schedule of SPEC §5: the n-th retry waits
// (n-1) × CRONLOCK_RECONNECT_BACKOFF, and then golock gives up with 201 having run nothing.
func TestCLIUnreachableRedis(t *testing.T) {
	t.Parallel()
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		port := redistest.FreePort(t) // nothing listens there
		marker := cliPath(t, "ran")
		env := golocktest.Env("CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT="+strconv.Itoa(port),
			"CRONLOCK_RECONNECT_ATTEMPTS=3", "CRONLOCK_RECONNECT_BACKOFF=0.2")
		r := golocktest.Run(t, env, "touch", marker)
		cliWantCode(t, r, 201)
		// Waits of 0, 0.2 and 0.4 s.
		if r.Took < 550*time.Millisecond || r.Took > 5*time.Second {
			t.Errorf("gave up after %v, want about 0.6 s", r.Took)
		}
		if cliExists(marker) {
			t.Error("the job ran without its lock")
		}
		if lines := cliLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "127.0.0.1:"+strconv.Itoa(port)) {
			t.Errorf("stderr %q, want one line naming the address", r.Stderr)
		}
	})
	for _, tt := range []struct {
		attempts, conns int
		minWait         time.Duration
	}{
		{0, 1, 0},
		{1, 2, 0},
		{3, 4, 550 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("counted, %d attempts", tt.attempts), func(t *testing.T) {
			t.Parallel()
			l := cliListen(t, nil) // accepts and hangs up: Redis cannot be talked to
			marker := cliPath(t, "ran")
			env := golocktest.Env(append(l.env(), "CRONLOCK_RECONNECT_ATTEMPTS="+strconv.Itoa(tt.attempts),
				"CRONLOCK_RECONNECT_BACKOFF=0.2")...)
			r := golocktest.Run(t, env, "touch", marker)
			cliWantCode(t, r, 201)
			if cliExists(marker) {
				t.Error("the job ran without its lock")
			}
			times := l.accepted()
			if len(times) != tt.conns {
				t.Fatalf("%d connections, want %d (one, then one per retry)", len(times), tt.conns)
			}
			if spread := times[len(times)-1].Sub(times[0]); spread < tt.minWait || spread > 5*time.Second {
				t.Errorf("attempts spread over %v, want at least %v", spread, tt.minWait)
			}
			var gaps []string
			for i := 1; i < len(times); i++ {
				gaps = append(gaps, times[i].Sub(times[i-1]).Round(time.Millisecond).String())
			}
			t.Logf("waits between attempts: %v", gaps)
		})
	}
}

// TestCLIRedisLoading checks that a Redis still loading its data (it answers LOADING) is
// retried like one that cannot be reached, unlike a refused password.
func TestCLIRedisLoading(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var commands []string
	l := cliListen(t, func(c net.Conn) {
		rd := bufio.NewReader(c)
		for {
			args, err := cliReadCommand(rd)
			if err != nil {
				return
			}
			mu.Lock()
			commands = append(commands, strings.ToLower(args[0]))
			mu.Unlock()
			if _, err := c.Write([]byte("-LOADING Redis is loading the dataset in memory\r\n")); err != nil {
				return
			}
		}
	})
	marker := cliPath(t, "ran")
	env := golocktest.Env(append(l.env(), "CRONLOCK_RECONNECT_ATTEMPTS=2", "CRONLOCK_RECONNECT_BACKOFF=0.1")...)
	r := golocktest.Run(t, env, "touch", marker)
	cliWantCode(t, r, 201)
	if cliExists(marker) {
		t.Error("the job ran without its lock")
	}
	mu.Lock()
	defer mu.Unlock()
	scripts := 0
	for _, c := range commands {
		if c == "evalsha" || c == "eval" {
			scripts++
		}
	}
	if scripts != 3 {
		t.Errorf("commands %q: %d acquire attempts, want 3 (one, then two retries)", commands, scripts)
	}
	if !strings.Contains(r.Stderr, "LOADING") || len(cliLines(r.Stderr)) != 1 {
		t.Errorf("stderr %q, want one line saying LOADING", r.Stderr)
	}
}

// cliReadCommand reads one RESP command (an array of bulk strings).
func cliReadCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not a RESP array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = rd.ReadString('\n'); err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil {
			return nil, fmt.Errorf("bad bulk header %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// TestCLILateRedis checks that a Redis that comes up while golock is retrying is found by
// the next retry.
func TestCLILateRedis(t *testing.T) {
	t.Parallel()
	t.Run("after half a second", func(t *testing.T) {
		t.Parallel()
		port := redistest.FreePort(t)
		marker := cliPath(t, "ran")
		// Tries at 0, 0, 0.3, 0.9, 1.8 and 3 s.
		wait := golocktest.Start(t, golocktest.Env("CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT="+strconv.Itoa(port),
			"CRONLOCK_RECONNECT_ATTEMPTS=5", "CRONLOCK_RECONNECT_BACKOFF=0.3"), "touch", marker).Wait
		time.Sleep(500 * time.Millisecond) // a delay, not an assertion
		redistest.StartAt(t, port)
		cliGotThrough(t, wait(), marker)
	})
	t.Run("between two quick retries", func(t *testing.T) {
		// Tries at 0, 0 and 0.8 s; Redis is up from about 0.2 s. The first two refused
		// dials must not make the third try give up without dialling.
		t.Parallel()
		port := redistest.FreePort(t)
		marker := cliPath(t, "ran")
		wait := golocktest.Start(t, golocktest.Env("CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT="+strconv.Itoa(port),
			"CRONLOCK_RECONNECT_ATTEMPTS=2", "CRONLOCK_RECONNECT_BACKOFF=0.8"), "touch", marker).Wait
		time.Sleep(200 * time.Millisecond) // a delay, not an assertion
		redistest.StartAt(t, port)
		c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
		defer c.Close()
		up := redistest.Poll(5*time.Second, func() bool { return c.Ping(context.Background()).Err() == nil })
		r := wait()
		if !up {
			t.Fatal("redis-server did not come up")
		}
		cliWantCode(t, r, 0)
		if !cliExists(marker) {
			t.Error("the job did not run")
		}
	})
}

// TestCLIRedisMaxClients checks that a Redis at its maxclients, which refuses each new
// connection with "ERR max number of clients reached", is retried like one that cannot be
// reached: a connection freed before the last retry lets the job run, and none freed ends
// in 201 with one line that says what to raise.
func TestCLIRedisMaxClients(t *testing.T) {
	t.Parallel()
	// full starts a Redis whose one connection the returned client holds; closing the
	// client frees it.
	full := func(t *testing.T) (*redistest.Server, *redis.Client) {
		srv := redistest.Start(t)
		admin := srv.Client()
		t.Cleanup(func() { admin.Close() })
		if err := admin.ConfigSet(context.Background(), "maxclients", "1").Err(); err != nil {
			t.Fatal(err)
		}
		return srv, admin
	}
	t.Run("a connection freed", func(t *testing.T) {
		t.Parallel()
		srv, admin := full(t)
		marker := cliPath(t, "ran")
		// Tries at 0, 0, 0.4 and 1.2 s; a connection is free from about 0.3 s.
		wait := golocktest.Start(t, golocktest.Env(append(srv.Env(), "CRONLOCK_RECONNECT_ATTEMPTS=3",
			"CRONLOCK_RECONNECT_BACKOFF=0.4")...), "touch", marker).Wait
		time.Sleep(300 * time.Millisecond) // a delay, not an assertion
		if err := admin.Close(); err != nil {
			t.Fatal(err)
		}
		cliGotThrough(t, wait(), marker)
	})
	t.Run("none freed", func(t *testing.T) {
		t.Parallel()
		srv, _ := full(t)
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_RECONNECT_ATTEMPTS=2",
			"CRONLOCK_RECONNECT_BACKOFF=0.2")...), "touch", marker)
		cliWantCode(t, r, 201)
		if cliExists(marker) {
			t.Error("the job ran without its lock")
		}
		// Waits of 0 and 0.2 s.
		if r.Took < 150*time.Millisecond {
			t.Errorf("gave up after %v, want the retries' 0.2 s first", r.Took)
		}
		lines := cliLines(r.Stderr)
		if len(lines) != 1 || !strings.Contains(lines[0], "max number of clients") ||
			!strings.Contains(lines[0], "raise maxclients") || !strings.Contains(lines[0], "gave up after 2 retries") {
			t.Errorf("stderr %q, want one line saying Redis is at maxclients, what to raise and the retries", r.Stderr)
		}
		t.Logf("gave up after %v: %s", r.Took.Round(time.Millisecond), lines)
	})
}

// cliGotThrough checks that a run that retried ran its job (which makes marker) and exited
// 0, and logs how long it took.
func cliGotThrough(t *testing.T, r golocktest.Result, marker string) {
	t.Helper()
	cliWantCode(t, r, 0)
	if !cliExists(marker) {
		t.Error("the job did not run")
	}
	t.Logf("got through after %v", r.Took.Round(time.Millisecond))
}
