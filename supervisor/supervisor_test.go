package supervisor_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/ptytest"
	"github.com/golock/golock/supervisor"
)

// helperEnv makes the test binary act as a helper process instead of running the tests
// (as os/exec's tests do): its value names what the helper does, see helperMain.
const helperEnv = "SUPERVISOR_TEST_HELPER"

func TestMain(m *testing.M) {
	golocktest.ClearEnv() // the jobs inherit this environment
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// helperMain is the helper process: it supervises a job as golock does and reports on
// stdout.
//
//	pdeath      run `sleep 60` (its pid written to $PIDFILE) and wait: the test kills us.
//	pdeath-now  the same, with only a background child (forked first thing), no setsid.
//	churn       run `sleep 1` while other goroutines end their locked OS threads; print the code.
//	foreground  run $JOB with our terminal; then print our pgrp and the terminal's
//	            foreground group.
//	watchdogs   a job: print our pid and the watchdogs our parent has, as we start.
func helperMain(mode string) int {
	job := supervisor.Job{Env: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if os.Getenv("WATCHDOG") == "shell" {
		supervisor.UseShellWatchdog()
	}
	switch mode {
	case "pdeath":
		// A background grandchild, one in a session of its own, then the job itself: all
		// must die with the supervisor.
		job.Args = []string{"sh", "-c", `sleep 60 & echo $! > "$PIDFILE.g" &&
			setsid sleep 60 & echo $! > "$PIDFILE.s" &&
			echo $$ > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE" && exec sleep 60`}
	case "pdeath-now":
		job.Args = []string{"sh", "-c", `sleep 60 & echo $! > "$PIDFILE.g" &&
			echo $$ > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE" && exec sleep 60`}
	case "churn":
		// A goroutine that ends while locked to its thread ends the thread too. If the child
		// had been started from such a thread, its parent-death signal would kill it now.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				done := make(chan struct{})
				go func() {
					runtime.LockOSThread()
					close(done)
				}()
				<-done
				time.Sleep(time.Millisecond)
			}
		}()
		defer close(stop)
		job.Args = []string{"sleep", "1"}
	case "foreground":
		job.Args = []string{"sh", "-c", os.Getenv("JOB")}
	case "watchdogs":
		fmt.Println(os.Getpid(), watchdogsOf(os.Getppid()))
		return 0
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	res, err := supervisor.Run(job)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("code=%d\n", res.Code)
	if mode == "foreground" {
		tpgid, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
		fmt.Printf("after: pgrp=%d tpgid=%d err=%v\n", syscall.Getpgrp(), tpgid, err)
	}
	return 0
}

// helper prepares the test binary as a helper process in mode. Tests that start helpers do
// not run in parallel with the others: while one job runs, a child of ours that Run did
// not start counts as an orphan of that job (see Run).
func helper(mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	// Under the race detector a process lingers a second at exit unless told otherwise.
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode,
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")), env...)
	return cmd
}

// sh is a job running script with sh -c.
func sh(script string) supervisor.Job {
	return supervisor.Job{Args: []string{"sh", "-c", script}, Env: os.Environ()}
}

// outcome is what Run returned, for Run called in a goroutine.
type outcome struct {
	res  supervisor.Result
	err  error
	took time.Duration
}

// runAsync runs job in a goroutine; the result comes on the channel.
func runAsync(job supervisor.Job) <-chan outcome {
	c := make(chan outcome, 1)
	go func() {
		start := time.Now()
		res, err := supervisor.Run(job)
		c <- outcome{res, err, time.Since(start)}
	}()
	return c
}

// await waits for an outcome, failing the test after d.
func await(t *testing.T, c <-chan outcome, d time.Duration) outcome {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(d):
		t.Fatalf("supervisor.Run still running after %v", d)
		return outcome{}
	}
}

// waitFile waits up to 10 s for path to exist and returns its trimmed contents.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within 10s", filepath.Base(path))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	s := waitFile(t, path)
	pid, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s holds %q, not a pid", filepath.Base(path), s)
	}
	return pid
}

// waitGone fails the test unless pid ends within d; it returns how long that took.
func waitGone(t *testing.T, pid int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !proctest.Gone(pid) {
		if time.Since(start) > d {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still alive %v later", pid, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 199", 199},
		{"kill -s INT $$", 128 + int(syscall.SIGINT)},
		{"kill -s TERM $$", 128 + int(syscall.SIGTERM)},
		{"kill -s KILL $$", 128 + int(syscall.SIGKILL)},
		{"kill -s USR1 $$", 128 + int(syscall.SIGUSR1)},
	} {
		t.Run(tc.script, func(t *testing.T) {
			t.Parallel()
			res, err := supervisor.Run(sh(tc.script))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Code != tc.code || !res.Started || res.TimedOut || res.Stopped {
				t.Errorf("Result = %+v, want Code %d, Started only", res, tc.code)
			}
		})
	}
}

func TestRunStartFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"not in PATH", []string{"golock-test-no-such-command"}, 127},
		{"no such path", []string{filepath.Join(dir, "missing")}, 127},
		{"not executable", []string{notExec}, 126},
		{"a directory", []string{dir}, 126},
		{"no command", nil, 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := supervisor.Run(supervisor.Job{Args: tc.args})
			if err == nil {
				t.Fatalf("Run(%q) = %+v and no error, want a start failure", tc.args, res)
			}
			if res.Code != tc.code || res.Started {
				t.Errorf("Run(%q) = %+v, want Code %d, not started", tc.args, res, tc.code)
			}
			if len(tc.args) > 0 && !strings.Contains(err.Error(), tc.args[0]) {
				t.Errorf("error %q does not name the command", err)
			}
		})
	}
}

func TestRunOwnProcessGroup(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	job := sh("cut -d' ' -f1,5 /proc/$$/stat") // pid, pgrp: no procps needed
	job.Stdout = &out
	if res, err := supervisor.Run(job); err != nil || res.Code != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	f := strings.Fields(out.String())
	if len(f) != 2 {
		t.Fatalf("ps printed %q", out.String())
	}
	if f[0] != f[1] {
		t.Errorf("child pid %s, pgid %s: the child does not lead its own process group", f[0], f[1])
	}
	if f[1] == strconv.Itoa(syscall.Getpgrp()) {
		t.Errorf("child is in the test's process group %s", f[1])
	}
}

func TestRunPassesStdio(t *testing.T) {
	t.Parallel()
	t.Run("readers and writers", func(t *testing.T) {
		var out, errb bytes.Buffer
		job := sh("cat; echo oops >&2")
		job.Stdin, job.Stdout, job.Stderr = strings.NewReader("hello\nworld\n"), &out, &errb
		if res, err := supervisor.Run(job); err != nil || res.Code != 0 {
			t.Fatalf("Run = %+v, %v", res, err)
		}
		if out.String() != "hello\nworld\n" || errb.String() != "oops\n" {
			t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
		}
	})
	t.Run("files", func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "in")
		if err := os.WriteFile(in, []byte("from a file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fin, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer fin.Close()
		fout, err := os.Create(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer fout.Close()
		job := sh("cat")
		job.Stdin, job.Stdout = fin, fout
		if res, err := supervisor.Run(job); err != nil || res.Code != 0 {
			t.Fatalf("Run = %+v, %v", res, err)
		}
		if b, _ := os.ReadFile(fout.Name()); string(b) != "from a file\n" {
			t.Errorf("stdout file holds %q", b)
		}
	})
	t.Run("nil is /dev/null", func(t *testing.T) {
		res, err := supervisor.Run(sh(`[ -z "$(cat)" ] && echo nowhere`))
		if err != nil || res.Code != 0 {
			t.Fatalf("Run = %+v, %v", res, err)
		}
	})
}

func TestRunTimeoutKillsGrandchildren(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gpid := filepath.Join(dir, "gpid")
	// The grandchild ignores SIGTERM and sits behind a shell that waits for it.
	job := sh(`sh -c 'trap "" TERM; echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' sh "` + gpid + `" & wait`)
	job.Timeout = time.Second
	start := time.Now()
	res, err := supervisor.Run(job)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.TimedOut || res.Code != 128+int(syscall.SIGKILL) {
		t.Errorf("Result = %+v, want TimedOut and Code %d", res, 128+int(syscall.SIGKILL))
	}
	if took < job.Timeout || took > job.Timeout+2*time.Second {
		t.Errorf("Run took %v with a %v timeout", took, job.Timeout)
	}
	pid := readPID(t, gpid)
	t.Logf("grandchild %d gone %v after Run returned", pid, waitGone(t, pid, time.Second))
}

func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	for i, sig := range supervisor.Forwarded {
		sig := sig.(syscall.Signal)
		name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			got, ready := filepath.Join(dir, "got"), filepath.Join(dir, "ready")
			// A grandchild (a subshell in a pipeline, whose signals are not ignored as an
			// async command's INT and QUIT are) records the signal: it reached the group,
			// not just the child. The child then exits with a code of its own, which must
			// come back.
			code := 10 + i
			script := fmt.Sprintf(`trap 'wait; exit %d' %s
( trap 'echo %s > "%s"; exit 0' %s; echo ok > "%s"; while :; do sleep 0.05; done ) | cat`,
				code, name, name, got, name, ready)
			sigs := make(chan os.Signal, 1)
			job := sh(script)
			job.Signals = sigs
			job.Timeout = 8 * time.Second // before await gives up: a clear failure
			c := runAsync(job)
			waitFile(t, ready)
			sigs <- sig
			o := await(t, c, 10*time.Second)
			if o.err != nil || o.res.Code != code || o.res.TimedOut || o.res.Stopped {
				t.Fatalf("Run = %+v, %v; want Code %d", o.res, o.err, code)
			}
			if s := waitFile(t, got); s != name {
				t.Errorf("the job's trap recorded %q, want %s", s, name)
			}
		})
	}
	// A job that does not catch the signal dies of it: 128+N.
	for _, sig := range supervisor.Forwarded {
		sig := sig.(syscall.Signal)
		t.Run("untrapped "+unix.SignalName(sig), func(t *testing.T) {
			t.Parallel()
			ready := filepath.Join(t.TempDir(), "ready")
			sigs := make(chan os.Signal, 1)
			job := sh(`echo ok > "` + ready + `"; exec sleep 60`)
			job.Signals = sigs
			c := runAsync(job)
			waitFile(t, ready)
			sigs <- sig
			o := await(t, c, 10*time.Second)
			if o.err != nil || o.res.Code != 128+int(sig) {
				t.Errorf("Run = %+v, %v; want Code %d", o.res, o.err, 128+int(sig))
			}
		})
	}
}

// stopWhenReady runs job until it has written the file ready, then asks it to stop, with
// SIGKILL due 5 s later; it returns how the job ended and how long that took after the stop.
func stopWhenReady(t *testing.T, job supervisor.Job, ready string) (outcome, time.Duration) {
	t.Helper()
	stop := make(chan supervisor.Stop, 1)
	job.Stop = stop
	c := runAsync(job)
	waitFile(t, ready)
	sent := time.Now()
	stop <- supervisor.Stop{Kill: sent.Add(5 * time.Second)}
	o := await(t, c, 10*time.Second)
	return o, time.Since(sent)
}

func TestRunStop(t *testing.T) {
	t.Parallel()
	t.Run("SIGTERM ends a job that obeys it at once", func(t *testing.T) {
		t.Parallel()
		ready := filepath.Join(t.TempDir(), "ready")
		o, took := stopWhenReady(t, sh(`echo ok > "`+ready+`"; exec sleep 60`), ready)
		if o.err != nil || !o.res.Stopped || o.res.Code != 128+int(syscall.SIGTERM) {
			t.Errorf("Run = %+v, %v; want Stopped and Code %d", o.res, o.err, 128+int(syscall.SIGTERM))
		}
		if took > 2*time.Second {
			t.Errorf("the job took %v to end after SIGTERM", took)
		}
	})
	t.Run("SIGKILL at Stop.Kill ends a job that ignores SIGTERM", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ready, gpid := filepath.Join(dir, "ready"), filepath.Join(dir, "gpid")
		stop := make(chan supervisor.Stop, 1)
		job := sh(`trap "" TERM; sleep 60 & echo $! > "` + gpid + `"; echo ok > "` + ready + `"; wait`)
		job.Stop = stop
		c := runAsync(job)
		waitFile(t, ready)
		grandchild := readPID(t, gpid)
		const grace = 700 * time.Millisecond
		kill := time.Now().Add(grace)
		stop <- supervisor.Stop{Kill: kill}
		o := await(t, c, 10*time.Second)
		late := time.Since(kill)
		if o.err != nil || !o.res.Stopped || o.res.Code != 128+int(syscall.SIGKILL) {
			t.Errorf("Run = %+v, %v; want Stopped and Code %d", o.res, o.err, 128+int(syscall.SIGKILL))
		}
		if late < -50*time.Millisecond || late > time.Second {
			t.Errorf("Run returned %v after Stop.Kill, want about 0", late)
		}
		t.Logf("Run returned %v after Stop.Kill", late.Round(time.Millisecond))
		waitGone(t, grandchild, time.Second)
	})
	t.Run("what is left of the job when its first process ends has until Stop.Kill", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ready, cleaned := filepath.Join(dir, "ready"), filepath.Join(dir, "cleaned")
		// The first process ends at once on SIGTERM; its child cleans up for 0.3 s first.
		o, took := stopWhenReady(t, sh(`sh -c 'trap "sleep 0.3; echo ok > \"$0\"; exit 0" TERM; echo ok > "$1"; while :; do sleep 0.05; done' "`+
			cleaned+`" "`+ready+`" & wait`), ready)
		if !o.res.Stopped || o.res.Code != 128+int(syscall.SIGTERM) {
			t.Errorf("Run = %+v, want Stopped and Code %d", o.res, 128+int(syscall.SIGTERM))
		}
		if _, err := os.Stat(cleaned); err != nil {
			t.Errorf("the child was killed before it had cleaned up (Run returned %v after the stop)", took)
		}
	})
	t.Run("Stop.Kill already past", func(t *testing.T) {
		t.Parallel()
		ready := filepath.Join(t.TempDir(), "ready")
		stop := make(chan supervisor.Stop, 1)
		job := sh(`trap "" TERM; echo ok > "` + ready + `"; while :; do sleep 0.05; done`)
		job.Stop = stop
		c := runAsync(job)
		waitFile(t, ready)
		stop <- supervisor.Stop{Kill: time.Now().Add(-time.Second)}
		o := await(t, c, 5*time.Second)
		if !o.res.Stopped || o.res.Code != 128+int(syscall.SIGKILL) {
			t.Errorf("Run = %+v, want Stopped and Code %d", o.res, 128+int(syscall.SIGKILL))
		}
	})
}

// startDying starts a helper in mode (pdeath or pdeath-now) with kind's watchdog, for the
// test to kill; exited is closed once it has been reaped.
func startDying(t *testing.T, mode, pidFile, kind string) (h *exec.Cmd, exited chan struct{}) {
	t.Helper()
	h = helper(mode, "PIDFILE="+pidFile, "WATCHDOG="+kind)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() { _ = h.Wait(); close(exited) }()
	t.Cleanup(func() { _ = h.Process.Kill(); <-exited })
	return h, exited
}

// killAtEnd kills pids with SIGKILL when the test ends, whatever became of them.
func killAtEnd(t *testing.T, pids ...int) {
	t.Cleanup(func() {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
}

// TestRunParentDeath kills the supervising process with SIGKILL: its job must die with it,
// and so must the job's other processes, in its group or out of it, whichever watchdog
// there is: the native one (on amd64 and arm64) or the /bin/sh one.
func TestRunParentDeath(t *testing.T) {
	for _, kind := range []string{"native", "shell"} {
		t.Run(kind, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			h, exited := startDying(t, "pdeath", pidFile, kind)
			pid := readPID(t, pidFile)
			grandchild, escaped := readPID(t, pidFile+".g"), readPID(t, pidFile+".s")
			killAtEnd(t, pid, grandchild, escaped)
			if exe := watchdogOf(t, h.Process.Pid); strings.HasPrefix(exe, "/memfd:golock-watchdog") != (kind == "native") {
				t.Fatalf("the %s watchdog runs %s", kind, exe)
			}
			// The supervisor looks at the tree every 0.1 s: let it tell the watchdog of the
			// process that left the job's group, which the job's end would orphan to init.
			time.Sleep(500 * time.Millisecond)
			for _, p := range []int{pid, grandchild, escaped} {
				if proctest.Gone(p) {
					t.Fatalf("process %d of the job ended before its supervisor was killed", p)
				}
			}
			if err := h.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			t.Logf("job gone %v after its supervisor died (parent-death signal)", waitGone(t, pid, time.Second))
			t.Logf("its background child gone %v after (watchdog)", waitGone(t, grandchild, time.Second))
			t.Logf("its child in a session of its own gone %v after (watchdog)", waitGone(t, escaped, time.Second))
		})
	}
}

// TestRunParentDeathAtOnce kills the supervising process with SIGKILL the moment its job
// has forked a child: the watchdog, which started before the job, knows the job's group
// already and kills the child.
func TestRunParentDeathAtOnce(t *testing.T) {
	for _, kind := range []string{"native", "shell"} {
		t.Run(kind, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			h, exited := startDying(t, "pdeath-now", pidFile, kind)
			pid := readPID(t, pidFile)
			if err := h.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			grandchild := readPID(t, pidFile+".g")
			killAtEnd(t, pid, grandchild)
			<-exited
			t.Logf("job gone %v after its supervisor died (parent-death signal)", waitGone(t, pid, time.Second))
			t.Logf("its background child gone %v after (watchdog)", waitGone(t, grandchild, time.Second))
		})
	}
}

// watchdogsOf returns the pids of parent's children that are watchdogs.
func watchdogsOf(parent int) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, _ := os.ReadFile(d + "/cmdline")
		status, _ := os.ReadFile(d + "/status")
		if strings.Contains(string(cmdline), "golock-watchdog") &&
			strings.Contains(string(status), "\nPPid:\t"+strconv.Itoa(parent)+"\n") {
			pid, _ := strconv.Atoi(filepath.Base(d))
			pids = append(pids, pid)
		}
	}
	return pids
}

// watchdogOf waits up to 2 s for the watchdog among parent's children and returns what it
// runs (its /proc/PID/exe).
func watchdogOf(t *testing.T, parent int) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if pids := watchdogsOf(parent); len(pids) > 0 {
			exe, err := os.Readlink("/proc/" + strconv.Itoa(pids[0]) + "/exe")
			if err != nil {
				t.Fatal(err)
			}
			return exe
		}
		if time.Now().After(deadline) {
			t.Fatal("no watchdog started within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noWatchdogs waits up to 2 s for this process's watchdogs to be gone.
func noWatchdogs(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for len(watchdogsOf(os.Getpid())) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a watchdog is still there 2s after its job ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunWatchdogEnds: after a normal end the watchdog is told so and exits (and is reaped):
// no watchdog outlives its job. Not parallel, so that no other Run's watchdog is about.
func TestRunWatchdogEnds(t *testing.T) {
	res, err := supervisor.Run(sh("true"))
	if err != nil || res.Code != 0 || res.Unguarded != nil {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	noWatchdogs(t)
	// A command that cannot start needs no watchdog: the one started for it goes too.
	if _, err := supervisor.Run(supervisor.Job{Args: []string{"/nonexistent/command"}}); err == nil {
		t.Fatal("Run of a missing command: no error")
	}
	noWatchdogs(t)
}

// TestRunWatchdogBeforeJob: the watchdog runs before the job starts, so that a supervisor
// killed at any moment of the job takes the job's whole tree with it. The job, as it
// starts, finds the watchdog among its parent's children, started before it (a lower pid).
// Not parallel, so that no other Run's watchdog is about.
func TestRunWatchdogBeforeJob(t *testing.T) {
	for _, kind := range []string{"native", "shell"} {
		t.Run(kind, func(t *testing.T) {
			noWatchdogs(t)
			var out bytes.Buffer
			job := supervisor.Job{Args: []string{os.Args[0]}, Env: append(os.Environ(), helperEnv+"=watchdogs"), Stdout: &out}
			if kind == "shell" {
				supervisor.UseShellWatchdog()
				defer supervisor.UseNativeWatchdog()
			}
			res, err := supervisor.Run(job)
			if err != nil || res.Code != 0 || res.Unguarded != nil {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			var self int
			var seen string
			if _, err := fmt.Sscanf(out.String(), "%d [%s", &self, &seen); err != nil {
				t.Fatalf("the job said %q, want its pid and its parent's watchdogs: %v", out.String(), err)
			}
			watchdog, err := strconv.Atoi(strings.TrimSuffix(seen, "]"))
			if err != nil {
				t.Fatalf("the job said %q: its parent had no one watchdog as it started", out.String())
			}
			if watchdog >= self {
				t.Errorf("watchdog pid %d, job pid %d: the watchdog started after the job", watchdog, self)
			}
		})
	}
}

// TestRunParentDeathSignalSurvivesThreadChurn checks that the parent-death signal is tied
// to a thread that lives as long as the job: threads of the supervisor that end must not
// take the job with them.
func TestRunParentDeathSignalSurvivesThreadChurn(t *testing.T) {
	out, err := helper("churn").Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "code=0" {
		t.Errorf("sleep 1 under thread churn ended with %s, want code=0", got)
	}
}

// TestRunForegroundTerminal runs a supervisor in a real pseudo-terminal: the job's process
// group must be the terminal's foreground group (so it can read the terminal and gets ^C),
// and the supervisor must get the terminal back when the job ends.
func TestRunForegroundTerminal(t *testing.T) {
	h := helper("foreground",
		`JOB=cut -d" " -f5,8 /proc/$$/stat; read line; echo "got:$line"`)
	term := ptytest.Start(t, h)
	next := func() string { return term.Next(t) }

	f := strings.Fields(next())
	if len(f) != 2 || f[0] != f[1] {
		t.Fatalf("job's pgid and the terminal's foreground group: %q, want two equal numbers", f)
	}
	if f[0] == strconv.Itoa(h.Process.Pid) {
		t.Errorf("the job runs in its supervisor's process group %s", f[0])
	}
	// A background job reading the terminal would be stopped by SIGTTIN and hang here.
	term.Type(t, "hello\n")
	var got, after string
	for after == "" {
		switch l := next(); {
		case strings.HasPrefix(l, "got:"):
			got = l
		case strings.HasPrefix(l, "after:"):
			after = l
		}
	}
	if got != "got:hello" {
		t.Errorf("the job read %q from the terminal, want got:hello", got)
	}
	want := fmt.Sprintf("after: pgrp=%d tpgid=%d err=<nil>", h.Process.Pid, h.Process.Pid)
	if after != want {
		t.Errorf("after the job: %q, want %q (the supervisor has the terminal back)", after, want)
	}
	if err := term.Wait(t, 10*time.Second); err != nil {
		t.Errorf("helper: %v", err)
	}
}

// TestRunWaitsForTheWholeGroup: what the job leaves running in its process group is the
// job still: Run returns when the last of it has ended, with the first process's code, and
// the timeout still reaches it.
func TestRunWaitsForTheWholeGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	job := sh(`sleep 0.6 & echo $! > "$1"; exit 3`)
	job.Args = append(job.Args, "job", pidFile)
	start := time.Now()
	res, err := supervisor.Run(job)
	took := time.Since(start)
	if err != nil || res.Code != 3 {
		t.Fatalf("Run = %+v, %v; want code 3", res, err)
	}
	if bg := readPID(t, pidFile); !proctest.Gone(bg) {
		t.Errorf("Run returned while the job's background process %d still ran", bg)
	}
	if took < 550*time.Millisecond {
		t.Errorf("Run returned after %v, before the background sleep 0.6 ended", took)
	}

	job = sh(`sleep 30 & exit 0`)
	job.Timeout = 300 * time.Millisecond
	res, err = supervisor.Run(job)
	if err != nil || !res.TimedOut {
		t.Errorf("Run = %+v, %v; want the timeout to end the background sleep", res, err)
	}
}

// TestRunLeavesOtherJobsOrphans runs two jobs at once: B, killed by its timeout, and A,
// whose background process is orphaned to us before Run has begun to supervise A (the
// moment a test slows down here). B's kill must not take A's orphan for B's own: A's
// background sleep lives its whole second, and A's Run waits for it. Not parallel: it
// slows every Run of the package down while it runs.
func TestRunLeavesOtherJobsOrphans(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	defer supervisor.SetAfterStart(func(job supervisor.Job) {
		if job.Args[len(job.Args)-1] == pidFile {
			readPID(t, pidFile)                // A's first process has left its orphan...
			time.Sleep(400 * time.Millisecond) // ...and B times out and kills meanwhile.
		}
	})()
	b := sh(`sleep 30`)
	b.Timeout = 200 * time.Millisecond
	bDone := runAsync(b)

	a := sh(`sleep 1 & echo $! > "$1"; exit 0`)
	a.Args = append(a.Args, "job", pidFile)
	start := time.Now()
	res, err := supervisor.Run(a)
	took := time.Since(start)
	if err != nil || res.Code != 0 || res.TimedOut {
		t.Fatalf("A: Run = %+v, %v; want code 0", res, err)
	}
	if took < 950*time.Millisecond {
		t.Errorf("A: Run returned after %v: its background sleep 1 was killed", took)
	}
	if o := <-bDone; o.err != nil || !o.res.TimedOut {
		t.Errorf("B: Run = %+v, %v; want it timed out", o.res, o.err)
	}
}
