package ping_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golock/golock/internal/ping"
)

// TestSend pings a real HTTP server on 127.0.0.1: the path, the run id beside a query the
// URL had already, basic auth from the URL, the User-Agent, and a non-2xx as an error.
func TestSend(t *testing.T) {
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r)
		if strings.HasSuffix(r.URL.Path, "/9") {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/p/slug?create=1"
	p, err := ping.New(u, "rid-1", 2*time.Second, "golock/test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Exit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Exit(ctx, 9); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v, want an error saying so", err)
	}
	want := []string{"/p/slug/start", "/p/slug", "/p/slug/9"}
	for i, r := range got {
		user, pw, _ := r.BasicAuth()
		if r.Method != "POST" || r.URL.Path != want[i] || r.URL.Query().Get("rid") != "rid-1" ||
			r.URL.Query().Get("create") != "1" || user != "user" || pw != "pw" || r.UserAgent() != "golock/test" {
			t.Errorf("ping %d: %s %s auth %s:%s agent %q; want POST %s?create=1&rid=rid-1 as user:pw", i, r.Method,
				r.URL, user, pw, r.UserAgent(), want[i])
		}
	}
	if len(got) != 3 {
		t.Errorf("%d pings, want 3", len(got))
	}
}

// TestTLSVerified: an https:// server whose certificate the system does not trust fails
// the ping (verification is on); a good one answers.
func TestTLSVerified(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	p, err := ping.New(srv.URL+"/x", "r", 2*time.Second, "golock/test")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, want a verification error", err)
	}
}

// streamer is a server on 127.0.0.1 that answers every connection with bytes and never a
// line break, as fast as it can, until the client goes. It returns the URL and how many
// bytes it managed to send.
func streamer(t *testing.T) (string, func() int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var sent atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// One buffer, written again and again: the test counts the process's
				// allocations, and this server's must not be among them.
				n, err := io.WriteString(c, "HTTP/1.1 200 ")
				sent.Add(int64(n))
				buf := []byte(strings.Repeat("x", 64<<10))
				for err == nil {
					n, err = c.Write(buf)
					sent.Add(int64(n))
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/p", sent.Load
}

// TestBounded: a ping reads no more than its status line may take, and ends at once on a
// cancel: a server that streams without a line break neither grows golock nor holds it.
func TestBounded(t *testing.T) {
	u, _ := streamer(t)
	p, err := ping.New(u, "r", 5*time.Second, "golock/test")
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err = p.Start(context.Background())
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("measured: a ping to a server streaming without a line break ended in %v, %d kB allocated",
		took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10)
	if err == nil || took > time.Second {
		t.Errorf("ping of a streaming server: %v after %v, want an error at once (the status line is capped)", err, took)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Errorf("the ping allocated %d kB, want well under 1 MB", grown>>10)
	}

	// A server that says nothing: the ping ends when its context is cancelled, not at its timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p, err = ping.New("http://"+silent.Addr().String()+"/p", "r", time.Minute, "golock/test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	err = p.Start(ctx)
	if took := time.Since(start); err == nil || took > time.Second {
		t.Errorf("a cancelled ping to a silent server: %v after %v, want it ended at the cancel (0.1 s)", err, took)
	}
}
