package runner

import (
	"context"
	"os"
	"os/signal"

	"github.com/golock/golock/supervisor"
)

// Signals are the signals golock catches while it runs a job.
type Signals struct {
	c     chan os.Signal
	ready chan struct{} // closed once they are caught
}

// CatchSignals starts catching the signals golock forwards to a job, and readies the
// supervisor's own, beside the rest of golock's start: each signal's handler takes a round
// trip to the runtime's signal thread and back, 0.4 ms for them all, which would otherwise
// come before the job. Never stopped: golock exits when the job's run ends, and
// signal.Stop waits for the signal loop to go idle.
func CatchSignals() *Signals {
	s := &Signals{c: make(chan os.Signal, 8), ready: make(chan struct{})}
	go func() {
		signal.Notify(s.c, supervisor.Notified()...) // not those ignored at start (nohup)
		close(s.ready)
		supervisor.Prepare() // the job need not wait for it: Run makes sure of SIGCHLD
	}()
	return s
}

// watchSignals cancels the returned context on the first signal from sigs, until stop is
// called; stop returns that signal, or nil, and leaves later signals in sigs.
func watchSignals(ctx context.Context, sigs <-chan os.Signal) (context.Context, func() os.Signal) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	got := make(chan os.Signal, 1)
	go func() {
		select {
		case s := <-sigs:
			got <- s
			cancel()
		case <-done:
			got <- nil
		}
	}()
	return ctx, func() os.Signal {
		close(done)
		return <-got
	}
}
