package main

import (
	"errors"
	"slices"
	"testing"
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
		{args: []string{"--list", "--name", "x"}, err: "--name goes with --status or CRONLOCK_RESET=yes, not --list"},
		{args: []string{"--key", "--name", "x"}, err: "--name goes with --status or CRONLOCK_RESET=yes, not --key"},
		{args: []string{"--status", "--name", "x", "ls"}, err: "--name NAME and a COMMAND both name the lock: give one"},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("parseArgs(%q): %+v, %v; want error %q", tt.args, got, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("parseArgs(%q): %v", tt.args, err)
		case tt.err == "" && (got.mode != tt.want.mode || got.name != tt.want.name || got.json != tt.want.json ||
			!slices.Equal(got.cmd, tt.want.cmd)):
			t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
	if _, err := parseArgs(nil); !errors.Is(err, errNoCommand) {
		t.Errorf("parseArgs(nil): %v, want errNoCommand", err)
	}
}
