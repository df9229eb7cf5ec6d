// Command golock runs a command under a lock in Redis, so that a crontab line deployed on
// many servers runs its job once across the fleet and never on top of itself. It is a
// drop-in replacement for cronlock: the same lock names, CRONLOCK_* variables, config
// files and exit codes.
//
// Usage:
//
//	golock [--] COMMAND [ARG...]              run COMMAND under its lock
//	golock --key COMMAND [ARG...]             print the lock's name
//	golock --status [--json] COMMAND [ARG...] who holds the lock, and its last run
//	golock --status [--json] --name NAME      the same, for a lock named as --list prints it
//	golock --list [--held] [--json]           every lock with a record, or the held ones
//	golock --check [--max-age D] (COMMAND... | --name NAME)   a Nagios/Icinga check
//	golock --held [--min-left S]              inside a job: does it still hold its lock?
//	golock --doctor | --help | --man | --version
//
// The manual is internal/manual/golock.md: --help prints it for a terminal, --man as the
// man page golock(1).
//
// This package is wiring only: it parses the arguments into a mode and calls the one
// function that does that mode (package runner runs a command under its lock).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/golock/golock/internal/check"
	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/doctor"
	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/internal/manual"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/runner"
	"github.com/golock/golock/internal/status"
	"github.com/golock/golock/internal/version"
	"github.com/golock/golock/lockscript"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// hintHelp follows every line about a misused option.
const hintHelp = "try golock --help"

// run is the whole command: it returns golock's exit code.
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args)
	switch {
	case err != nil && slices.Contains(args, "--check"):
		// A monitoring plugin says everything on one line of stdout, misuse too.
		return plugin(stdout, check.Unusable("golock: "+err.Error()))
	case errors.Is(err, errNoCommand):
		fmt.Fprint(stderr, manual.Usage())
		fmt.Fprintln(stderr, hintHelp)
		return runner.ExitFailed
	case err != nil:
		fmt.Fprintln(stderr, "golock: "+err.Error())
		fmt.Fprintln(stderr, hintHelp)
		return runner.ExitFailed
	}
	switch opts.mode {
	case modeHelp:
		fmt.Fprint(stdout, manual.Help())
		return 0
	case modeMan:
		fmt.Fprint(stdout, manual.Roff(version.String()))
		return 0
	case modeVersion:
		fmt.Fprintln(stdout, version.Line("golock"))
		return 0
	case modeDoctor:
		return doctor.Run(ctx, doctor.Options{Environ: environ, Argv0: os.Args[0], Out: stdout})
	}

	var sigs *runner.Signals
	if opts.mode == modeRun { // a job may run: catch its signals beside the start
		sigs = runner.CatchSignals()
	}
	cfg, log, err := load(environ, stderr, opts.mode != modeCheck)
	switch {
	case err != nil && opts.mode == modeCheck:
		return plugin(stdout, check.Unusable(err.Error()))
	case err != nil:
		return runner.ExitFailed
	}
	if opts.mode == modeRun && opts.name != "" && !cfg.Reset {
		fmt.Fprintln(stderr, "golock: --name without --status needs CRONLOCK_RESET=yes (golock runs a COMMAND, not a name)")
		fmt.Fprintln(stderr, hintHelp)
		return runner.ExitFailed
	}
	name := lockscript.Name(cfg.Prefix, cfg.Key, opts.cmd)
	if opts.name != "" {
		name = opts.name
	}
	if opts.mode == modeKey {
		fmt.Fprintln(stdout, name)
		return 0
	}
	// Not closed: golock exits when run returns, and closing costs a run a few hundred
	// microseconds of start-up-sized work (the connection, the pool's goroutines).
	client := redisclient.Connect(cfg)
	tty := isTerminal(stderr)
	switch opts.mode {
	case modeStatus:
		return status.Show(ctx, cfg, log, client, []string{name}, opts.json, stdout)
	case modeList:
		return status.List(ctx, cfg, log, client, opts.heldOnly, opts.json, stdout)
	case modeCheck:
		return status.Check(ctx, cfg, client, name, opts.maxAge, stdout)
	case modeHeld:
		return runner.Held(ctx, cfg, log, client, environ, opts.minLeft, cfg.Verbose || tty)
	}
	log = log.With("lock", name)
	if cfg.Reset {
		return runner.Reset(ctx, cfg, log, client, name, tty)
	}
	return runner.Run(ctx, runner.Job{Config: cfg, Log: log, Client: client, Name: name, Args: opts.cmd,
		Environ: environ, Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty, Signals: sigs})
}

// plugin prints r as a monitoring plugin does and returns its code.
func plugin(stdout io.Writer, r check.Result) int {
	fmt.Fprintln(stdout, r)
	return r.Code
}

// load reads the settings and makes the logger. A bad setting is the error, said on stderr
// in one line when say is set.
func load(environ []string, stderr io.Writer, say bool) (*config.Config, *slog.Logger, error) {
	cfg, warnings, err := config.Load(environ, os.Args[0])
	format, verbose := "text", false
	if slices.Contains(environ, "CRONLOCK_LOG_FORMAT=json") {
		format = "json" // for a line about settings that could not be read
	}
	if cfg != nil {
		format, verbose = cfg.LogFormat, cfg.Verbose
	}
	log := logging.New(stderr, format, verbose)
	for _, w := range warnings {
		log.Warn(w)
	}
	if err != nil {
		if say {
			log.Error(err.Error())
		}
		return nil, nil, err
	}
	// Advice on the config file's permissions is for someone watching, not for cron's mail.
	if cfg.FileProblem != "" && (cfg.Verbose || isTerminal(stderr)) {
		log.Warn(cfg.FileProblem)
	}
	if cfg.NTPDate != "" {
		log.Debug("CRONLOCK_NTPDATE is ignored: every time golock compares comes from Redis")
	}
	for _, v := range cfg.Overridden { // never the values: one may be a password
		log.Debug(v+" in the environment is replaced by the config file's (the file wins, as in cronlock)", "file", cfg.File)
	}
	return cfg, log, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
