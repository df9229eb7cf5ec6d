package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// pingServer is a ping monitor on 127.0.0.1 that records each ping as "METHOD PATH" and
// its run id.
type pingServer struct {
	url   string
	mu    sync.Mutex
	pings []string
	rids  []string
}

func startPingServer(t *testing.T, status int) *pingServer {
	t.Helper()
	ps := &pingServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.pings = append(ps.pings, r.Method+" "+r.URL.Path)
		ps.rids = append(ps.rids, r.URL.Query().Get("rid"))
		ps.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintln(w, "OK")
	}))
	t.Cleanup(srv.Close)
	ps.url = srv.URL + "/ping/5f1b2c"
	return ps
}

// got returns the pings so far and their run ids.
func (ps *pingServer) got() (pings, rids []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.pings), slices.Clone(ps.rids)
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// wantPings checks that the run pinged want, in order, all with one run id (a UUID),
// and returns it.
func (ps *pingServer) wantPings(t *testing.T, want ...string) string {
	t.Helper()
	pings, rids := ps.got()
	if !slices.Equal(pings, want) {
		t.Errorf("pings %q, want %q", pings, want)
		return ""
	}
	for _, rid := range rids {
		if rid != rids[0] || !uuidV4.MatchString(rid) {
			t.Errorf("run ids %q: want one UUID for the run", rids)
		}
	}
	return rids[0]
}

// TestPings checks what the run that takes the lock pings: URL/start, then URL on exit 0
// or URL/<code> otherwise, a timeout's 202 and a lost lock's 201 too, each with the run's
// owner token as ?rid=; and that a run that finds the lock held pings nothing.
func TestPings(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	base := append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_PREFIX=ping.")

	t.Run("success", func(t *testing.T) {
		ps := startPingServer(t, 200)
		r := golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url)...), "sh", "-c", "echo $CRONLOCK_OWNER")
		cliWantCode(t, r, 0)
		rid := ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c")
		if owner := strings.TrimSpace(r.Stdout); rid != owner {
			t.Errorf("run id %q, want the owner token %q", rid, owner)
		}
	})
	t.Run("failure", func(t *testing.T) {
		ps := startPingServer(t, 200)
		cliWantCode(t, golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url)...), "sh", "-c", "exit 3"), 3)
		ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c/3")
	})
	t.Run("not found", func(t *testing.T) {
		ps := startPingServer(t, 200)
		cliWantCode(t, golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url)...), "/nonexistent/job"), 127)
		ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c/127")
	})
	t.Run("timeout", func(t *testing.T) {
		ps := startPingServer(t, 200)
		env := golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url, "CRONLOCK_TIMEOUT=0.3")...)
		cliWantCode(t, golocktest.Run(t, env, "sleep", "10"), exitTimeout)
		ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c/202")
	})
	t.Run("lost lock", func(t *testing.T) {
		ps := startPingServer(t, 200)
		env := golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url, "CRONLOCK_LEASE=1.5")...)
		job := []string{"sleep", "20"}
		wait := golocktest.Start(t, env, job...).Wait
		if !redistest.Poll(5*time.Second, func() bool { p, _ := ps.got(); return len(p) == 1 }) {
			t.Fatal("no start ping")
		}
		// A reset revokes the holder: its next renewal finds the lock lost, and it kills its job.
		cliWantCode(t, golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_RESET=yes")...), job...), exitHeld)
		cliWantCode(t, wait(), exitFailed)
		ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c/201")
	})
	t.Run("held", func(t *testing.T) {
		ps := startPingServer(t, 200)
		env := golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url)...)
		release := cliPath(t, "release")
		job := []string{"sh", "-c", "while [ ! -e " + release + " ]; do sleep 0.05; done"}
		wait := golocktest.Start(t, env, job...).Wait
		if !redistest.Poll(5*time.Second, func() bool { p, _ := ps.got(); return len(p) == 1 }) {
			t.Fatal("no start ping from the holder")
		}
		for range 3 {
			cliWantCode(t, golocktest.Run(t, env, job...), exitHeld)
		}
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cliWantCode(t, wait(), 0)
		ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c") // the holder's, and none of the three held runs'
	})
	t.Run("server error", func(t *testing.T) {
		ps := startPingServer(t, 500)
		r := golocktest.Run(t, golocktest.Env(append(base, "CRONLOCK_PING_URL="+ps.url, "CRONLOCK_VERBOSE=yes")...), "true")
		cliWantCode(t, r, 0)
		ps.wantPings(t, "POST /ping/5f1b2c/start", "POST /ping/5f1b2c")
		if n := strings.Count(r.Stderr, "ping not delivered"); n != 2 || !strings.Contains(r.Stderr, "answered 500") {
			t.Errorf("%d lines about failed pings, want 2 saying 500:\n%s", n, r.Stderr)
		}
	})
}

// TestPingsDeadServer checks that a ping server that accepts connections but never
// answers, or refuses them, delays the job's start by no more than CRONLOCK_PING_TIMEOUT
// and golock's exit by no more than twice that, and leaves the exit code alone; each
// failed ping is one verbose line, and without VERBOSE nothing is said.
func TestPingsDeadServer(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	held := make(chan net.Conn, 16)
	conns.Go(func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held <- c // read nothing, answer nothing
		}
	})
	t.Cleanup(func() {
		silent.Close()
		conns.Wait()
		close(held)
		for c := range held {
			c.Close()
		}
	})
	const bound = time.Second
	for _, tc := range []struct{ name, url string }{
		{"silent", "http://" + silent.Addr().String() + "/x"},
		{"refused", fmt.Sprintf("http://127.0.0.1:%d/x", redistest.FreePort(t))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stamp := cliPath(t, "started")
			for _, verbose := range []string{"yes", "no"} {
				env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_PING_URL="+tc.url,
					"CRONLOCK_PING_TIMEOUT="+strconv.FormatFloat(bound.Seconds(), 'f', -1, 64), "CRONLOCK_VERBOSE="+verbose)...)
				start := time.Now()
				r := golocktest.Run(t, env, "sh", "-c", "date +%s%N > "+stamp+"; exit 7")
				cliWantCode(t, r, 7)
				b, err := os.ReadFile(stamp)
				if err != nil {
					t.Fatal(err)
				}
				ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				delay := time.Unix(0, ns).Sub(start)
				t.Logf("measured: %s ping server, VERBOSE=%s: job started %v after golock, golock took %v (bound %v per ping)",
					tc.name, verbose, delay.Round(time.Millisecond), r.Took.Round(time.Millisecond), bound)
				if delay > bound+time.Second || r.Took > 2*bound+2*time.Second {
					t.Errorf("job started after %v, golock took %v: want at most %v and %v plus start-up", delay, r.Took, bound, 2*bound)
				}
				n := strings.Count(r.Stderr, "ping not delivered")
				if verbose == "yes" && (n != 2 || len(cliLines(r.Stderr)) < 2) || verbose == "no" && r.Stderr != "" {
					t.Errorf("VERBOSE=%s: %d lines about failed pings:\n%s", verbose, n, r.Stderr)
				}
			}
		})
	}
}

// TestPingURLChecked: a bad CRONLOCK_PING_URL is one line naming it, without its value,
// exit 201, and the job never runs.
func TestPingURLChecked(t *testing.T) {
	t.Parallel()
	ran := cliPath(t, "ran")
	for _, bad := range []string{"ftp://hc.example/secret-uuid", "hc.example/secret-uuid", "https:///secret-uuid"} {
		r := golocktest.Run(t, golocktest.Env("CRONLOCK_PING_URL="+bad), "touch", ran)
		if r.Code != exitFailed || len(cliLines(r.Stderr)) != 1 || !strings.Contains(r.Stderr, "CRONLOCK_PING_URL") ||
			strings.Contains(r.Stderr, "secret-uuid") || cliExists(ran) {
			t.Errorf("CRONLOCK_PING_URL=%s: exit %d, %q; want 201 and one line without the URL", bad, r.Code, r.Stderr)
		}
	}
	if r := golocktest.Run(t, golocktest.Env("CRONLOCK_PING_TIMEOUT=0"), "touch", ran); r.Code != exitFailed ||
		!strings.Contains(r.Stderr, "CRONLOCK_PING_TIMEOUT") || cliExists(ran) {
		t.Errorf("CRONLOCK_PING_TIMEOUT=0: exit %d, %q", r.Code, r.Stderr)
	}
}
