// Package runner is one locked run of a command, from settings to exit code: it takes the
// lock (with the fleet policies, WAIT and the reconnect schedule), starts the job under the
// supervisor, keeps the lease alive with a heartbeat, stops the job when the lock is lost,
// releases the lock, records the run and sends the pings. It also answers the two modes that
// act on one lock by its owner's rules: Reset (CRONLOCK_RESET) and Held (golock --held).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/heartbeat"
	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/lockscript"
	"github.com/golock/golock/supervisor"
)

// Exit codes, as cronlock's.
const (
	ExitHeld    = 200 // held elsewhere, WAIT ran out, or a reset succeeded
	ExitFailed  = 201 // golock failed: configuration, Redis, lost lock
	ExitTimeout = 202 // CRONLOCK_TIMEOUT killed the command
)

// Job is one locked run of a command.
type Job struct {
	Config  *config.Config
	Log     *slog.Logger // already naming the lock
	Client  redis.UniversalClient
	Name    string   // the lock's name
	Args    []string // COMMAND [ARG...]
	Environ []string // golock's environment, passed on to the command
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// TTY says stderr is a terminal: a person is watching (never under cron).
	TTY bool
	// Signals are caught since golock started (CatchSignals).
	Signals *Signals
}

// Run runs j and returns golock's exit code.
func Run(ctx context.Context, j Job) int {
	return (&job{j}).run(ctx)
}

// job is Job as the run goes: the methods of one run.
type job struct{ Job }

func (j *job) run(ctx context.Context) int {
	// Signals that come before the job starts end golock quietly; after, they go to the job.
	sigs := j.Signals.c
	preCtx, stopWatch := watchSignals(ctx, sigs)

	lock, sent, code := j.acquire(preCtx)
	if lock == nil {
		stopWatch()
		return code // without waiting for the signals to be caught: nothing is to run
	}
	<-j.Signals.ready // certainly before the job starts
	if sig := stopWatch(); sig != nil {
		j.Log.Warn("interrupted by " + sig.String() + " before the job started; nothing ran")
		j.release(ctx, lock, lockscript.NotTried)
		return ExitFailed
	}
	// Acquiring (or waiting for replicas) may have taken so long that the lease is nearly
	// over: then the job must not start at all.
	lease := heartbeat.Config{
		Lease:     j.Config.Lease,
		Timeout:   min(j.Config.RedisTimeout, j.Config.Lease/6),
		KillGrace: j.Config.KillGrace,
		Log:       j.Log,
		KeepGoing: j.Config.OnLost == "keep",
	}
	if left := lease.Left(heartbeat.First(lock), sent); left <= 0 {
		j.Log.Error(fmt.Sprintf("taking the lock took so long that only %v of its lease was left; not running",
			(left + j.Config.KillGrace).Round(time.Millisecond)))
		j.release(ctx, lock, lockscript.NotTried)
		return ExitFailed
	}
	hb := heartbeat.Keep(ctx, lease, lock, sent)

	// CRONLOCK_PING_URL: the run that took the lock says when its job starts and ends. A
	// signal during the start ping ends it, and nothing runs.
	pinged := j.pings(lock)
	if sig := pinged.start(ctx, sigs); sig != nil {
		hb.Stop()
		j.Log.Warn("interrupted by " + sig.String() + " before the job started; nothing ran")
		j.release(ctx, lock, lockscript.NotTried)
		return ExitFailed
	}

	// The watcher turns a lost lock into a stop request (or, with keep, a warning); it
	// ends with the job, and loss is the lost lock it saw, if any.
	stop := make(chan supervisor.Stop, 1)
	jobDone, watched := make(chan struct{}), make(chan struct{})
	var loss *heartbeat.Loss
	go func() {
		defer close(watched)
		for {
			select {
			case l := <-hb.Lost():
				loss = &l
			case <-jobDone:
				return
			}
			if j.Config.OnLost == "keep" { // each loss said once; the job runs on
				what, _ := lossSaid(j.Name, *loss, j.Config.Lease)
				j.Log.Warn(what + "; CRONLOCK_ON_LOST=keep, so the job runs on")
				j.Log.Debug("the loss in detail", "err", loss.Err)
				continue
			}
			stop <- supervisor.Stop{Kill: loss.Kill} // SIGTERM now; SIGKILL then
			return
		}
	}()

	res, err := supervisor.Run(supervisor.Job{
		Args:    j.Args,
		Env:     j.childEnv(lock),
		Stdin:   j.Stdin,
		Stdout:  j.Stdout,
		Stderr:  j.Stderr,
		Timeout: j.Config.Timeout,
		Signals: sigs,
		Stop:    stop,
	})
	close(jobDone)
	// From here a signal ends golock's wind-down (the lease frees the lock on its own):
	// neither a renewal still in flight nor a release waits on a stuck Redis past it.
	rctx, stopWatch := watchSignals(ctx, sigs)
	_ = interruptible(rctx, func() error { hb.Stop(); return nil })
	<-watched
	if err != nil {
		j.Log.Error(err.Error())
	}
	if res.Unguarded != nil {
		j.Log.Warn("had no watchdog: had golock been killed, the job's children could have outlived it", "err", res.Unguarded)
	}
	// The line that says why comes first; the release, which may fail too, after it.
	exit, outcome := res.Code, lockscript.Outcome{Ran: res.Started, Code: res.Code}
	switch {
	case res.TimedOut:
		j.Log.Error(fmt.Sprintf("%s killed after CRONLOCK_TIMEOUT=%v", logging.OneLine(commandLine(j.Config, j.Args)), j.Config.Timeout.Seconds()))
		exit, outcome.Ended = ExitTimeout, lockscript.TimedOut
	case res.Stopped:
		var what string
		what, outcome.Ended = lossSaid(j.Name, *loss, j.Config.Lease)
		j.Log.Error(what + "; job killed (CRONLOCK_ON_LOST=kill)")
		j.Log.Debug("the loss in detail", "err", loss.Err)
		exit = ExitFailed
	}
	// When another owner took the lock, the line about the loss has named it already:
	// release (which touches nothing of theirs) need not say so again.
	// A lock that lapsed at its deadline has been said to be gone too.
	told := loss != nil && errors.Is(loss.Err, heartbeat.ErrLost) && (res.Stopped || j.Config.OnLost == "keep") || hb.Lapsed()
	// A lock known lost, or a Redis the heartbeat could not reach, gets one try: the lease
	// frees the lock on its own, and cron's next tick must not find golock still here.
	once := loss != nil || hb.Failing()
	j.releaseAfter(rctx, lock, outcome, told, once)
	if sig := stopWatch(); sig != nil {
		j.Log.Warn(fmt.Sprintf("release interrupted by %v; the lock frees itself within %vs", sig, j.Config.Lease.Seconds()))
	}
	pinged.exit(ctx, sigs, exit) // a signal ends its wait: golock exits with the run's code
	return exit
}

// lossSaid says what happened to the lock in the operator's words, and how the run ends.
func lossSaid(name string, loss heartbeat.Loss, lease time.Duration) (string, lockscript.Ending) {
	err := loss.Err
	// Another owner holds it: the lease ran out, or the lock vanished while the lease still ran.
	how := "after its lease ran out"
	if loss.Left > 0 {
		how = fmt.Sprintf("while this run's lease had %v left: the lock vanished early from Redis "+
			"(a failover, a restart without persistence, an eviction, a clock step) or was removed by hand",
			loss.Left.Round(time.Millisecond))
	}
	var held *lockscript.HeldError
	switch {
	case errors.As(err, &held) && held.Reset:
		return fmt.Sprintf("lock %s was reset (CRONLOCK_RESET) on %s pid %d while the job ran",
			name, held.Holder.Host, held.Holder.PID), lockscript.Revoked
	case errors.As(err, &held) && held.Replaced:
		return fmt.Sprintf("lock %s was taken over by a CRONLOCK_REPLACE run on %s pid %d",
			name, held.Holder.Host, held.Holder.PID), lockscript.Replaced
	case errors.As(err, &held) && held.Holder.Kind == lockscript.Golock:
		return fmt.Sprintf("lock lost while the job ran: %s took %s %s", held.Holder, name, how), lockscript.Lost
	case errors.Is(err, heartbeat.ErrLost):
		return fmt.Sprintf("lock lost while the job ran: another run took %s %s", name, how), lockscript.Lost
	case errors.Is(err, heartbeat.ErrClockStep):
		return fmt.Sprintf("lock %s may have expired early: Redis's clock jumped forward", name), lockscript.Lost
	}
	return fmt.Sprintf("Redis did not confirm a renewal of lock %s in time (%s), so its lease may end "+
		"while the job runs; the lock frees itself within %vs if it is still there", name, logging.OneLine(cause(err)), lease.Seconds()), lockscript.Lost
}

// cause is the innermost message of an error chain: what went wrong, without who passed it on.
func cause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
