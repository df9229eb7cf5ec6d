package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golock/golock/internal/config"
)

// mode is what golock was asked to do.
type mode string

const (
	modeRun     mode = ""        // run COMMAND under its lock (or reset it, under CRONLOCK_RESET)
	modeHelp    mode = "help"    // --help: the manual for a terminal
	modeMan     mode = "man"     // --man: the man page
	modeVersion mode = "version" // --version
	modeDoctor  mode = "doctor"  // --doctor: what golock would use, and whether it works
	modeKey     mode = "key"     // --key: the lock's name
	modeStatus  mode = "status"  // --status: the lock's holder and last run
	modeList    mode = "list"    // --list: every lock under the prefix
	modeCheck   mode = "check"   // --check: a Nagios/Icinga plugin
	modeHeld    mode = "held"    // --held: inside a job, does it still hold its lock?
)

// options are golock's own command-line options.
type options struct {
	mode mode
	// name is --name NAME: the lock's full name, for --status, --check and
	// CRONLOCK_RESET in place of a command; "" when not given.
	name string
	json bool     // --json, with --status or --list
	cmd  []string // COMMAND [ARG...]; nil when none was given
	// maxAge is --max-age D, with --check: the oldest a last success may be, and the
	// longest a holder may hold the lock; zero when not given (neither is judged).
	maxAge time.Duration
	// heldOnly is --held with --list: only the locks held now.
	heldOnly bool
	// minLeft is --min-left S, with --held: the lease that must be left; 0 when not given.
	minLeft time.Duration
}

// errNoCommand is parseArgs' error when golock is given nothing to do.
var errNoCommand = errors.New("no COMMAND given")

// parseArgs splits golock's own options from the command. Its errors name the option at
// fault, for one line on stderr.
func parseArgs(args []string) (options, error) {
	var o options
	setMode := func(m mode) error {
		if o.mode != modeRun {
			return fmt.Errorf("--%s and --%s cannot be combined", o.mode, m)
		}
		o.mode = m
		return nil
	}
	for i := 0; i < len(args) && o.cmd == nil; i++ {
		a := args[i]
		switch {
		case a == "--":
			o.cmd = args[i+1:]
		case a == "-h" || a == "--help":
			return options{mode: "help"}, nil
		case a == "--version" || a == "--man":
			return options{mode: mode(strings.TrimPrefix(a, "--"))}, nil
		case a == "--key" || a == "--status" || a == "--list" || a == "--doctor" || a == "--check":
			if err := setMode(mode(strings.TrimPrefix(a, "--"))); err != nil {
				return options{}, err
			}
		case a == "--json":
			o.json = true
		case a == "--held" && (o.mode == modeList || slices.Contains(args[i+1:], "--list")):
			o.heldOnly = true // --list --held: the held locks only
		case a == "--held":
			if err := setMode(modeHeld); err != nil {
				return options{}, err
			}
		case a == "--min-left" || strings.HasPrefix(a, "--min-left="):
			v, ok := strings.CutPrefix(a, "--min-left=")
			if !ok && i+1 < len(args) {
				i++
				v, ok = args[i], true
			}
			d, err := config.ParseSeconds(v)
			if !ok || err != nil {
				return options{}, errors.New("--min-left needs a number of seconds, 0 or more")
			}
			o.minLeft = d
		case a == "--name" || strings.HasPrefix(a, "--name="):
			v, ok := strings.CutPrefix(a, "--name=")
			if !ok {
				if i+1 == len(args) {
					return options{}, errors.New("--name needs a lock name (as --list prints it)")
				}
				i++
				v = args[i]
			}
			if v == "" {
				return options{}, errors.New("--name needs a lock name (as --list prints it)")
			}
			o.name = v
		case a == "--max-age" || strings.HasPrefix(a, "--max-age="):
			v, ok := strings.CutPrefix(a, "--max-age=")
			if !ok && i+1 < len(args) {
				i++
				v = args[i]
			}
			d, err := parseMaxAge(v)
			if err != nil {
				return options{}, err
			}
			o.maxAge = d
		case strings.HasPrefix(a, "-"):
			return options{}, fmt.Errorf("unknown option %s", a)
		default:
			o.cmd = args[i:]
		}
	}
	if len(o.cmd) == 0 {
		o.cmd = nil // "--" alone names no command
	}
	switch {
	case o.json && o.mode != modeStatus && o.mode != modeList:
		return options{}, errors.New("--json goes with --status or --list")
	case o.name != "" && o.mode != modeRun && o.mode != modeStatus && o.mode != modeCheck:
		return options{}, fmt.Errorf("--name goes with --status, --check or CRONLOCK_RESET=yes, not --%s", o.mode)
	case o.maxAge != 0 && o.mode != modeCheck:
		return options{}, errors.New("--max-age goes with --check")
	case o.name != "" && o.cmd != nil:
		return options{}, errors.New("--name NAME and a COMMAND both name the lock: give one")
	case o.minLeft > 0 && o.mode != modeHeld:
		return options{}, errors.New("--min-left goes with --held")
	case (o.mode == modeList || o.mode == modeDoctor || o.mode == modeHeld) && o.cmd != nil:
		return options{}, fmt.Errorf("--%s takes no COMMAND", o.mode)
	case (o.mode == modeKey || o.mode == modeStatus || o.mode == modeCheck) && o.cmd == nil && o.name == "":
		return options{}, fmt.Errorf("--%s needs a COMMAND", o.mode)
	case o.mode == modeRun && o.cmd == nil && o.name == "":
		return options{}, errNoCommand
	}
	return o, nil
}

// parseMaxAge reads --max-age: seconds (fractions allowed), or a number with one unit, s,
// m, h or d ("90m", "25h", "2d"). It must be more than 0.
func parseMaxAge(s string) (time.Duration, error) {
	bad := errors.New("--max-age needs a time: seconds, or a number with s, m, h or d (e.g. 3600, 90m, 25h, 2d)")
	unit := time.Second
	if n := len(s); n > 0 {
		if u, ok := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[n-1]]; ok {
			s, unit = s[:n-1], u
		}
	}
	secs, err := config.ParseSeconds(s)
	d := time.Duration(secs.Seconds() * float64(unit))
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}
