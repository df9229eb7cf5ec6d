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
//	golock --list [--json]                    every lock under CRONLOCK_PREFIX
//	golock --check [--max-age D] (COMMAND... | --name NAME)   a Nagios/Icinga check
//	golock --held [--min-left S]              inside a job: does it still hold its lock?
//	golock --doctor | --help | --man | --version
//
// The manual is internal/manual/golock.md: --help prints it for a terminal, --man as the
// man page golock(1).
//
// golock takes the lock named CRONLOCK_PREFIX + CRONLOCK_KEY (by default the MD5 of the
// command line, as cronlock makes it). If another owner holds it, golock exits 200 at once
// and runs nothing. Otherwise it runs COMMAND as its child in its own process group,
// renews the lock's lease every CRONLOCK_LEASE/3 seconds while it runs, and when it ends
// releases the lock (held at least CRONLOCK_GRACE seconds from acquisition) and exits with
// its code.
//
// Exit codes: below 200, the command's own (128+N for signal N, 127 not found, 126 not
// executable); 200 the lock is held elsewhere, or a reset succeeded; 201 golock failed
// (configuration, Redis, or the lock was lost); 202 the command was killed by
// CRONLOCK_TIMEOUT.
//
// Settings come from CRONLOCK_* environment variables and a config file, whose
// assignments win as in cronlock: the file named by CRONLOCK_CONFIG, else cronlock.conf
// beside the executable, else /etc/cronlock.conf; the manual lists them all.
package main

import (
	"context"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// No runtime.GOMAXPROCS(1) here: it stops the world to resize (0.18 ms of a 5 ms run),
	// and a second processor lets the signal set-up run beside the acquire.
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
