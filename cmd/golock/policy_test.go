package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The fleet policies (CRONLOCK_LIMIT, INTERVAL, SPLAY, REPLACE, LOCK_DELAY and --held),
// each against a real Redis with real golock processes.

// maxOverlap is the most spans running at one moment.
func maxOverlap(spans map[string]*golocktest.Span) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		end := s.End
		if end.IsZero() {
			end = time.Now()
		}
		edges = append(edges, edge{s.Start, 1}, edge{end, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta // an end before a start at the same ns
		}
		return edges[i].at.Before(edges[j].at)
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// TestPolicyLimitAtOnce: CRONLOCK_LIMIT=2 and 20 golocks of a 1 s job started at once:
// exactly 2 run, the others exit 200; --status lists both holders.
func TestPolicyLimitAtOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	log := cliPath(t, "log")
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=limit-once", "CRONLOCK_LIMIT=2", "CRONLOCK_GRACE=0")...)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = golocktest.Run(t, env, golocktest.SpanJob(log, strconv.Itoa(i), 1)...).Code
		}()
	}
	// While they run, --status names both holders.
	deadline := time.Now().Add(10 * time.Second)
	var line string
	for time.Now().Before(deadline) {
		line = golocktest.Run(t, env, "--status", "--name", "cronlock.limit-once").Stdout
		if strings.Count(line, "held by") == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if strings.Count(line, "held by") != 2 || !strings.Contains(line, "also held by") {
		t.Errorf("--status while 2 held: %q, want both holders", line)
	}
	ran, held := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			ran++
		case 200:
			held++
		default:
			t.Errorf("a golock exited %d", c)
		}
	}
	spans := golocktest.ReadSpans(t, log)
	t.Logf("measured: LIMIT=2, 20 at once: %d ran, %d exited 200, %d job starts, most at once %d", ran, held, len(spans), maxOverlap(spans))
	if ran != 2 || held != 18 || len(spans) != 2 {
		t.Errorf("%d ran (%d job starts) and %d exited 200, want 2 and 18", ran, len(spans), held)
	}
}

// TestPolicyLimitStaggered: golocks started every 120 ms with LIMIT=2, each a 0.5 s job:
// never more than 2 jobs at once by their own timestamps, and more than 2 ran in all.
func TestPolicyLimitStaggered(t *testing.T) {
	if testing.Short() {
		t.Skip("long timing test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	log := cliPath(t, "log")
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=limit-staggered", "CRONLOCK_LIMIT=2", "CRONLOCK_GRACE=0")...)
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := golocktest.Run(t, env, golocktest.SpanJob(log, strconv.Itoa(i), 0.5)...); r.Code != 0 && r.Code != 200 {
				t.Errorf("golock %d exited %d: %s", i, r.Code, r.Stderr)
			}
		}()
		time.Sleep(120 * time.Millisecond)
	}
	wg.Wait()
	spans := golocktest.ReadSpans(t, log)
	most := maxOverlap(spans)
	t.Logf("measured: LIMIT=2, 24 golocks 120 ms apart, 0.5 s jobs: %d ran, most at once %d", len(spans), most)
	if most > 2 {
		t.Errorf("%d jobs ran at once, LIMIT=2", most)
	}
	if len(spans) < 4 || most < 2 {
		t.Errorf("%d ran, at most %d at once: the test did not exercise two slots", len(spans), most)
	}
}

// TestPolicyLimitLossIsolated: of two holders under LIMIT=2, one loses its slot (another
// owner is written into it); that one is killed (201), the other runs on, renews and ends
// with its own code, its slot untouched.
func TestPolicyLimitLossIsolated(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	name := "cronlock.limit-loss"
	env := faultEnv("limit-loss", srv.Env(), "CRONLOCK_LIMIT=2", "CRONLOCK_LEASE=3")
	dirA, dirB := t.TempDir(), t.TempDir()
	a := golocktest.Start(t, env, golocktest.Job(dirA, 5, "")...)
	jobA := golocktest.WaitJob(t, dirA)
	b := golocktest.Start(t, env, golocktest.Job(dirB, 7, "")...)
	jobB := golocktest.WaitJob(t, dirB)
	slotA := name
	if ownerOf(t, c, name) != jobA.Owner {
		slotA = lockscript.SlotKey(name, 2)
	}
	slotB := map[string]string{name: lockscript.SlotKey(name, 2), lockscript.SlotKey(name, 2): name}[slotA]
	if ownerOf(t, c, slotA) != jobA.Owner || ownerOf(t, c, slotB) != jobB.Owner {
		t.Fatalf("slots: %s %s, %s %s; jobs: %s %s", slotA, ownerOf(t, c, slotA), slotB, ownerOf(t, c, slotB), jobA.Owner, jobB.Owner)
	}
	if err := c.HSet(ctx, slotA, "owner", "thief").Err(); err != nil {
		t.Fatal(err)
	}
	ra := a.WaitWithin(t, 10*time.Second)
	if ra.Code != 201 || !strings.Contains(ra.Stderr, "lock lost") {
		t.Errorf("holder A exited %d, want 201 for its lost slot:\n%s", ra.Code, ra.Stderr)
	}
	before := expiry(t, c, slotB)
	renewed := nextRenewal(t, c, slotB)
	if ownerOf(t, c, slotB) != jobB.Owner {
		t.Error("holder B's slot changed owner")
	}
	golocktest.FinishJob(t, dirB)
	rb := b.WaitWithin(t, 10*time.Second)
	t.Logf("measured: holder A exited %d %v after start; B renewed (%v → %v) and exited %d", ra.Code, ra.Took.Round(time.Millisecond),
		before.Format("15:04:05.000"), renewed.Format("15:04:05.000"), rb.Code)
	if rb.Code != 7 {
		t.Errorf("holder B exited %d, want its job's 7:\n%s", rb.Code, rb.Stderr)
	}
	if n, _ := c.Exists(ctx, slotB).Result(); n != 0 {
		t.Error("holder B's slot is still there after its release")
	}
	if owner, _ := c.HGet(ctx, slotA, "owner").Result(); owner != "thief" {
		t.Errorf("the thief's slot owner is %q: a release touched another owner's slot", owner)
	}
}

// TestPolicyLimitDisagree: runs that disagree on LIMIT for one lock refuse, 201, one line
// naming both limits; nothing runs. Both ways round.
func TestPolicyLimitDisagree(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, tc := range []struct{ holder, later string }{{"2", "1"}, {"1", "3"}, {"3", "2"}} {
		key := "limit-disagree-" + tc.holder + tc.later
		dir := t.TempDir()
		g := golocktest.Start(t, faultEnv(key, srv.Env(), "CRONLOCK_LIMIT="+tc.holder), golocktest.Job(dir, 0, "")...)
		golocktest.WaitJob(t, dir)
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, faultEnv(key, srv.Env(), "CRONLOCK_LIMIT="+tc.later), "touch", marker)
		cliWantCode(t, r, 201)
		lines := golockLines(r.Stderr)
		if len(lines) != 1 || !strings.Contains(lines[0], "CRONLOCK_LIMIT="+tc.holder) || !strings.Contains(lines[0], "CRONLOCK_LIMIT="+tc.later) {
			t.Errorf("holder LIMIT=%s, later LIMIT=%s: stderr %q, want one line naming both", tc.holder, tc.later, r.Stderr)
		}
		if cliExists(marker) {
			t.Errorf("LIMIT=%s ran beside a LIMIT=%s holder", tc.later, tc.holder)
		}
		golocktest.FinishJob(t, dir)
		cliWantCode(t, g.WaitWithin(t, 10*time.Second), 0)
	}
}

// TestPolicyInterval: with INTERVAL=3, a successful run keeps every other run (from any
// host) at 200 for 3 s by Redis's clock; after that one runs. A failed run lets the next
// tick run at once.
func TestPolicyInterval(t *testing.T) {
	if testing.Short() {
		t.Skip("long timing test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	log := cliPath(t, "log")
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=interval", "CRONLOCK_INTERVAL=3", "CRONLOCK_GRACE=0")...)
	// The hosts: golock itself runs in a namespace whose hostname is the host's, so the
	// lock record names it. (unshare runs golock; golock's job is the span job.)
	// A machine that does not allow UTS namespaces (no CAP_SYS_ADMIN) runs every "host" on
	// its own hostname: the interval, which Redis decides, is checked all the same.
	namespaces := exec.Command("unshare", "--uts", "true").Run() == nil
	if !namespaces {
		t.Log("unshare --uts is not allowed here: the hosts share this machine's hostname")
	}
	run := func(host string, code int) golocktest.Result {
		t.Helper()
		job := []string{"sh", "-c", `echo "start $(date +%s%N) $2" >> "$1"; exit "$3"`, "job", log, host, strconv.Itoa(code)}
		cmd := golocktest.Command(t, env, job...)
		if namespaces {
			cmd.Path, cmd.Args = "/usr/bin/unshare", append([]string{"unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, host, golocktest.Binary(t)}, job...)
		}
		return golocktest.RunCmd(t, cmd)
	}
	first := time.Now()
	cliWantCode(t, run("host-a", 0), 0)
	last, _ := srv.Client().HGetAll(context.Background(), lockscript.LastRunKey("cronlock.interval")).Result()
	if namespaces && last["host"] != "host-a" {
		t.Fatalf("last run %v: want host-a (golock in its own UTS namespace)", last)
	}
	for _, host := range []string{"host-b", "host-c", "host-a"} {
		r := run(host, 0)
		cliWantCode(t, r, 200)
		if r.Stderr != "" {
			t.Errorf("a run within INTERVAL said %q; cron would mail it", r.Stderr)
		}
	}
	if n := len(golocktest.ReadSpans(t, log)); n != 1 {
		t.Fatalf("%d runs within INTERVAL, want 1", n)
	}
	// After INTERVAL (Redis's clock) the next tick runs, on whichever host.
	var after time.Duration
	for {
		r := run("host-b", 3) // fails
		if r.Code == 3 {
			after = time.Since(first)
			break
		}
		cliWantCode(t, r, 200)
		if time.Since(first) > 10*time.Second {
			t.Fatal("no run 10 s after a success with INTERVAL=3")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The failed run does not count: the next tick runs at once.
	cliWantCode(t, run("host-c", 0), 0)
	cliWantCode(t, run("host-a", 0), 200)
	t.Logf("measured: INTERVAL=3: next run %v after the first success; a failed run let the next tick run at once", after.Round(time.Millisecond))
	if after < 3*time.Second {
		t.Errorf("a run %v after a success, within INTERVAL=3", after)
	}
}

// TestPolicySplay: SPLAY=2 spreads the starts of runs begun together over [0, 2 s).
func TestPolicySplay(t *testing.T) {
	if testing.Short() {
		t.Skip("long timing test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	const n = 10
	starts := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file := cliPath(t, "start")
			env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=splay-"+strconv.Itoa(i), "CRONLOCK_SPLAY=2", "CRONLOCK_GRACE=3")...)
			begun := time.Now()
			r := golocktest.Run(t, env, "sh", "-c", `date +%s%N > "$1"`, "job", file)
			if r.Code != 0 {
				t.Errorf("exit %d: %s", r.Code, r.Stderr)
				return
			}
			starts[i] = golocktest.ReadNanos(t, file).Sub(begun)
		}()
	}
	wg.Wait()
	slices.Sort(starts)
	t.Logf("measured: SPLAY=2, %d runs: job starts after %v … %v", n, starts[0].Round(time.Millisecond), starts[n-1].Round(time.Millisecond))
	if starts[n-1]-starts[0] < 500*time.Millisecond {
		t.Errorf("starts %v: not spread by SPLAY=2", starts)
	}
	if starts[n-1] > 3*time.Second {
		t.Errorf("a job started %v after golock, SPLAY=2", starts[n-1])
	}
}

// TestPolicySplaySignal: a signal during SPLAY's sleep ends golock quietly; nothing runs.
func TestPolicySplaySignal(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	marker := cliPath(t, "ran")
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_KEY=splay-signal", "CRONLOCK_SPLAY=30", "CRONLOCK_GRACE=40")...)
	g := golocktest.Start(t, env, "touch", marker)
	time.Sleep(300 * time.Millisecond)
	_ = g.Cmd.Process.Signal(syscall.SIGTERM)
	r := g.Wait()
	if r.Code != 200 || r.Stderr != "" || cliExists(marker) {
		t.Errorf("exit %d, stderr %q, ran %v: want 200, silent, nothing run", r.Code, r.Stderr, cliExists(marker))
	}
}

// TestPolicyReplace: a REPLACE run revokes the running holder: the old job gets TERM and
// ends, its lock is released, and only then does the new job start (the jobs' own
// timestamps). A holder running with ON_LOST=keep is not replaced: 200, one line.
func TestPolicyReplace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	env := faultEnv("replace", srv.Env(), "CRONLOCK_LEASE=3")
	old := golocktest.Start(t, env, golocktest.Job(dir, 0, "")...)
	golocktest.WaitJob(t, dir)
	newStart := cliPath(t, "new")
	begun := time.Now()
	r := golocktest.Run(t, append(env, "CRONLOCK_REPLACE=yes"), "sh", "-c", `date +%s%N > "$1"`, "job", newStart)
	cliWantCode(t, r, 0)
	ro := old.WaitWithin(t, 10*time.Second)
	if ro.Code != 201 || !strings.Contains(ro.Stderr, "CRONLOCK_REPLACE") {
		t.Errorf("old holder exited %d, want 201 naming CRONLOCK_REPLACE:\n%s", ro.Code, ro.Stderr)
	}
	termAt := golocktest.ReadNanos(t, filepath.Join(dir, "term"))
	startedAt := golocktest.ReadNanos(t, newStart)
	t.Logf("measured: REPLACE (LEASE 3): old job got TERM %v after the replacer began; new job started %v after the old one's TERM, %v in all",
		termAt.Sub(begun).Round(time.Millisecond), startedAt.Sub(termAt).Round(time.Millisecond), r.Took.Round(time.Millisecond))
	// The old job's trap wrote its TERM time as it exited; golock released only after the
	// job's whole tree was gone.
	if !startedAt.After(termAt) {
		t.Errorf("new job started at %v, before the old job ended at %v", startedAt, termAt)
	}

	// ON_LOST=keep: not replaced.
	dir = t.TempDir()
	keepEnv := faultEnv("replace-keep", srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_ON_LOST=keep")
	keeper := golocktest.Start(t, keepEnv, golocktest.Job(dir, 4, "")...)
	golocktest.WaitJob(t, dir)
	marker := cliPath(t, "ran")
	r = golocktest.Run(t, append(faultEnv("replace-keep", srv.Env(), "CRONLOCK_LEASE=3"), "CRONLOCK_REPLACE=yes"), "touch", marker)
	cliWantCode(t, r, 200)
	if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "CRONLOCK_ON_LOST=keep") {
		t.Errorf("stderr %q, want one line saying the holder runs with ON_LOST=keep", r.Stderr)
	}
	if cliExists(marker) {
		t.Error("the replacer ran beside a keep-mode holder")
	}
	time.Sleep(1500 * time.Millisecond) // a renewal of the keeper's: it still holds
	if cliExists(filepath.Join(dir, "term")) {
		t.Error("the keep-mode holder's job got TERM")
	}
	golocktest.FinishJob(t, dir)
	if rk := keeper.WaitWithin(t, 10*time.Second); rk.Code != 4 {
		t.Errorf("keep-mode holder exited %d, want its job's 4:\n%s", rk.Code, rk.Stderr)
	}
}

// TestPolicyLockDelay: with LOCK_DELAY=2, a golock SIGKILLed while its job runs leaves its
// lock taken for its lease plus 2 s: a competitor gets 200 until then. A clean release
// frees the lock at once.
func TestPolicyLockDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("long timing test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	dir := t.TempDir()
	env := faultEnv("delay", srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_LOCK_DELAY=2")
	g := golocktest.Start(t, env, golocktest.Job(dir, 0, "")...)
	golocktest.WaitJob(t, dir)
	leaseEnd := nextRenewal(t, c, "cronlock.delay").Add(-2 * time.Second) // the key's expiry is the lease's end + 2 s
	_ = g.Cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	g.WaitWithin(t, 5*time.Second)
	var took time.Time
	for {
		r := golocktest.Run(t, env, "true")
		if r.Code == 0 {
			took = time.Now()
			break
		}
		cliWantCode(t, r, 200)
		if time.Since(killed) > 15*time.Second {
			t.Fatal("lock not free 15 s after its holder was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("measured: LOCK_DELAY=2, LEASE=3: holder SIGKILLed; a competitor took the lock %v after the kill, %v after the lease's end",
		took.Sub(killed).Round(time.Millisecond), took.Sub(leaseEnd).Round(time.Millisecond))
	if took.Before(leaseEnd.Add(2*time.Second - 100*time.Millisecond)) {
		t.Errorf("taken %v after the lease's end, LOCK_DELAY=2", took.Sub(leaseEnd))
	}
	// A clean run: the next one runs at once.
	cliWantCode(t, golocktest.Run(t, env, "true"), 0)
	r := golocktest.Run(t, env, "true")
	cliWantCode(t, r, 0)
	t.Logf("measured: LOCK_DELAY=2: after a clean release the next run took %v in all", r.Took.Round(time.Millisecond))
}

// TestPolicyHeld: golock --held, run by the job: 0 while it holds the lock, 1 with a
// --min-left above its lease, 1 after a RESET (ON_LOST=keep, so the job runs on); 201
// outside a job.
func TestPolicyHeld(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	script := `g=$1; d=$2
"$g" --held; echo $? > "$d/a"
"$g" --held --min-left 1; echo $? > "$d/b"
"$g" --held --min-left 100; echo $? > "$d/c"
echo go > "$d/asked"
while [ ! -e "$d/reset" ]; do sleep 0.05; done
"$g" --held; echo $? > "$d/d"`
	env := faultEnv("held", srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_ON_LOST=keep")
	g := golocktest.Start(t, env, "sh", "-c", script, "job", golocktest.Binary(t), dir)
	golocktest.WaitForFile(t, filepath.Join(dir, "asked"), 10*time.Second)
	cliWantCode(t, golocktest.Run(t, append(env, "CRONLOCK_RESET=yes"), "--name", "cronlock.held"), 200)
	if err := os.WriteFile(filepath.Join(dir, "reset"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cliWantCode(t, g.WaitWithin(t, 10*time.Second), 0)
	got := ""
	for _, f := range []string{"a", "b", "c", "d"} {
		got += golocktest.WaitForFile(t, filepath.Join(dir, f), time.Second) + " "
	}
	t.Logf("measured: --held: holding %s", got)
	if got != "0 0 1 1 " {
		t.Errorf("--held, --min-left 1, --min-left 100, after RESET: %q, want 0 0 1 1", got)
	}
	r := golocktest.Run(t, golocktest.Env(srv.Env()...), "--held")
	cliWantCode(t, r, 201)
	if lines := golockLines(r.Stderr); len(lines) != 1 || !strings.Contains(lines[0], "CRONLOCK_OWNER") {
		t.Errorf("--held outside a job: %q, want one line naming CRONLOCK_OWNER", r.Stderr)
	}
	// Under LIMIT=2, each holder holds its own slot.
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		golocktest.Start(t, faultEnv("held-limit", srv.Env(), "CRONLOCK_LEASE=3", "CRONLOCK_LIMIT=2"),
			"sh", "-c", `"$1" --held; echo $? > "$2/a"; sleep 0.5`, "job", golocktest.Binary(t), d)
	}
	for _, d := range dirs {
		if v := golocktest.WaitForFile(t, filepath.Join(d, "a"), 10*time.Second); v != "0" {
			t.Errorf("--held in a LIMIT=2 holder: %s, want 0", v)
		}
	}
}

// TestPolicyBadSettings: every invalid policy setting is one line naming the variable,
// exit 201, and the job never runs.
func TestPolicyBadSettings(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, tt := range []struct {
		setting []string
		names   []string
	}{
		{[]string{"CRONLOCK_LIMIT=0"}, []string{"CRONLOCK_LIMIT"}},
		{[]string{"CRONLOCK_LIMIT=1001"}, []string{"CRONLOCK_LIMIT"}},
		{[]string{"CRONLOCK_LIMIT=two"}, []string{"CRONLOCK_LIMIT"}},
		{[]string{"CRONLOCK_INTERVAL=-1"}, []string{"CRONLOCK_INTERVAL"}},
		{[]string{"CRONLOCK_INTERVAL=2592001"}, []string{"CRONLOCK_INTERVAL"}},
		{[]string{"CRONLOCK_SPLAY=x"}, []string{"CRONLOCK_SPLAY"}},
		{[]string{"CRONLOCK_SPLAY=40"}, []string{"CRONLOCK_SPLAY", "CRONLOCK_GRACE"}},
		{[]string{"CRONLOCK_SPLAY=5", "CRONLOCK_GRACE=1"}, []string{"CRONLOCK_SPLAY", "CRONLOCK_GRACE"}},
		{[]string{"CRONLOCK_REPLACE=maybe"}, []string{"CRONLOCK_REPLACE"}},
		{[]string{"CRONLOCK_LOCK_DELAY=-1"}, []string{"CRONLOCK_LOCK_DELAY"}},
		{[]string{"CRONLOCK_LIMIT=2", "CRONLOCK_INTERVAL=60"}, []string{"CRONLOCK_INTERVAL", "CRONLOCK_LIMIT"}},
		{[]string{"CRONLOCK_LIMIT=2", "CRONLOCK_REPLACE=yes"}, []string{"CRONLOCK_REPLACE", "CRONLOCK_LIMIT"}},
	} {
		t.Run(strings.Join(tt.setting, " "), func(t *testing.T) {
			t.Parallel()
			marker := cliPath(t, "ran")
			r := golocktest.Run(t, golocktest.Env(append(srv.Env(), tt.setting...)...), "touch", marker)
			cliWantCode(t, r, 201)
			lines := cliLines(r.Stderr)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "golock: ") {
				t.Errorf("stderr %q, want one line", r.Stderr)
			}
			for _, name := range tt.names {
				if !strings.Contains(r.Stderr, name) {
					t.Errorf("stderr %q does not name %s", r.Stderr, name)
				}
			}
			if cliExists(marker) {
				t.Error("the job ran with a bad setting")
			}
		})
	}
	for _, args := range [][]string{{"--held", "true"}, {"--min-left", "3", "true"}, {"--held", "--min-left"}, {"--held", "--min-left", "-1"}} {
		r := golocktest.Run(t, golocktest.Env(srv.Env()...), args...)
		cliWantCode(t, r, 201)
		if !strings.Contains(r.Stderr, "--held") && !strings.Contains(r.Stderr, "--min-left") {
			t.Errorf("%v: %q", args, r.Stderr)
		}
	}
}
