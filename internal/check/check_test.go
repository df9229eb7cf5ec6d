package check_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/check"
	"github.com/golock/golock/lockscript"
)

// TestJudge covers the cases the CLI test cannot build in real time: a run under way
// with an old success, several holders under CRONLOCK_LIMIT, a foreign value.
func TestJudge(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	ok := &lockscript.LastRun{Host: "a", Ran: true, Started: now.Add(-50 * time.Hour), Duration: time.Minute,
		Success: now.Add(-50*time.Hour + time.Minute)}
	run := func(age time.Duration) lockscript.Holder {
		return lockscript.Holder{Kind: lockscript.Golock, Host: "b", PID: 7, Age: age}
	}
	young, old := run(time.Minute), run(30*time.Hour)
	for _, tc := range []struct {
		name string
		st   lockscript.Status
		want int
		text string
	}{
		{"old success, no run", lockscript.Status{Last: ok}, check.Critical, "longer than --max-age 24h0m0s"},
		{"old success, a run under way", lockscript.Status{Last: ok, Holder: &young}, check.OK, "running on b pid 7 for 1m0s"},
		{"a run stuck", lockscript.Status{Last: ok, Holder: &old}, check.Warning, "held by b pid 7 for 30h0m0s"},
		{"a stuck run in slot 2", lockscript.Status{Last: ok, Holder: &young, Others: []lockscript.Slot{{Holder: old}}},
			check.Warning, "for 30h0m0s, longer than"},
		{"foreign", lockscript.Status{Last: &lockscript.LastRun{Ran: true, Success: now}, Holder: &lockscript.Holder{Kind: lockscript.Foreign, Type: "list"}},
			check.Warning, "foreign list value"},
		{"failed, a run under way", lockscript.Status{Last: &lockscript.LastRun{Ran: true, Code: 1}, Holder: &young},
			check.Critical, "last run failed with exit 1"},
	} {
		tc.st.Name, tc.st.Now = "cronlock.x|y\n", now
		r := check.Judge(tc.st, 24*time.Hour)
		line := r.String()
		if r.Code != tc.want || !strings.Contains(line, tc.text) || strings.Count(line, "|") != 1 || strings.Contains(line, "\n") {
			t.Errorf("%s: %d %q; want %d and %q on one line, one |", tc.name, r.Code, line, tc.want, tc.text)
		}
	}
}

func TestJudgeNothingRecorded(t *testing.T) {
	st := lockscript.Status{Name: "cronlock.x", Now: time.UnixMilli(1_800_000_000_000)}
	if r := check.Judge(st, 0); r.Code != check.Unknown || !strings.Contains(r.Text, "no run recorded yet") {
		t.Errorf("no run recorded, no --max-age: %v, want UNKNOWN", r)
	}
	if r := check.Judge(st, time.Hour); r.Code != check.Critical {
		t.Errorf("no run recorded, --max-age 1h: %v, want CRITICAL", r)
	}
	st.Last = &lockscript.LastRun{Ran: true, Started: st.Now.Add(-time.Minute), Duration: 1511 * time.Millisecond,
		Success: st.Now.Add(-time.Minute), Ended: lockscript.Succeeded}
	if r := check.Judge(st, 0); r.Code != check.OK || !strings.Contains(r.String(), "last_duration=1.511s;") {
		t.Errorf("a success of 1.511 s: %v, want OK and last_duration=1.511s", r)
	}
	st.Last.Ended = lockscript.Lost
	if r := check.Judge(st, 0); r.Code != check.Warning || !strings.Contains(r.Text, "overlapped") {
		t.Errorf("a run whose lock was lost: %v, want WARNING", r)
	}
}
