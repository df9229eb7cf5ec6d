package main

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/ptytest"
	"github.com/golock/golock/internal/redistest"
)

// ptyGolock runs the golock binary as the session leader of a real pseudo-terminal, its
// stdin, stdout and stderr, and returns the lines the terminal showed and the exit code.
func ptyGolock(t *testing.T, env []string, args ...string) (lines []string, code int) {
	t.Helper()
	cmd := golocktest.Command(t, env, args...)
	term := ptytest.Start(t, cmd)
	lines = term.Rest(t, 30*time.Second)
	var exit *exec.ExitError
	switch err := term.Wait(t, 10*time.Second); {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return lines, code
}

// TestTerminalLines: at a terminal, golock says in one line that the lock is held elsewhere
// (by whom, since when, until when for a grace hold or a cronlock lock), one line per retry
// of a Redis it cannot reach, and one when it waits for a lock. Through a pipe, as under
// cron, it says none of them.
func TestTerminalLines(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	hhmmss := `(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d`
	down := redistest.FreePort(t) // nothing listens there

	tests := []struct {
		name  string
		env   []string
		setup func(t *testing.T, env []string, name string)
		code  int
		want  []string // a pattern per line at a terminal
		piped int      // lines through a pipe
	}{
		{
			name:  "held",
			setup: func(t *testing.T, _ []string, name string) { cliHold(t, c, name) },
			code:  exitHeld,
			want: []string{`^golock: lock held by elsewhere pid 1 since ` + hhmmss + ` \(\d+s ago\); ` +
				`not running \(exit 200\) lock=cronlock\.term-held$`},
		},
		{
			name: "grace hold",
			env:  []string{"CRONLOCK_GRACE=30"},
			setup: func(t *testing.T, env []string, _ string) {
				cliWantCode(t, golocktest.Run(t, env, "true"), 0) // its job ends; the lock stays 30 s
			},
			code: exitHeld,
			want: []string{`^golock: lock held by \S+ pid \d+ since ` + hhmmss + ` \(\d+s ago\), its job ended; ` +
				`held for grace until ` + hhmmss + ` \(\d+s from now\); not running \(exit 200\) lock=cronlock\.term-grace-hold$`},
		},
		{
			name: "cronlock",
			setup: func(t *testing.T, _ []string, name string) {
				if err := c.Set(t.Context(), name, strconv.FormatInt(time.Now().Unix()+120, 10), 0).Err(); err != nil {
					t.Fatal(err)
				}
			},
			code: exitHeld,
			want: []string{`^golock: lock held by cronlock until ` + hhmmss + ` \((1m\d+|2m0)s from now\); not running \(exit 200\)`},
		},
		{
			name:  "wait",
			env:   []string{"CRONLOCK_WAIT=0.5"},
			setup: func(t *testing.T, _ []string, name string) { cliHold(t, c, name) },
			code:  exitHeld,
			want: []string{
				`^golock: lock held by elsewhere pid 1 since ` + hhmmss + ` \(.*ago\); waiting up to 0\.5 s for it \(CRONLOCK_WAIT\) lock=`,
				`^golock: lock held by elsewhere pid 1 since .*; not running \(exit 200\) lock=`,
			},
		},
		{
			name: "retries",
			env: []string{"CRONLOCK_PORT=" + strconv.Itoa(down), "CRONLOCK_RECONNECT_ATTEMPTS=2",
				"CRONLOCK_RECONNECT_BACKOFF=0.2", "CRONLOCK_REDIS_TIMEOUT=2"},
			code: exitFailed,
			want: []string{
				fmt.Sprintf(`^golock: cannot take the lock at 127\.0\.0\.1:%d; retrying in 0 s, 1 of 2 lock=\S+ err=".*connection refused"$`, down),
				fmt.Sprintf(`^golock: cannot take the lock at 127\.0\.0\.1:%d; retrying in 0\.2 s, 2 of 2 lock=`, down),
				`^golock: cannot take the lock at 127\.0\.0\.1:\d+: .*connection refused; gave up after 2 retries \(CRONLOCK_RECONNECT_ATTEMPTS=2\); nothing ran lock=\S+$`,
			},
			piped: 1, // the error
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "term-" + strings.ReplaceAll(tt.name, " ", "-")
			env := golocktest.Env(append(append(srv.Env(), "CRONLOCK_KEY="+key), tt.env...)...)
			marker := cliPath(t, "ran")
			for _, term := range []bool{true, false} {
				if err := c.FlushAll(t.Context()).Err(); err != nil {
					t.Fatal(err)
				}
				if tt.setup != nil {
					tt.setup(t, env, "cronlock."+key)
				}
				var lines []string
				var code int
				if term {
					lines, code = ptyGolock(t, env, "touch", marker)
				} else {
					r := golocktest.Run(t, env, "touch", marker)
					lines, code = cliLines(r.Stderr), r.Code
				}
				if code != tt.code || cliExists(marker) {
					t.Fatalf("terminal %v: exit %d, job ran %v; want %d and not run; output %q", term, code, cliExists(marker), tt.code, lines)
				}
				if !term {
					if len(lines) != tt.piped {
						t.Errorf("through a pipe: %q, want %d lines", lines, tt.piped)
					}
					continue
				}
				if len(lines) != len(tt.want) {
					t.Fatalf("at a terminal: %q, want %d lines", lines, len(tt.want))
				}
				for i, pat := range tt.want {
					if !regexp.MustCompile(pat).MatchString(lines[i]) {
						t.Errorf("line %d at a terminal: %q, want it to match %s", i+1, lines[i], pat)
					}
				}
				t.Logf("at a terminal: %q", lines)
			}
		})
	}
}
