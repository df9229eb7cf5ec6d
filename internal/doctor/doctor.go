// Package doctor is golock --doctor: it says what golock would use and whether it works,
// one line each, and flags the Redis settings that can make a lock vanish without a word.
// It reads the config and the server and changes nothing: every command it sends to Redis
// is a read (PING, INFO, CONFIG GET, SCRIPT EXISTS, SCAN and GET of the locks under
// CRONLOCK_PREFIX, CLUSTER INFO, SENTINEL MASTER and CKQUORUM), each tried once and bounded
// by CRONLOCK_REDIS_TIMEOUT.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/internal/redisclient"
)

// Exit codes of Run.
const (
	ExitOK        = 0   // nothing wrong found
	ExitProblem   = 1   // a check failed: see the lines marked FAIL
	ExitBadConfig = 201 // the settings cannot be read or are invalid, as for any golock run
)

// Options are what Run needs from golock.
type Options struct {
	Environ []string  // KEY=value strings, as config.Load takes them
	Argv0   string    // golock's os.Args[0], as config.Load takes it
	Out     io.Writer // the report
}

// Marks that start each line of the report. Only FAIL makes Run's exit code nonzero.
const (
	markOK      = "ok"
	markFail    = "FAIL"
	markNote    = "note"    // worth knowing; not a problem now
	markUnknown = "unknown" // the server would not say (CONFIG refused on a managed Redis)
	markUsing   = "using"   // a setting in effect
)

// report writes the lines and counts the failures.
type report struct {
	w        io.Writer
	failures int
}

func (r *report) line(mark, format string, args ...any) {
	if mark == markFail {
		r.failures++
	}
	fmt.Fprintf(r.w, "%-8s%s\n", mark, logging.OneLine(fmt.Sprintf(format, args...)))
}

// Run checks the config and the Redis golock would use, writes one line per finding and
// returns ExitOK, ExitProblem or ExitBadConfig.
func Run(ctx context.Context, o Options) int {
	r := &report{w: o.Out}
	cfg := checkConfig(r, o.Environ, o.Argv0)
	if cfg == nil {
		return ExitBadConfig
	}
	client := redisclient.Connect(cfg)
	defer client.Close()
	checkServer(ctx, r, cfg, client)
	if r.failures > 0 {
		fmt.Fprintf(o.Out, "%d problem(s) found\n", r.failures)
		return ExitProblem
	}
	return ExitOK
}

// checkConfig reports the config files searched and read and the effective settings; it
// returns nil when they cannot be used.
func checkConfig(r *report, environ []string, argv0 string) *config.Config {
	files, explicit := config.SearchPath(environ, argv0)
	file := "" // the one Load reads
	switch {
	case explicit:
		file = files[0] // said below, once Load has said whether it can be read
	default:
		for _, f := range files {
			fi, err := os.Stat(f)
			switch {
			case err == nil && fi.Mode().IsRegular():
				r.line(markOK, "config file %s: found; read", f)
				file = f
			case err == nil:
				r.line(markNote, "config file %s: not a regular file; skipped", f)
			default:
				r.line(markOK, "config file %s: not there", f)
			}
			if file != "" {
				break
			}
		}
		if file == "" {
			r.line(markOK, "no config file: settings from the environment and the defaults only")
		}
	}
	cfg, warnings, err := config.Load(environ, argv0)
	var bad *config.Problem
	unreadable := errors.As(err, &bad) && bad.Var == "CRONLOCK_CONFIG"
	if explicit && !unreadable {
		r.line(markOK, "config file %s (CRONLOCK_CONFIG names it)", file)
	}
	if unreadable {
		file = "" // nothing was read: no permissions to judge
	}
	for _, w := range warnings {
		r.line(markFail, "%s", w)
	}
	// A run shows this only at a terminal or under VERBOSE: cron would mail it every time.
	if problem := filePermissions(cfg, file); problem != "" {
		r.line(markFail, "%s", problem)
	} else if file != "" && err == nil {
		r.line(markOK, "config file %s: permissions fine", file)
	}
	if err != nil {
		r.line(markFail, "%v; nothing would run (exit 201)", err)
		return nil
	}
	for _, s := range settings(cfg, environ) {
		r.line(markUsing, "%s", s)
	}
	return cfg
}

// filePermissions is what is wrong with the permissions of the config file, "" when
// nothing is (or there is no file).
func filePermissions(cfg *config.Config, file string) string {
	switch {
	case cfg != nil:
		return cfg.FileProblem
	case file != "":
		return config.FilePermissionProblem(file)
	}
	return ""
}
