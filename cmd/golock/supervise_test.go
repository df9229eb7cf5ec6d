package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/redistest"
)

// These tests run the golock binary on jobs that test the edges of its supervision: signals
// it inherited as ignored, a job that double-forks hundreds of orphans, processes that leave
// the job's process group or session, a script without "#!".

// pidsIn reads the pids written, one a file, to the named files in dir (each waited for).
func pidsIn(t *testing.T, dir string, names ...string) []int {
	t.Helper()
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(golocktest.WaitForFile(t, filepath.Join(dir, name), 10*time.Second))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		pids = append(pids, pid)
	}
	return pids
}

// TestSuperviseIgnoredSignalsStayIgnored: under nohup (SIGHUP ignored) or started as
// cmd & by a script (SIGINT ignored), golock and its job ignore that signal as the job
// alone would: both run on, and golock exits with the job's own code.
func TestSuperviseIgnoredSignalsStayIgnored(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// The job records its pid, its parent's (golock's) and its ignored-signal mask, runs
	// until DIR/finish appears, and exits 7.
	const job = `d=$1
while IFS=: read -r k v; do [ "$k" = SigIgn ] && ign=$(echo $v); done < /proc/$$/status
echo $$ $PPID $ign > "$d/job.tmp" && mv "$d/job.tmp" "$d/job"
while [ ! -e "$d/finish" ]; do sleep 0.05; done
exit 7`
	for _, tc := range []struct {
		name string
		wrap []string // how golock is started
		sig  syscall.Signal
	}{
		{"nohup", []string{"nohup"}, syscall.SIGHUP},
		// A non-interactive shell starts cmd & with SIGINT and SIGQUIT ignored.
		{"cmd & in a script", []string{"sh", "-c", `"$0" "$@" & wait $!`}, syscall.SIGINT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append(append([]string{}, tc.wrap...), golocktest.Binary(t), "sh", "-c", job, "job", dir)
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = faultEnv("ignored-"+tc.sig.String(), srv.Env())
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			f := strings.Fields(golocktest.WaitForFile(t, filepath.Join(dir, "job"), 10*time.Second))
			if len(f) != 3 {
				t.Fatalf("job recorded %q, want pid ppid sigign", f)
			}
			pid, _ := strconv.Atoi(f[0])
			golock, _ := strconv.Atoi(f[1])
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			if comm, _ := os.ReadFile("/proc/" + f[1] + "/comm"); strings.TrimSpace(string(comm)) != "golock" {
				t.Fatalf("the job's parent %s is %q, not golock", f[1], comm)
			}
			mask, err := strconv.ParseUint(f[2], 16, 64)
			if err != nil || mask&(1<<(tc.sig-1)) == 0 {
				t.Errorf("the job's ignored signals %s do not include %v: it did not inherit SIG_IGN", f[2], tc.sig)
			}
			for _, p := range []int{golock, pid} {
				if err := syscall.Kill(p, tc.sig); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(500 * time.Millisecond)
			if proctest.Gone(golock) || proctest.Gone(pid) {
				t.Fatalf("%v ended golock (gone: %v) or its job (gone: %v); output:\n%s",
					tc.sig, proctest.Gone(golock), proctest.Gone(pid), out.String())
			}
			golocktest.FinishJob(t, dir)
			select {
			case err := <-done:
				if cmd.ProcessState.ExitCode() != 7 {
					t.Errorf("golock ended with %v, want the job's exit 7; output:\n%s", err, out.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("golock still running 10s after its job was told to finish")
			}
		})
	}
}

// TestSuperviseScriptWithoutShebang: an executable script without "#!" runs with /bin/sh,
// as it does under sh, bash and cronlock.
func TestSuperviseScriptWithoutShebang(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	script := filepath.Join(t.TempDir(), "no-shebang")
	if err := os.WriteFile(script, []byte("echo \"ran $0 with $1\"\nexit 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := golocktest.Run(t, faultEnv("no-shebang", srv.Env()), script, "an-arg")
	if r.Code != 5 || r.Stdout != "ran "+script+" with an-arg\n" {
		t.Errorf("exit %d, stdout %q; want 5 and the script's line; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestSuperviseReapsOrphans: a job that double-forks hundreds of short-lived orphans (they
// come to golock, the subreaper) leaves no pile of zombies while it still runs.
func TestSuperviseReapsOrphans(t *testing.T) {
	if testing.Short() {
		t.Skip("long test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const orphans = 600
	job := `i=0
while [ $i -lt ` + strconv.Itoa(orphans) + ` ]; do ( sleep 0.01 & ); i=$((i+1)); done
echo $$ > "$1/forked.tmp" && mv "$1/forked.tmp" "$1/forked"
while [ ! -e "$1/finish" ]; do sleep 0.05; done`
	g := golocktest.Start(t, faultEnv("orphans", srv.Env()), "sh", "-c", job, "job", dir)
	most := 0 // the most zombies seen under golock while the orphans came
	for {
		most = max(most, proctest.Zombies(g.Cmd.Process.Pid))
		if _, err := os.Stat(filepath.Join(dir, "forked")); err == nil {
			break
		}
		select {
		case <-g.Done():
			t.Fatalf("golock ended before the job had forked; stderr:\n%s", g.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(300 * time.Millisecond) // the last sleep 0.01 ends
	after := proctest.Zombies(g.Cmd.Process.Pid)
	t.Logf("measured: %d orphans double-forked: at most %d zombies under golock meanwhile, %d once the job slept",
		orphans, most, after)
	if after > 5 || most > orphans/4 {
		t.Errorf("zombies under golock: %d after the forks, %d at most; want near zero", after, most)
	}
	golocktest.FinishJob(t, dir)
	if r := g.WaitWithin(t, 10*time.Second); r.Code != 0 {
		t.Errorf("exit %d; stderr:\n%s", r.Code, r.Stderr)
	}
}

// escapeJobs are jobs whose processes leave the job's process group, each recording in its
// DIR ($1) the pids of those processes, in the files named: a setsid'd descendant (esc),
// and timeout(1) (to), which makes a group of its own, with its child (esc2).
var escapeJobs = []struct{ name, script, pids string }{
	{"setsid", `setsid sh -c 'echo $$ > "$0/esc.tmp" && mv "$0/esc.tmp" "$0/esc"; exec sleep 300' "$1" &
`, "esc"},
	{"timeout", `timeout 300 sh -c 'echo $$ > "$0/esc2.tmp" && mv "$0/esc2.tmp" "$0/esc2"; exec sleep 300' "$1" &
echo $! > "$1/to"
`, "to esc2"},
}

// TestSuperviseTimeoutKillsEscapes: CRONLOCK_TIMEOUT kills what left the job's process
// group or session too, and golock says the job was killed only once it is gone.
func TestSuperviseTimeoutKillsEscapes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, j := range escapeJobs {
		t.Run(j.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := "escape-timeout-" + j.name
			g := golocktest.Start(t, faultEnv(key, srv.Env(), "CRONLOCK_TIMEOUT=1"),
				"sh", "-c", `echo $$ > "$1/job"; `+j.script+"wait", "job", dir)
			pids := pidsIn(t, dir, append([]string{"job"}, strings.Fields(j.pids)...)...)
			r := g.WaitWithin(t, 10*time.Second)
			var alive []int
			for _, pid := range pids {
				if !proctest.Gone(pid) {
					alive = append(alive, pid)
				}
			}
			if r.Code != exitTimeout || len(alive) > 0 {
				t.Errorf("exit %d, want %d; of %v, still alive when golock exited: %v; stderr:\n%s",
					r.Code, exitTimeout, pids, alive, r.Stderr)
			}
			if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "CRONLOCK_TIMEOUT=1") {
				t.Errorf("want one line about the timeout, got:\n%s", r.Stderr)
			}
			if n, _ := srv.Client().Exists(context.Background(), "cronlock."+key).Result(); n != 0 {
				t.Error("the lock was not released")
			}
			t.Logf("processes %v all gone when golock exited %v after it started", pids, r.Took.Round(time.Millisecond))
		})
	}
}

// TestSuperviseWatchdogKillsEscapes SIGKILLs golock while descendants that left the job's
// process group run: the watchdog kills them too.
func TestSuperviseWatchdogKillsEscapes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	g := golocktest.Start(t, faultEnv("escape-watchdog", srv.Env()),
		"sh", "-c", escapeJobs[0].script+escapeJobs[1].script+"wait", "job", dir)
	pids := pidsIn(t, dir, "esc", "esc2", "to")
	// golock looks at the tree every 0.1 s: let it see the escapes before it dies.
	time.Sleep(500 * time.Millisecond)
	var gone []<-chan time.Time
	for _, pid := range pids {
		gone = append(gone, watchGone(pid, 5*time.Second))
	}
	killed := time.Now()
	if err := g.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, c := range gone {
		if at, ok := <-c; !ok {
			t.Errorf("process %d still alive 5s after golock's SIGKILL", pids[i])
		} else {
			t.Logf("measured: process %d that left the job's group gone %v after golock's SIGKILL",
				pids[i], at.Sub(killed).Round(time.Millisecond))
		}
	}
}

// TestSuperviseWaitsForDetached: a descendant that detached into a session of its own holds
// the lock until it ends, as a background process in the job's group does.
func TestSuperviseWaitsForDetached(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	const key = "escape-detached"
	// The job's shell ends at once; what it started in a new session runs on for a second.
	g := golocktest.Start(t, faultEnv(key, srv.Env()), "sh", "-c",
		`setsid sh -c 'sleep 1; echo x > "$0/left"' "$1" & exit 3`, "job", dir)
	time.Sleep(300 * time.Millisecond)
	if r := golocktest.Run(t, faultEnv(key, srv.Env()), "true"); r.Code != exitHeld {
		t.Errorf("a second run while the detached process ran: exit %d, want %d", r.Code, exitHeld)
	}
	r := g.WaitWithin(t, 10*time.Second)
	if r.Code != 3 || r.Took < time.Second {
		t.Errorf("exit %d after %v; want the job's 3 after its detached process's second", r.Code, r.Took)
	}
	if _, err := os.Stat(filepath.Join(dir, "left")); err != nil {
		t.Errorf("golock exited before the detached process had finished: %v", err)
	}
}
