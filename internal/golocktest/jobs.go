package golocktest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The jobs tests give golock. Two kinds: a job the test holds running until it says
// finish (Job), and jobs that log when they ran (SpanJob), for policies that decide which
// runs overlap.

// Job is a job for golock that runs in DIR until the test finishes it: sh -c SCRIPT job
// DIR CODE [MODE]. It records in DIR/job "pid owner fence" (its CRONLOCK_OWNER and
// CRONLOCK_FENCE), runs until DIR/finish appears (see FinishJob), writes the time (unix ns)
// to DIR/ended and exits CODE. On SIGTERM it writes the time (unix ns) to DIR/term and
// exits 143. MODE "ignore-term" ignores SIGTERM instead; "grandchild" also starts `sleep
// 60` in the background, its pid in DIR/gpid.
func Job(dir string, code int, mode string) []string {
	return []string{"sh", "-c", jobScript, "job", dir, strconv.Itoa(code), mode}
}

const jobScript = `d=$1
if [ "$3" = ignore-term ]; then
  trap '' TERM
else
  trap 'date +%s%N > "$d/term.tmp"; mv "$d/term.tmp" "$d/term"; exit 143' TERM
fi
if [ "$3" = grandchild ]; then
  sleep 60 &
  echo $! > "$d/gpid.tmp" && mv "$d/gpid.tmp" "$d/gpid"
fi
echo $$ "$CRONLOCK_OWNER" "$CRONLOCK_FENCE" > "$d/job.tmp" && mv "$d/job.tmp" "$d/job"
while [ ! -e "$d/finish" ]; do sleep 0.05; done
date +%s%N > "$d/ended.tmp" && mv "$d/ended.tmp" "$d/ended"
exit "$2"`

// JobInfo is what a Job recorded about itself.
type JobInfo struct {
	PID   int
	Owner string
	Fence int64
}

// JobStarted reports whether the Job in dir has started; when it has, it returns what the
// job recorded.
func JobStarted(t testing.TB, dir string) (JobInfo, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "job"))
	if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
		return JobInfo{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		t.Fatalf("job recorded %q, want pid owner fence", f)
	}
	pid, err1 := strconv.Atoi(f[0])
	fence, err2 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("job recorded %q: %v", f, err)
	}
	return JobInfo{PID: pid, Owner: f[1], Fence: fence}, true
}

// WaitJob waits up to 10 seconds for the Job in dir to start and returns what it
// recorded. The job is killed at the test's end.
func WaitJob(t testing.TB, dir string) JobInfo {
	t.Helper()
	WaitForFile(t, filepath.Join(dir, "job"), 10*time.Second)
	job, _ := JobStarted(t, dir)
	t.Cleanup(func() { _ = syscall.Kill(job.PID, syscall.SIGKILL) })
	return job
}

// FinishJob tells the Job in dir to finish.
func FinishJob(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "finish"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// WaitForFile waits up to d for path to hold a whole line and returns it, trimmed.
func WaitForFile(t testing.TB, path string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %v", path, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ReadNanos reads a time written as unix nanoseconds (date +%s%N) to path.
func ReadNanos(t testing.TB, path string) time.Time {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return time.Unix(0, ns)
}

// SpanJob is a job that appends "start NS" and "end NS" (unix ns) lines, each with its
// own id, to log, sleeping for secs between them.
func SpanJob(log, id string, secs float64) []string {
	return []string{"sh", "-c", `echo "start $(date +%s%N) $2" >> "$1"; sleep "$3"; echo "end $(date +%s%N) $2" >> "$1"`,
		"job", log, id, strconv.FormatFloat(secs, 'f', -1, 64)}
}

// Span is one job's run, read back from its log.
type Span struct{ Start, End time.Time }

// ReadSpans reads a SpanJob log: every job that started, by id; End is zero for a job
// that has not ended (or was killed).
func ReadSpans(t testing.TB, log string) map[string]*Span {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	spans := map[string]*Span{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("job log line %q", l)
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("job log line %q: %v", l, err)
		}
		if spans[f[2]] == nil {
			spans[f[2]] = &Span{}
		}
		if f[0] == "start" {
			spans[f[2]].Start = time.Unix(0, ns)
		} else {
			spans[f[2]].End = time.Unix(0, ns)
		}
	}
	return spans
}
