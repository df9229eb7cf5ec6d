package main

import (
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/redistest"
)

// silentServer accepts connections and never answers, but for the first answered ones,
// to which it says 200 OK; it counts them.
func silentServer(t *testing.T, answered int32) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			if accepted.Add(1) <= answered {
				go func() {
					buf := make([]byte, 4096)
					_, _ = c.Read(buf)
					_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
				}()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/check", &accepted
}

// TestPingSignals: a signal ends a ping's wait at once. During the start ping nothing runs
// and golock exits 201, as for a signal during the acquire; during the end ping golock
// exits at once with the run's code. Both pings wait up to PING_TIMEOUT 20 s otherwise.
func TestPingSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	url, accepted := silentServer(t, 0)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_PING_URL="+url, "CRONLOCK_PING_TIMEOUT=20")...)
	signalWhen := func(t *testing.T, g *golocktest.Process, pings int32) time.Time {
		t.Helper()
		if !redistest.Poll(10*time.Second, func() bool {
			return accepted.Load() >= pings && proctest.Catches(g.Cmd.Process.Pid, syscall.SIGTERM)
		}) {
			t.Fatal("golock never reached the ping")
		}
		time.Sleep(100 * time.Millisecond)
		if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}

	marker := filepath.Join(t.TempDir(), "ran")
	g := golocktest.Start(t, append(env, "CRONLOCK_KEY=ping-start"), "touch", marker)
	sent := signalWhen(t, g, accepted.Load()+1)
	r := g.WaitWithin(t, 5*time.Second)
	if took := g.End().Sub(sent); r.Code != exitFailed || took > time.Second {
		t.Errorf("SIGTERM during the start ping: exit %d after %v, want %d at once; stderr:\n%s", r.Code, took, exitFailed, r.Stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the job ran after a SIGTERM during the start ping")
	}
	if n := srv.Client().Exists(t.Context(), "cronlock.ping-start").Val(); n != 0 {
		t.Error("the lock was not given back")
	}

	// The end ping: a server that answers the start ping, then nothing.
	url, accepted = silentServer(t, 1)
	env = golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0", "CRONLOCK_PING_URL="+url, "CRONLOCK_PING_TIMEOUT=20")...)
	g = golocktest.Start(t, append(env, "CRONLOCK_KEY=ping-end"), "sh", "-c", "exit 3")
	sent = signalWhen(t, g, 2)
	r = g.WaitWithin(t, 5*time.Second)
	if took := g.End().Sub(sent); r.Code != 3 || took > time.Second {
		t.Errorf("SIGTERM during the end ping: exit %d after %v, want the run's 3 at once; stderr:\n%s", r.Code, took, r.Stderr)
	}
}
