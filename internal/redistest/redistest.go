// Package redistest starts real redis-server processes on free ports for tests, and a TCP
// proxy that can cut or blackhole the connection to one. A missing redis-server fails the
// test loudly: it is never skipped.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/freeport"
	"github.com/golock/golock/internal/proctest"
)

// Server is one redis-server process the test owns; it is stopped at the test's end.
type Server struct {
	Port     int
	Password string // empty: none
	t        testing.TB
	args     []string
	env      []string // added to the server's environment
	certs    *Certs   // with WithTLS
	tlsArgs  []string // with WithTLS
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Option changes how a Server starts.
type Option func(*Server)

// WithPassword makes the server require a password (requirepass).
func WithPassword(pw string) Option { return func(s *Server) { s.Password = pw } }

// WithArgs adds redis-server command-line arguments, e.g. "--replicaof", "127.0.0.1 6379".
func WithArgs(args ...string) Option { return func(s *Server) { s.args = append(s.args, args...) } }

// Binary returns the path of redis-server, failing the test when it is missing.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found in PATH: these tests need a real Redis (apt-get install redis-server)")
	}
	return path
}

// Start starts a redis-server without persistence on a free port and waits until it
// answers PING. Like every server this package starts, it dies with the test binary (see
// proctest.StartTied), so a run that times out or is killed leaves none behind.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t}
	for _, o := range opts {
		o(s)
	}
	var err error
	for range 5 { // a free port can be taken between finding it and binding it
		s.Port = FreePort(t)
		if err = s.start(); err == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: cannot start redis-server: %v", err)
	return nil
}

func (s *Server) start() error {
	args := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--protected-mode", "no", "--dir", s.t.TempDir()}
	if s.certs != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.Port))
		args = append(args, s.tlsArgs...)
	}
	if s.Password != "" {
		args = append(args, "--requirepass", s.Password)
	}
	args = append(args, s.args...)
	cmd := exec.Command(Binary(s.t), args...)
	if s.env != nil {
		cmd.Env = append(os.Environ(), s.env...)
	}
	return launch(s, cmd)
}

// launch starts cmd, tied to the test binary, as the process of srv and waits until srv
// answers PING.
func launch(srv *Server, cmd *exec.Cmd) error {
	srv.cmd = cmd
	if err := proctest.StartTied(cmd); err != nil {
		return err
	}
	srv.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(cmd, srv.exited)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-srv.exited:
			return fmt.Errorf("%s on port %d exited at start", strings.Join(cmd.Args, " "), srv.Port)
		default:
		}
		if srv.ping() == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Kill()
	return fmt.Errorf("%s on port %d did not answer PING", strings.Join(cmd.Args, " "), srv.Port)
}

func (s *Server) ping() error {
	c := redis.NewClient(s.options())
	defer c.Close()
	return c.Ping(context.Background()).Err()
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

func (s *Server) options() *redis.Options {
	o := &redis.Options{Addr: s.Addr(), Password: s.Password, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second}
	if s.certs != nil {
		o.TLSConfig = s.certs.TLSConfig(s.t)
	}
	return o
}

// Client returns a client of the server, closed at the test's end.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(s.options())
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Env returns CRONLOCK_HOST, CRONLOCK_PORT and, with a password, CRONLOCK_AUTH for golock.
func (s *Server) Env() []string {
	env := []string{"CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT=" + strconv.Itoa(s.Port)}
	if s.Password != "" {
		env = append(env, "CRONLOCK_AUTH="+s.Password)
	}
	if s.certs != nil {
		env = append(env, "CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT="+s.certs.CA,
			"CRONLOCK_TLS_CERT="+s.certs.ClientCert, "CRONLOCK_TLS_KEY="+s.certs.ClientKey)
	}
	return env
}

// Kill stops the server with SIGKILL (resuming it first if paused) and waits for it.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Restart kills the server and starts it again, empty, on the same port: Redis lost its
// data, as after a restart without persistence.
func (s *Server) Restart() {
	s.t.Helper()
	s.RestartAfter(0)
}

// RestartAfter kills the server, leaves it down for d (connections refused), and starts it
// again, empty, on the same port.
func (s *Server) RestartAfter(d time.Duration) {
	s.t.Helper()
	s.Kill()
	time.Sleep(d)
	s.Relaunch()
}

// Relaunch starts a server that Kill stopped again, empty, on the same port, and waits
// until it answers PING.
func (s *Server) Relaunch() {
	s.t.Helper()
	var err error
	for range 50 { // the port may linger a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: cannot restart redis-server on port %d: %v", s.Port, err)
}

// Pause stops the server with SIGSTOP: it keeps accepting connections but never answers.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// StartAt starts a redis-server without persistence on port, which the test chose, and
// waits until it answers PING.
func StartAt(t testing.TB, port int, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, Port: port}
	for _, o := range opts {
		o(s)
	}
	if err := s.start(); err != nil {
		t.Fatalf("redistest: cannot start redis-server on port %d: %v", port, err)
	}
	t.Cleanup(s.Kill)
	return s
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, below the
// ephemeral range (see package freeport): no test's outgoing connection can take it.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return port
}

// Poll calls cond every 20 ms until it is true or timeout has passed; it reports whether
// cond came true.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
