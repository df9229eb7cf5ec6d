package main

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golock/golock/internal/runner"
	"github.com/golock/golock/internal/status"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want options
		err  string // "" for none
	}{
		{args: []string{"true"}, want: options{cmd: []string{"true"}}},
		{args: []string{"--", "-x", "y"}, want: options{cmd: []string{"-x", "y"}}},
		{args: []string{"sh", "--help"}, want: options{cmd: []string{"sh", "--help"}}},
		{args: []string{"--key", "ls", "-al"}, want: options{mode: "key", cmd: []string{"ls", "-al"}}},
		{args: []string{"--status", "--json", "ls"}, want: options{mode: "status", json: true, cmd: []string{"ls"}}},
		{args: []string{"--json", "--status", "ls"}, want: options{mode: "status", json: true, cmd: []string{"ls"}}},
		{args: []string{"--status", "--name", "cronlock.x"}, want: options{mode: "status", name: "cronlock.x"}},
		{args: []string{"--name=cronlock.x", "--status", "--json"}, want: options{mode: "status", name: "cronlock.x", json: true}},
		{args: []string{"--name", "cronlock.x"}, want: options{name: "cronlock.x"}}, // CRONLOCK_RESET=yes, checked by run
		{args: []string{"--list"}, want: options{mode: "list"}},
		{args: []string{"--list", "--json"}, want: options{mode: "list", json: true}},
		{args: []string{"--doctor"}, want: options{mode: "doctor"}},
		{args: []string{"--help"}, want: options{mode: "help"}},
		{args: []string{"-h", "--bogus"}, want: options{mode: "help"}},
		{args: []string{"--man"}, want: options{mode: "man"}},
		{args: []string{"--version"}, want: options{mode: "version"}},
		{args: []string{"--check", "ls"}, want: options{mode: "check", cmd: []string{"ls"}}},
		{args: []string{"--check", "--max-age", "90m", "ls"}, want: options{mode: "check", maxAge: 90 * time.Minute, cmd: []string{"ls"}}},
		{args: []string{"--max-age=1.5", "--check", "--name", "x"}, want: options{mode: "check", maxAge: 1500 * time.Millisecond, name: "x"}},
		{args: []string{"--check", "--max-age", "2d", "ls"}, want: options{mode: "check", maxAge: 48 * time.Hour, cmd: []string{"ls"}}},

		{args: nil, err: errNoCommand.Error()},
		{args: []string{"--"}, err: errNoCommand.Error()},
		{args: []string{"--bogus"}, err: "unknown option --bogus"},
		{args: []string{"-x", "true"}, err: "unknown option -x"},
		{args: []string{"--key"}, err: "--key needs a COMMAND"},
		{args: []string{"--status"}, err: "--status needs a COMMAND"},
		{args: []string{"--status", "--list"}, err: "--status and --list cannot be combined"},
		{args: []string{"--list", "extra"}, err: "--list takes no COMMAND"},
		{args: []string{"--doctor", "true"}, err: "--doctor takes no COMMAND"},
		{args: []string{"--json", "true"}, err: "--json goes with --status or --list"},
		{args: []string{"--name"}, err: "--name needs a lock name (as --list prints it)"},
		{args: []string{"--name="}, err: "--name needs a lock name (as --list prints it)"},
		{args: []string{"--list", "--name", "x"}, err: "--name goes with --status, --check or CRONLOCK_RESET=yes, not --list"},
		{args: []string{"--key", "--name", "x"}, err: "--name goes with --status, --check or CRONLOCK_RESET=yes, not --key"},
		{args: []string{"--status", "--name", "x", "ls"}, err: "--name NAME and a COMMAND both name the lock: give one"},
		{args: []string{"--check"}, err: "--check needs a COMMAND"},
		{args: []string{"--status", "--max-age", "1", "ls"}, err: "--max-age goes with --check"},
		{args: []string{"--check", "--max-age", "-1", "ls"}, err: "--max-age needs a time: seconds, or a number with s, m, h or d (e.g. 3600, 90m, 25h, 2d)"},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("parseArgs(%q): %+v, %v; want error %q", tt.args, got, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("parseArgs(%q): %v", tt.args, err)
		case tt.err == "" && (got.mode != tt.want.mode || got.name != tt.want.name || got.json != tt.want.json ||
			got.maxAge != tt.want.maxAge || !slices.Equal(got.cmd, tt.want.cmd)):
			t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
	if _, err := parseArgs(nil); !errors.Is(err, errNoCommand) {
		t.Errorf("parseArgs(nil): %v, want errNoCommand", err)
	}
}

func TestParseMaxAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Second, "1.5": 1500 * time.Millisecond,
		"90m": 90 * time.Minute, "25h": 25 * time.Hour, "2d": 48 * time.Hour, "30s": 30 * time.Second} {
		if got, err := parseMaxAge(in); err != nil || got != want {
			t.Errorf("parseMaxAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// One unit, the last character: "1sm" and "2dh" are not times, whatever the map order.
	for _, in := range []string{"", "0", "-1", "1w", "h", "1.5.2m", "soon", "1sm", "2dh", "1ms"} {
		for range 20 {
			if _, err := parseMaxAge(in); err == nil {
				t.Fatalf("parseMaxAge(%q): no error", in)
			}
		}
	}
}

// The names the CLI tests use for golock's exit codes and its --status output.
const (
	exitHeld    = runner.ExitHeld
	exitFailed  = runner.ExitFailed
	exitTimeout = runner.ExitTimeout
)

type statusJSON = status.LockJSON

func iso(t time.Time) string { return status.ISO(t) }

// killMargin is how long before a lost lease's end its job gets SIGKILL (package heartbeat).
const killMargin = 100 * time.Millisecond
