package golocktest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/proctest"
)

// Result is how one golock run ended.
type Result struct {
	Code           int // the exit code; -1 when a signal ended golock
	Stdout, Stderr string
	Took           time.Duration // from the start to the exit
}

// Command returns golock with env (see Env) and args, not started.
func Command(t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = env
	return cmd
}

// Run runs golock with env (see Env) and args, and waits for it.
func Run(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	return RunCmd(t, Command(t, env, args...))
}

// RunCmd runs cmd (golock, or a program that runs it) tied to the test binary (see
// proctest.StartTied), collecting its stdout and stderr, and waits for it.
func RunCmd(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := proctest.StartTied(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("cannot run %s: %v", cmd.Path, err)
	}
	return r
}

// Process is a golock process a test started and runs alongside. Its stderr goes to a
// file, so the test can watch it while golock runs.
type Process struct {
	Cmd     *exec.Cmd
	stdout  bytes.Buffer
	errFile string
	start   time.Time
	done    chan struct{} // closed when golock has exited
	end     time.Time
	code    int
}

// Start starts golock with env (see Env) and args, tied to the test binary; it is killed
// at the test's end if still running.
func Start(t testing.TB, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{Cmd: Command(t, env, args...), errFile: filepath.Join(t.TempDir(), "stderr"),
		done: make(chan struct{})}
	errf, err := os.Create(p.errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	p.Cmd.Stdout, p.Cmd.Stderr = &p.stdout, errf
	p.start = time.Now()
	if err := proctest.StartTied(p.Cmd); err != nil {
		t.Fatalf("cannot start golock: %v", err)
	}
	go func() {
		err := p.Cmd.Wait()
		p.end = time.Now()
		p.code = -1
		var exit *exec.ExitError
		switch {
		case err == nil:
			p.code = 0
		case errors.As(err, &exit):
			p.code = exit.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.Cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Done is closed when golock has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// End is when golock exited; it is zero until Done is closed.
func (p *Process) End() time.Time {
	select {
	case <-p.done:
		return p.end
	default:
		return time.Time{}
	}
}

// Stderr is what golock (and its job, which shares it) has written to stderr so far.
func (p *Process) Stderr() string {
	b, _ := os.ReadFile(p.errFile)
	return string(b)
}

// Wait waits for golock to exit, however long it takes, and returns how it ended.
func (p *Process) Wait() Result {
	<-p.done
	return Result{Code: p.code, Stdout: p.stdout.String(), Stderr: p.Stderr(), Took: p.end.Sub(p.start)}
}

// WaitWithin waits up to d for golock to exit and returns how it ended; it fails the test
// when golock still runs after d.
func (p *Process) WaitWithin(t testing.TB, d time.Duration) Result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("golock still running after %v; stderr so far:\n%s", d, p.Stderr())
	}
	return p.Wait()
}

// WaitStderr waits up to d for golock's stderr to hold n lines containing s.
func (p *Process) WaitStderr(t testing.TB, s string, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for strings.Count(p.Stderr(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("golock's stderr has not %d× %q after %v:\n%s", n, s, d, p.Stderr())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
