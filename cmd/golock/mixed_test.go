package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The rolling migration, tested with the real cronlock script (bash, MIT) beside golock on
// one real redis-server. GOLOCK_CRONLOCK_SCRIPT names the script; a clone without it runs
// everything else.

// cronlockScript is the path of the cronlock script, or the test is skipped; a path that
// names no file fails the test.
func cronlockScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("GOLOCK_CRONLOCK_SCRIPT")
	if testing.Short() || path == "" {
		t.Skip("the real cronlock is not run in the short layer, or with GOLOCK_CRONLOCK_SCRIPT unset")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("GOLOCK_CRONLOCK_SCRIPT=%s: %v", path, err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("cronlock needs bash: %v", err)
	}
	return path
}

// mixedFleet is one lock, CRONLOCK_KEY=job, on a redis-server of its own, taken by cronlock
// and golock.
type mixedFleet struct {
	t      *testing.T
	script string
	srv    *redistest.Server
	conf   string // an empty config file: neither reads the machine's /etc/cronlock.conf
	name   string
}

func newMixedFleet(t *testing.T) *mixedFleet {
	script := cronlockScript(t)
	conf := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &mixedFleet{t: t, script: script, srv: redistest.Start(t), conf: conf, name: "cronlock.job"}
}

func (f *mixedFleet) env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "CRONLOCK_CONFIG=" + f.conf, "CRONLOCK_HOST=127.0.0.1",
		fmt.Sprintf("CRONLOCK_PORT=%d", f.srv.Port), "CRONLOCK_KEY=job"}, extra...)
}

// cronlock returns the cronlock script running args, not started.
func (f *mixedFleet) cronlock(extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{f.script}, args...)...)
	cmd.Env = f.env(extra...)
	return cmd
}

// golock runs golock with the fleet's settings plus extra.
func (f *mixedFleet) golock(extra []string, args ...string) golocktest.Result {
	f.t.Helper()
	return golocktest.Run(f.t, f.env(extra...), args...)
}

// mark is a job that writes the time it ran (unix ns) to path.
func mark(path string) []string {
	return []string{"sh", "-c", `date +%s%N > "$1"`, "mark", path}
}

// wantSkipped fails unless r is a run that found the lock held: exit 200, nothing said.
func wantSkipped(t *testing.T, who string, r golocktest.Result) {
	t.Helper()
	if r.Code != 200 || r.Stdout != "" || r.Stderr != "" {
		t.Errorf("%s: exit %d, stdout %q, stderr %q; want 200 and nothing said", who, r.Code, r.Stdout, r.Stderr)
	}
}

func TestMixedFleetWithCronlock(t *testing.T) {
	t.Parallel()
	mixedOn := []string{"CRONLOCK_MIXED_FLEET=yes"}

	t.Run("golock holds, cronlock skips silently", func(t *testing.T) {
		t.Parallel()
		f := newMixedFleet(t)
		dir := t.TempDir()
		p := golocktest.Start(t, f.env(mixedOn...), golocktest.Job(dir, 0, "")...)
		golocktest.WaitJob(t, dir)
		ran := filepath.Join(dir, "cronlock-ran")
		for range 3 {
			wantSkipped(t, "cronlock", golocktest.RunCmd(t, f.cronlock(nil, mark(ran)...)))
		}
		if _, err := os.Stat(ran); err == nil {
			t.Error("cronlock ran its job while golock held the lock")
		}
		golocktest.FinishJob(t, dir)
		cliWantCode(t, p.WaitWithin(t, 10*time.Second), 0)
	})

	t.Run("without the setting cronlock meets WRONGTYPE", func(t *testing.T) {
		t.Parallel()
		f := newMixedFleet(t)
		dir := t.TempDir()
		p := golocktest.Start(t, f.env(), golocktest.Job(dir, 0, "")...)
		golocktest.WaitJob(t, dir)
		r := golocktest.RunCmd(t, f.cronlock(nil, "true"))
		if r.Code != 201 || !strings.Contains(r.Stderr, "WRONGTYPE") {
			t.Errorf("cronlock beside golock's hash: exit %d, stderr %q; want 201 and WRONGTYPE (what cron mails)", r.Code, r.Stderr)
		}
		golocktest.FinishJob(t, dir)
		cliWantCode(t, p.WaitWithin(t, 10*time.Second), 0)
	})

	t.Run("after golock's release cronlock waits out GRACE", func(t *testing.T) {
		t.Parallel()
		f := newMixedFleet(t)
		const grace = 3
		cliWantCode(t, f.golock(append(mixedOn, "CRONLOCK_GRACE="+strconv.Itoa(grace)), "true"), 0)
		st, err := lockscript.Inspect(t.Context(), f.srv.Client(), f.name)
		if err != nil || st.Last == nil || st.Holder == nil || !st.Holder.Released {
			t.Fatalf("after golock's run: %+v, %v; want its grace hold and last run", st, err)
		}
		graceEnd := st.Last.Started.Add(grace * time.Second)
		if v, _ := f.srv.Client().Get(t.Context(), f.name).Int64(); v != graceEnd.UnixMilli()/1000+1 {
			t.Errorf("lock = %d during the grace hold, want %d: acquisition + GRACE + 1, as cronlock writes it", v, graceEnd.UnixMilli()/1000+1)
		}
		ran := filepath.Join(t.TempDir(), "cronlock-ran")
		skipped, last := 0, time.Duration(0)
		for deadline := time.Now().Add(grace*time.Second + 5*time.Second); ; skipped++ {
			r := golocktest.RunCmd(t, f.cronlock(nil, mark(ran)...))
			if r.Code == 0 {
				last += r.Took
				break
			}
			wantSkipped(t, "cronlock within the grace hold", r)
			if time.Now().After(deadline) {
				t.Fatal("cronlock never ran after golock's grace hold")
			}
			last = r.Took
		}
		late := golocktest.ReadNanos(t, ran).Sub(graceEnd)
		t.Logf("measured: cronlock skipped %d times, then ran %v after golock's acquisition + GRACE (a cronlock run takes %v)",
			skipped, late.Round(time.Millisecond), last.Round(time.Millisecond))
		// The hold ends at the second after acquisition + GRACE; the run that finds it gone
		// started at most one run before.
		if late < 0 || late > time.Second+last {
			t.Errorf("cronlock ran %v after acquisition + GRACE; want after it, within a second and two cronlock runs (%v)", late, last)
		}
		if skipped == 0 {
			t.Error("cronlock ran at once: the grace hold did not hold it off")
		}
	})

	t.Run("a killed golock host frees the lock for cronlock after LEASE", func(t *testing.T) {
		t.Parallel()
		f := newMixedFleet(t)
		const lease = 2 * time.Second
		dir := t.TempDir()
		p := golocktest.Start(t, f.env(append(mixedOn, "CRONLOCK_LEASE=2", "CRONLOCK_GRACE=0")...), golocktest.Job(dir, 0, "")...)
		job := golocktest.WaitJob(t, dir)
		if err := p.Cmd.Process.Kill(); err != nil { // SIGKILL: no release, no last renewal
			t.Fatal(err)
		}
		killed := time.Now()
		<-p.Done()
		wantSkipped(t, "cronlock right after the kill", golocktest.RunCmd(t, f.cronlock(nil, "true")))
		ran := filepath.Join(dir, "cronlock-ran")
		var runs time.Duration // the last two cronlock runs
		for prev := time.Duration(0); ; {
			r := golocktest.RunCmd(t, f.cronlock(nil, mark(ran)...))
			runs, prev = prev+r.Took, r.Took
			if r.Code == 0 {
				break
			}
			if time.Since(killed) > lease+5*time.Second {
				c := f.srv.Client()
				t.Fatalf("cronlock has not taken the lock of a killed golock: %+v; lock %q TTL %v",
					r, c.Get(t.Context(), f.name).Val(), c.PTTL(t.Context(), f.name).Val())
			}
		}
		after := golocktest.ReadNanos(t, ran).Sub(killed)
		t.Logf("measured: cronlock took the lock %v after golock was killed (LEASE %v, RELEASE 86400 s)", after.Round(time.Millisecond), lease)
		// The lease ran from golock's last renewal, before the kill; the run that found it
		// gone started at most one run before.
		if after > lease+runs {
			t.Errorf("cronlock took over %v after the kill; want within LEASE (%v) and two cronlock runs (%v)", after, lease, runs)
		}
		if !proctest.Gone(job.PID) {
			t.Errorf("golock's job (pid %d) outlived golock", job.PID)
		}
	})

	t.Run("cronlock holds, golock skips", func(t *testing.T) {
		t.Parallel()
		f := newMixedFleet(t)
		dir := t.TempDir()
		cron := f.cronlock([]string{"CRONLOCK_GRACE=1"}, "sh", "-c",
			`echo started > "$1/started"; while [ ! -e "$1/finish" ]; do sleep 0.05; done`, "job", dir)
		if err := proctest.StartTied(cron); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cron.Wait() }()
		golocktest.WaitForFile(t, filepath.Join(dir, "started"), 10*time.Second)
		wantSkipped(t, "golock with CRONLOCK_MIXED_FLEET", f.golock(mixedOn, "true"))
		wantSkipped(t, "golock without it", f.golock(nil, "true"))
		if err := os.WriteFile(filepath.Join(dir, "finish"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("cronlock: %v", err)
		}
		// cronlock's own grace hold, then golock runs.
		for deadline := time.Now().Add(5 * time.Second); ; {
			r := f.golock(mixedOn, "true")
			if r.Code == 0 {
				break
			}
			wantSkipped(t, "golock within cronlock's grace", r)
			if time.Now().After(deadline) {
				t.Fatal("golock never ran after cronlock's grace hold")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
