package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/golock/golock/check"
	"github.com/golock/golock/doctor"
	"github.com/golock/golock/heartbeat"
	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
	"github.com/golock/golock/supervisor"
)

// killMargin is how long before the lease ends a job that ignored SIGTERM gets SIGKILL.
const killMargin = 100 * time.Millisecond

// Exit codes, as cronlock's.
const (
	exitHeld    = 200 // held elsewhere, WAIT ran out, or a reset succeeded
	exitFailed  = 201 // golock failed: configuration, Redis, lost lock
	exitTimeout = 202 // CRONLOCK_TIMEOUT killed the command
)

// usage is the synopsis printed when golock is given nothing to do; --help prints the
// whole manual (internal/manual).
const usage = `usage: golock [--] COMMAND [ARG...]
       golock --key COMMAND [ARG...]
       golock --status [--json] (COMMAND [ARG...] | --name NAME)
       golock --list [--json]
       golock --check [--max-age D] (COMMAND [ARG...] | --name NAME)
       golock --held [--min-left S]   (inside a job)
       golock --doctor | --help | --man | --version
`

// hintHelp follows every line about a misused option.
const hintHelp = "try golock --help"

func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args)
	switch {
	case errors.Is(err, errNoCommand):
		fmt.Fprint(stderr, usage)
		fmt.Fprintln(stderr, hintHelp)
		return exitFailed
	case err != nil:
		fmt.Fprintln(stderr, "golock: "+err.Error())
		fmt.Fprintln(stderr, hintHelp)
		return exitFailed
	}
	cmdArgs, mode, asJSON := opts.cmd, opts.mode, opts.json
	switch mode {
	case "help":
		return printHelp(stdout)
	case "man":
		return printMan(stdout)
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "doctor":
		return doctor.Run(ctx, doctor.Options{Environ: environ, Argv0: os.Args[0], Connect: redisclient.Connect, Hint: redisclient.Hint, Out: stdout})
	}

	var sigs *signals
	if mode == "" { // a job may run: catch its signals beside the start
		sigs = catchSignals()
	}
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
		log.Error(err.Error())
		return exitFailed
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
	if mode == "" && opts.name != "" && !cfg.Reset {
		fmt.Fprintln(stderr, "golock: --name without --status needs CRONLOCK_RESET=yes (golock runs a COMMAND, not a name)")
		fmt.Fprintln(stderr, hintHelp)
		return exitFailed
	}
	name := lockscript.Name(cfg.Prefix, cfg.Key, cmdArgs)
	if opts.name != "" {
		name = opts.name
	}
	if mode == "key" {
		fmt.Fprintln(stdout, name)
		return 0
	}
	// Not closed: golock exits when run returns, and closing costs a run a few hundred
	// microseconds of start-up-sized work (the connection, the pool's goroutines).
	client := redisclient.Connect(cfg)
	switch mode {
	case "status":
		return status(ctx, cfg, log, client, []string{name}, asJSON, stdout)
	case "list":
		return status(ctx, cfg, log, client, nil, asJSON, stdout)
	case "check":
		return checkLock(ctx, cfg, client, name, opts.maxAge, stdout)
	case "held":
		return heldMode(ctx, cfg, log, client, environ, opts.minLeft, stderr)
	}
	log = log.With("lock", name)
	if cfg.Reset {
		return reset(ctx, cfg, log, client, name, isTerminal(stderr))
	}
	j := &job{cfg: cfg, log: log, client: client, name: name, args: cmdArgs, environ: environ,
		stdin: stdin, stdout: stdout, stderr: stderr, tty: isTerminal(stderr), signals: sigs}
	return j.run(ctx)
}

// options are golock's own command-line options.
type options struct {
	// mode is "" (run cmd, or reset the lock under CRONLOCK_RESET), "help", "man",
	// "version", "doctor", "key", "status", "list", "check" or "held".
	mode string
	// name is --name NAME: the lock's full name, for --status, --check and
	// CRONLOCK_RESET in place of a command; "" when not given.
	name string
	json bool     // --json, with --status or --list
	cmd  []string // COMMAND [ARG...]; nil when none was given
	// maxAge is --max-age D, with --check: the oldest a last success may be, and the
	// longest a holder may hold the lock; zero when not given (neither is judged).
	maxAge time.Duration
	// minLeft is --min-left S, with --held: the lease that must be left; 0 when not given.
	minLeft time.Duration
}

// errNoCommand is parseArgs' error when golock is given nothing to do.
var errNoCommand = errors.New("no COMMAND given")

// parseArgs splits golock's own options from the command. Its errors name the option at
// fault, for one line on stderr.
func parseArgs(args []string) (options, error) {
	var o options
	setMode := func(m string) error {
		if o.mode != "" {
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
			return options{mode: strings.TrimPrefix(a, "--")}, nil
		case a == "--key" || a == "--status" || a == "--list" || a == "--doctor" || a == "--check":
			if err := setMode(strings.TrimPrefix(a, "--")); err != nil {
				return options{}, err
			}
		case a == "--json":
			o.json = true
		case a == "--held":
			if err := setMode("held"); err != nil {
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
			d, err := check.ParseMaxAge(v)
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
	case o.json && o.mode != "status" && o.mode != "list":
		return options{}, errors.New("--json goes with --status or --list")
	case o.name != "" && o.mode != "" && o.mode != "status" && o.mode != "check":
		return options{}, fmt.Errorf("--name goes with --status, --check or CRONLOCK_RESET=yes, not --%s", o.mode)
	case o.maxAge != 0 && o.mode != "check":
		return options{}, errors.New("--max-age goes with --check")
	case o.name != "" && o.cmd != nil:
		return options{}, errors.New("--name NAME and a COMMAND both name the lock: give one")
	case o.minLeft > 0 && o.mode != "held":
		return options{}, errors.New("--min-left goes with --held")
	case (o.mode == "list" || o.mode == "doctor" || o.mode == "held") && o.cmd != nil:
		return options{}, fmt.Errorf("--%s takes no COMMAND", o.mode)
	case (o.mode == "key" || o.mode == "status" || o.mode == "check") && o.cmd == nil && o.name == "":
		return options{}, fmt.Errorf("--%s needs a COMMAND", o.mode)
	case o.mode == "" && o.cmd == nil && o.name == "":
		return options{}, errNoCommand
	}
	return o, nil
}

// reset clears the lock (CRONLOCK_RESET) and revokes its holder. tty says stderr is a
// terminal.
func reset(ctx context.Context, cfg *config.Config, log *slog.Logger, c redis.Scripter, name string, tty bool) int {
	var held lockscript.Holder
	var found bool
	err := retry(ctx, cfg, log, tty, "reset the lock", func(ctx context.Context) (err error) {
		held, found, err = lockscript.Reset(ctx, c, name)
		return err
	})
	if err != nil {
		log.Error("cannot reset the lock at "+redisclient.Address(cfg)+redisclient.Hint(err), "err", err)
		return exitFailed
	}
	// An operator at a terminal, or one who asked for VERBOSE, is told what the reset did;
	// cron is not.
	tell := notice(log, cfg.Verbose || tty)
	switch {
	case found && held.Kind == "golock":
		tell(fmt.Sprintf("lock reset: it was held by %s, fence %d; that job is ended at its next renewal (under CRONLOCK_ON_LOST=kill)",
			held, held.Fence))
	case found:
		tell("lock reset: it held " + held.String())
	default:
		tell("lock was free; reset anyway, so that no earlier holder can write it back")
	}
	return exitHeld
}

// job is one locked run of a command.
type job struct {
	cfg            *config.Config
	log            *slog.Logger
	client         redis.UniversalClient
	name           string
	args           []string
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
	tty            bool // stderr is a terminal: a person is watching (never under cron)
	signals        *signals
}

// signals are the signals golock catches while it runs a job.
type signals struct {
	c     chan os.Signal
	ready chan struct{} // closed once they are caught
}

// catchSignals starts catching the signals golock forwards to a job, and readies the
// supervisor's own, beside the rest of golock's start: each signal's handler takes a round
// trip to the runtime's signal thread and back, 0.4 ms for them all, which would otherwise
// come before the job. Never stopped: golock exits when the job's run ends, and
// signal.Stop waits for the signal loop to go idle.
func catchSignals() *signals {
	s := &signals{c: make(chan os.Signal, 8), ready: make(chan struct{})}
	go func() {
		signal.Notify(s.c, supervisor.Notified()...) // not those ignored at start (nohup)
		close(s.ready)
		supervisor.Prepare() // the job need not wait for it: Run makes sure of SIGCHLD
	}()
	return s
}

func (j *job) run(ctx context.Context) int {
	// Signals that come before the job starts end golock quietly; after, they go to the job.
	sigs := j.signals.c
	preCtx, stopWatch := watchSignals(ctx, sigs)

	lock, sent, code := j.acquire(preCtx)
	if lock == nil {
		stopWatch()
		return code // without waiting for the signals to be caught: nothing is to run
	}
	<-j.signals.ready // certainly before the job starts
	if sig := stopWatch(); sig != nil {
		j.log.Warn("interrupted by " + sig.String() + " before the job started; nothing ran")
		j.release(ctx, lock, lockscript.NotTried)
		return exitFailed
	}
	// Acquiring (or waiting for replicas) may have taken so long that the lease is nearly
	// over: then the job must not start at all.
	if left := time.Until(sent.Add(lock.TTL)); left <= j.cfg.KillGrace {
		j.log.Error(fmt.Sprintf("taking the lock took so long that only %v of its lease was left; not running",
			left.Round(time.Millisecond)))
		j.release(ctx, lock, lockscript.NotTried)
		return exitFailed
	}

	hb := heartbeat.Start(ctx, heartbeat.Config{
		Renew:    j.renewer(lock),
		Interval: j.cfg.Lease / 3,
		// A renewal stuck on a dead connection gives up halfway to the next tick, which then
		// tries again on a new connection: it must not eat the lease.
		Timeout:   min(j.cfg.RedisTimeout, j.cfg.Lease/6),
		KillGrace: j.cfg.KillGrace,
		Log:       j.log,
		KeepGoing: j.cfg.OnLost == "keep",
	}, heartbeat.Lease{TTL: lock.TTL, UntilDeadline: time.Duration(lock.DeadlineMS-lock.AcquiredMS) * time.Millisecond,
		Clock: time.UnixMilli(lock.AcquiredMS)}, sent)

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
			if j.cfg.OnLost == "keep" { // each loss said once; the job runs on
				j.log.Warn("lock lost; CRONLOCK_ON_LOST=keep, so the job runs on", "err", loss.Err)
				continue
			}
			stop <- supervisor.Stop{Kill: j.killAt(loss)} // SIGTERM now; SIGKILL then
			return
		}
	}()

	// CRONLOCK_PING_URL: the run that took the lock says when its job starts and ends.
	pinged := j.pings(lock)
	pinged.start(ctx)

	res, err := supervisor.Run(supervisor.Job{
		Args:    j.args,
		Env:     childEnv(j.environ, lock),
		Stdin:   j.stdin,
		Stdout:  j.stdout,
		Stderr:  j.stderr,
		Timeout: j.cfg.Timeout,
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
		j.log.Error(err.Error())
	}
	if res.Unguarded != nil {
		j.log.Warn("had no watchdog: had golock been killed, the job's children could have outlived it", "err", res.Unguarded)
	}
	// The line that says why comes first; the release, which may fail too, after it.
	exit := res.Code
	switch {
	case res.TimedOut:
		j.log.Error(fmt.Sprintf("%s killed after CRONLOCK_TIMEOUT=%v", oneLine(commandLine(j.cfg, j.args)), j.cfg.Timeout.Seconds()))
		exit = exitTimeout
	case res.Stopped:
		j.log.Error("lock lost while the job ran; job killed (CRONLOCK_ON_LOST=kill)", "err", loss.Err)
		exit = exitFailed
	}
	// When another owner took the lock, the line about the loss has named it already:
	// release (which touches nothing of theirs) need not say so again.
	told := loss != nil && errors.Is(loss.Err, heartbeat.ErrLost) && (res.Stopped || j.cfg.OnLost == "keep")
	// A lock known lost, or a Redis the heartbeat could not reach, gets one try: the lease
	// frees the lock on its own, and cron's next tick must not find golock still here.
	once := loss != nil || hb.Failing()
	j.releaseAfter(rctx, lock, lockscript.Outcome{Ran: res.Started, Code: res.Code}, told, once)
	if sig := stopWatch(); sig != nil {
		j.log.Warn(fmt.Sprintf("release interrupted by %v; the lock frees itself within %vs", sig, j.cfg.Lease.Seconds()))
	}
	pinged.exit(ctx, exit)
	return exit
}

// acquire takes the lock, waiting up to CRONLOCK_WAIT for a held one. With no lock it
// returns the exit code. sent is when the request that took the lock was sent.
func (j *job) acquire(ctx context.Context) (lock *lockscript.Lock, sent time.Time, code int) {
	params := lockscript.Params{
		Owner:   uuid.NewString(),
		Host:    hostname(),
		PID:     os.Getpid(),
		Command: commandLine(j.cfg, j.args),
		Grace:   j.cfg.Grace,
		Release: j.cfg.Release,
		Lease:   j.cfg.Lease,
	}
	// Fleet policies (policy.go): SPLAY sleeps first; LIMIT, INTERVAL and LOCK_DELAY are
	// decided by the acquire script; REPLACE acts on a "held" reply below.
	params = j.withPolicies(params)
	if !j.splay(ctx) {
		return nil, sent, exitHeld
	}
	var pinned *redis.Conn // with MIN_REPLICAS: the connection that acquires, then WAITs
	defer func() {
		if pinned != nil {
			pinned.Close()
		}
	}()
	// try asks for the lock, retrying a Redis that cannot be reached. A signal (or the end
	// of CRONLOCK_WAIT) stops the retries and the waits between them.
	try := func(ctx context.Context) error {
		return retry(ctx, j.cfg, j.log, j.tty, "take the lock", func(ctx context.Context) (err error) {
			var conn redis.Scripter = j.client
			if j.cfg.MinReplicas > 0 {
				if pinned == nil {
					if pinned, err = j.pin(ctx); err != nil {
						return err
					}
				}
				conn = pinned
			}
			sent = time.Now()
			lock, err = lockscript.Acquire(ctx, conn, j.name, params)
			if err != nil && !errors.Is(err, lockscript.ErrHeld) {
				if pinned != nil {
					pinned.Close() // a connection that failed mid-command is of no more use
					pinned = nil
				}
				if cut(ctx) {
					j.undo(ctx, params)
				}
			}
			return err
		})
	}
	err := try(ctx)
	if errors.Is(err, lockscript.ErrHeld) && j.cfg.Replace {
		err = j.replace(ctx, try, err)
	}
	if errors.Is(err, lockscript.ErrHeld) && j.cfg.Wait > 0 {
		err = j.wait(ctx, j.cfg.Wait, "CRONLOCK_WAIT", try, err)
	}
	if code, ok := j.policyRefusal(err); ok {
		return nil, sent, code
	}
	var held *lockscript.HeldError
	switch {
	case errors.As(err, &held):
		if held.Holder.Kind != "golock" && held.Holder.Kind != "cronlock" {
			j.log.Warn("lock holds an unexpected value; treated as held and left alone (CRONLOCK_RESET=yes clears it)",
				"type", held.Holder.Kind)
		}
		j.held(held.Holder)
		return nil, sent, exitHeld
	case err != nil && ctx.Err() != nil:
		j.log.Warn("interrupted before the job started; nothing ran")
		return nil, sent, exitFailed
	case err != nil:
		j.log.Error("cannot take the lock at "+redisclient.Address(j.cfg)+redisclient.Hint(err), "err", err)
		return nil, sent, exitFailed
	}
	if j.cfg.MinReplicas > 0 {
		// The server gives up a moment before our own bound, so its answer still arrives.
		wctx, cancel := context.WithTimeout(ctx, j.cfg.RedisTimeout)
		n, err := pinned.Wait(wctx, j.cfg.MinReplicas,
			max(time.Millisecond, j.cfg.RedisTimeout-min(j.cfg.RedisTimeout/10, 100*time.Millisecond))).Result()
		cancel()
		if err != nil || n < int64(j.cfg.MinReplicas) {
			j.log.Error(fmt.Sprintf("only %d of CRONLOCK_MIN_REPLICAS=%d replicas acknowledged the lock in time; not running",
				n, j.cfg.MinReplicas), "err", err)
			j.release(ctx, lock, lockscript.NotTried)
			return nil, sent, exitFailed
		}
	}
	j.log.Debug("lock acquired", "fence", lock.Fence, "owner", lock.Owner)
	return lock, sent, 0
}

// undo gives back a lock that an acquire cut short (by a signal, or by CRONLOCK_WAIT
// running out) may have taken in Redis before its reply could arrive: a release by our
// owner token, which touches nothing of anyone else's, bounded by REDIS_TIMEOUT. Under a
// CRONLOCK_LIMIT above 1 the slot it may have taken is unknown: each is released.
func (j *job) undo(ctx context.Context, p lockscript.Params) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.RedisTimeout)
	defer cancel()
	for slot := 1; slot <= max(1, j.cfg.Limit); slot++ {
		l := &lockscript.Lock{Name: j.name, Slot: slot, Params: p}
		if _, err := lockscript.Release(ctx, j.client, l, lockscript.NotTried); err != nil &&
			!errors.Is(err, lockscript.ErrNotOwner) {
			j.log.Warn(fmt.Sprintf("an interrupted acquire may have taken the lock; it frees itself within %vs",
				max(j.cfg.Lease, j.cfg.Grace).Seconds()), "err", err)
			return
		}
	}
}

// pin returns one connection to the master that holds the lock's key: WAIT counts only
// the writes made on its own connection.
func (j *job) pin(ctx context.Context) (*redis.Conn, error) {
	switch c := j.client.(type) {
	case *redis.ClusterClient:
		node, err := c.MasterForKey(ctx, j.name)
		if err != nil {
			return nil, err
		}
		return node.Conn(), nil
	case *redis.Client:
		return c.Conn(), nil
	}
	return nil, fmt.Errorf("CRONLOCK_MIN_REPLICAS is not supported with a %T", j.client)
}

func (j *job) renewer(lock *lockscript.Lock) func(context.Context) (heartbeat.Lease, error) {
	return func(ctx context.Context) (heartbeat.Lease, error) {
		ext, err := lockscript.Extend(ctx, j.client, lock)
		switch {
		case errors.Is(err, lockscript.ErrLost):
			return heartbeat.Lease{}, fmt.Errorf("%w: %w", heartbeat.ErrLost, err)
		case errors.Is(err, lockscript.ErrExpired):
			return heartbeat.Lease{}, heartbeat.ErrLapsed
		case err != nil:
			return heartbeat.Lease{}, err
		}
		return heartbeat.Lease{TTL: ext.TTL, UntilDeadline: ext.UntilDeadline, Reestablished: ext.Reestablished,
			Clock: ext.Clock}, nil
	}
}

// release lets go of the lock. A failure is said, never swallowed: it means the lock
// passed to someone else, or will only free when its lease runs out.
func (j *job) release(ctx context.Context, lock *lockscript.Lock, o lockscript.Outcome) {
	j.releaseAfter(ctx, lock, o, false, false)
}

// releaseRetry is the pause between tries of a release that failed for want of Redis.
const releaseRetry = 500 * time.Millisecond

// releaseAfter is release, quiet about another owner holding the lock when told is set
// (a line has said so already), and with a single try when once is set. Tries go on while
// Redis cannot be reached, for at most REDIS_TIMEOUT in all: not cronlock's reconnect
// schedule, since the lease frees the lock by itself and the job is over.
func (j *job) releaseAfter(ctx context.Context, lock *lockscript.Lock, o lockscript.Outcome, told, once bool) {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.RedisTimeout)
	defer cancel()
	var err error
	for {
		err = interruptible(ctx, func() error {
			_, err := lockscript.Release(ctx, j.client, lock, o)
			return err
		})
		if err == nil || once || !retryable(err) || ctx.Err() != nil {
			break
		}
		j.log.Debug("release failed; trying again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(releaseRetry):
		}
	}
	var held *lockscript.HeldError
	switch {
	case errors.As(err, &held):
		if !told {
			j.log.Warn("lock was lost while the job ran and is now held elsewhere; left untouched",
				"holder", held.Holder.String())
		}
	case err != nil && errors.Is(err, context.Canceled):
		// A signal: the caller says so.
	case err != nil:
		j.log.Warn(fmt.Sprintf("cannot release the lock; it frees itself within %vs", j.cfg.Lease.Seconds()), "err", err)
	}
}

// cut reports whether ctx is done or its deadline has passed. A read cut by that deadline
// (go-redis sets it on the socket) can return a moment before ctx itself says it is done.
func cut(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

// interruptible runs f and returns its error, or ctx's as soon as ctx is done: go-redis
// bounds a command by its context's deadline but does not stop reading on a cancel.
func interruptible(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// childEnv is the job's environment: golock's, plus CRONLOCK_LOCK, CRONLOCK_OWNER and
// CRONLOCK_FENCE describing the lock it runs under.
func childEnv(environ []string, l *lockscript.Lock) []string {
	set := map[string]string{
		"CRONLOCK_LOCK":  l.Name,
		"CRONLOCK_OWNER": l.Owner,
		"CRONLOCK_FENCE": strconv.FormatInt(l.Fence, 10),
	}
	env := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			env = append(env, kv)
		}
	}
	for _, k := range []string{"CRONLOCK_LOCK", "CRONLOCK_OWNER", "CRONLOCK_FENCE"} {
		env = append(env, k+"="+set[k])
	}
	return env
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

// oneLine returns s, or s quoted when it holds a line break or another control
// character (a multi-line sh -c script), so that it prints on one line.
func oneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return strconv.Quote(s)
	}
	return s
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

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
