// Command soakprog is tools/soak: it runs a fleet of golocks against a Redis it owns for
// a while, injects real faults, then judges what the jobs logged.
//
//	soakprog [--duration D] [--golock PATH] [--config aof|nopersist|sentinel|sentinel-wait|limit3]
//	         [--hosts N] [--locks N] [--seed N] [--keep DIR]
//	soakprog --rejudge DIR [--duration D] [--config NAME]
//
// Each simulated host starts golock on one of a few locks with a job of 0.1 s to
// 2 × LEASE that logs its start (with CRONLOCK_FENCE), ticks and end on CLOCK_MONOTONIC,
// waits for it, pauses a moment and starts again. Meanwhile faults come at random times:
// golock stopped (SIGSTOP, then SIGCONT), the network to Redis blackholed, reset or slowed,
// redis-server killed with SIGKILL and started again, CLIENT PAUSE, DEBUG SLEEP, and with
// Sentinel the master killed so that a replica takes over. Afterwards the judge counts
// overlaps (more than LIMIT jobs of a lock at once), fences out of order, hangs (runs
// longer than the settings allow), needless kills (a job stopped with no fault near, or
// before its first renewal was due) and exit codes nobody explains. It prints the counts,
// the worst examples and, last, one summary line; it exits 1 on any finding, 2 when it
// could not run.
//
// --golock takes any program with golock's command line, e.g. a wrapper that runs the
// command without a lock (which the soak must fail). Without it, soakprog builds
// ./cmd/golock. It never reads /etc/cronlock.conf: golock gets an empty config file.
// --keep DIR keeps the jobs' log, the driver's runs.log and faults.log and the Redis files;
// --rejudge DIR judges such a directory again without running anything.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == jobCommand {
		os.Exit(jobMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// jobCommand is the hidden first argument that makes soakprog the job golock runs.
const jobCommand = "soak-job"

// run is the whole soak; it returns the exit code: 0 nothing found, 1 findings, 2 could
// not run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 2
	}
	var res *result
	if opts.rejudge != "" {
		res, err = load(opts.rejudge, opts)
	} else {
		res, err = soak(ctx, opts, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 2
	}
	v := judge(res)
	v.print(stdout)
	if v.findings() > 0 {
		return 1
	}
	return 0
}
