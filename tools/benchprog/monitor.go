package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// commandCount is what monitor prints: the Redis commands each run sent, in order.
type commandCount struct {
	Runs     int        `json:"runs"`
	Commands [][]string `json:"commands"` // per run, lower-case command names
}

// monitor runs a command -runs times while a MONITOR connection watches the server, and
// prints as JSON the commands each run sent. Commands that scripts run inside the server
// (MONITOR tags them "lua") are not the run's own and are left out. After each run an ECHO
// on a second connection marks its end in the stream, so no command is counted twice or
// missed.
func monitor(args []string) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	addr := fs.String("addr", "", "the Redis server, `host:port`")
	runs := fs.Int("runs", 5, "runs of the command")
	code := fs.Int("code", 0, "the exit code each run must have")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || fs.NArg() == 0 {
		return errors.New("usage: monitor -addr HOST:PORT [-runs N] [-code C] COMMAND [ARG...]")
	}
	watch, err := dial(*addr)
	if err != nil {
		return err
	}
	defer watch.conn.Close()
	if reply, err := watch.do("MONITOR"); err != nil || reply != "+OK" {
		return fmt.Errorf("MONITOR: %q %v", reply, err)
	}
	mark, err := dial(*addr)
	if err != nil {
		return err
	}
	defer mark.conn.Close()
	// A first marker, so that whatever came before is skipped.
	if _, err := watch.until(mark, "start"); err != nil {
		return err
	}
	count := commandCount{Runs: *runs}
	for n := range *runs {
		cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return fmt.Errorf("run %d: %w", n+1, err)
		}
		if got := cmd.ProcessState.ExitCode(); got != *code {
			return fmt.Errorf("run %d: exit %d, want %d", n+1, got, *code)
		}
		sent, err := watch.until(mark, fmt.Sprint("run-", n))
		if err != nil {
			return err
		}
		count.Commands = append(count.Commands, sent)
	}
	return json.NewEncoder(os.Stdout).Encode(count)
}

// redisConn is a bare RESP connection: the MONITOR stream is plain lines.
type redisConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(addr string) (*redisConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &redisConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

// do sends a command and returns the first line of its reply.
func (c *redisConn) do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return c.line()
}

func (c *redisConn) line() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := c.r.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

// until sends a marker ECHO on mark and reads the MONITOR stream up to it, returning the
// names of the commands seen before it that were sent by clients (not by scripts) other
// than mark.
func (c *redisConn) until(mark *redisConn, name string) ([]string, error) {
	marker := "golock-bench-marker-" + name
	if _, err := mark.do("ECHO", marker); err != nil {
		return nil, err
	}
	markAddr := mark.conn.LocalAddr().String()
	var sent []string
	for {
		s, err := c.line()
		if err != nil {
			return nil, fmt.Errorf("reading MONITOR: %w", err)
		}
		// +1700000000.123456 [0 127.0.0.1:5555] "evalsha" "..." ; scripts' own: [0 lua]
		client, rest, ok := monitorLine(s)
		if !ok {
			return nil, fmt.Errorf("unexpected MONITOR line %q", s)
		}
		if client == markAddr {
			if strings.Contains(rest, marker) {
				return sent, nil
			}
			continue
		}
		if client == "lua" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(rest, `"`), `"`)
		sent = append(sent, strings.ToLower(name))
	}
}

// monitorLine splits a MONITOR line into the client (its address, or "lua") and the
// quoted command.
func monitorLine(s string) (client, rest string, ok bool) {
	_, after, ok1 := strings.Cut(s, " [")
	inside, rest, ok2 := strings.Cut(after, "] ")
	_, client, ok3 := strings.Cut(inside, " ")
	return client, rest, ok1 && ok2 && ok3
}
