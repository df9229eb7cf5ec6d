// Package ptytest runs a command as a session in a real pseudo-terminal, as a user's shell
// runs at a terminal, for tests of what a program does when a terminal is its stdin.
package ptytest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golock/golock/internal/proctest"
)

// Session is a command running with a pseudo-terminal as its controlling terminal and
// as its stdin, stdout and stderr.
type Session struct {
	Cmd    *exec.Cmd
	master *os.File
	lines  chan string
	exited chan struct{}
	err    error // Cmd.Wait's, once exited is closed
}

// Start starts cmd as the leader of a new session whose controlling terminal is a fresh
// pseudo-terminal; the command is killed at the test's end, and dies with the test binary
// (see proctest.StartTied).
func Start(t testing.TB, cmd *exec.Cmd) *Session {
	t.Helper()
	master, slave := open(t)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := proctest.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the command holds it now; the master sees EOF when the command ends
	s := &Session{Cmd: cmd, master: master, lines: make(chan string, 16), exited: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.exited })
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			s.lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return s
}

// Next returns the next line the terminal shows, failing the test after 10 seconds.
func (s *Session) Next(t testing.TB) string {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatal("the terminal closed early")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("nothing on the terminal for 10s")
	}
	return ""
}

// Rest returns every line the terminal shows until it closes (the command and whatever
// it started have ended), failing the test after timeout.
func (s *Session) Rest(t testing.TB, timeout time.Duration) []string {
	t.Helper()
	var lines []string
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return lines
			}
			lines = append(lines, l)
		case <-deadline:
			t.Fatalf("the terminal still open after %v; it showed %q", timeout, lines)
			return nil
		}
	}
}

// Type writes text to the terminal, as if typed.
func (s *Session) Type(t testing.TB, text string) {
	t.Helper()
	if _, err := io.WriteString(s.master, text); err != nil {
		t.Fatal(err)
	}
}

// Wait waits up to timeout for the command to end and returns Cmd.Wait's error.
func (s *Session) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-s.exited:
		return s.err
	case <-time.After(timeout):
		t.Fatalf("still running after %v", timeout)
		return nil
	}
}

// open opens a pseudo-terminal pair; both ends are closed at the test's end.
func open(t testing.TB) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}
