package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// mono is CLOCK_MONOTONIC in nanoseconds: one clock that the driver and every job read
// alike (Go's own monotonic readings cannot be compared across processes).
func mono() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// tickEvery is how often a job says it still runs. A job killed without a word (SIGKILL)
// is taken to have ended one tick after its last.
const tickEvery = 25 * time.Millisecond

// jobMain is the job golock runs: soakprog soak-job RUN LOCK MILLISECONDS IGNORE-TERM LOG.
// It appends to LOG, one line per write (O_APPEND keeps lines whole):
//
//	start RUN LOCK FENCE MONO PID
//	tick RUN MONO          every tickEvery
//	term RUN MONO          on SIGTERM (then exits 143, unless IGNORE-TERM is 1)
//	end RUN MONO           after MILLISECONDS (exit 0)
//
// FENCE is CRONLOCK_FENCE, "-" when golock gave none.
func jobMain(args []string) int {
	if len(args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: soakprog soak-job RUN LOCK MILLISECONDS IGNORE-TERM LOG")
		return 2
	}
	run, lock := args[0], args[1]
	ms, err := strconv.Atoi(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak-job:", err)
		return 2
	}
	ignoreTerm := args[3] == "1"
	f, err := os.OpenFile(args[4], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak-job:", err)
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	say := func(format string, a ...any) {
		_, _ = f.Write(fmt.Appendf(nil, format+"\n", a...))
	}
	fence := os.Getenv("CRONLOCK_FENCE")
	if fence == "" {
		fence = "-"
	}
	start := mono()
	say("start %s %s %s %d %d", run, lock, fence, start, os.Getpid())
	end := time.NewTimer(time.Duration(ms) * time.Millisecond)
	tick := time.NewTicker(tickEvery)
	for {
		select {
		case <-tick.C:
			say("tick %s %d", run, mono())
		case <-term:
			say("term %s %d", run, mono())
			if !ignoreTerm {
				return 143
			}
		case <-end.C:
			say("end %s %d", run, mono())
			return 0
		}
	}
}
