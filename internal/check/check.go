// Package check judges one lock for a monitoring system: golock --check, a
// Nagios/Icinga plugin. It reads nothing itself: it judges what lockscript.Inspect read,
// by Redis's clock, and says so in the plugins' form: one line of text, then perfdata.
package check

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/lockscript"
)

// The monitoring plugins' exit codes.
const (
	OK       = 0 // the last run succeeded (or none is recorded and no --max-age was asked)
	Warning  = 1 // the holder has held the lock longer than --max-age, or a foreign value holds it
	Critical = 2 // the last run failed, or the last success is older than --max-age
	Unknown  = 3 // Redis could not be read
)

var words = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// Result is a judgement: a plugin code, one line of text, and the perfdata.
type Result struct {
	Code int
	Text string
	Perf []string // label=value[UOM];[warn];[crit];[min];[max]
}

// String is the plugin's output line: "GOLOCK OK - text | perfdata".
func (r Result) String() string {
	s := "GOLOCK " + words[r.Code] + " - " + r.Text
	if len(r.Perf) > 0 {
		s += " | " + strings.Join(r.Perf, " ")
	}
	return s
}

// Unreadable is the judgement when Redis could not be read: UNKNOWN, saying why.
func Unreadable(name string, err error) Result {
	return Result{Code: Unknown, Text: oneLine(fmt.Sprintf("%s: cannot read Redis: %v", name, err))}
}

// Unusable is the judgement when golock cannot even ask: a bad setting or option.
func Unusable(why string) Result {
	return Result{Code: Unknown, Text: oneLine(why)}
}

// Judge judges the lock st. maxAge is --max-age, zero when not given: then neither the
// age of the last success nor the holder's is judged.
//
//   - CRITICAL: the last run failed (exited non-zero, or could not start); or, with
//     maxAge and no run under way, no success is recorded or the last one ended longer
//     than maxAge ago.
//   - WARNING: with maxAge, the run under way has held the lock longer than maxAge (it
//     is stuck, or slow: its end decides); or a value golock does not know holds the
//     lock (no golock can take it).
//   - UNKNOWN: no run recorded and none under way, and no maxAge (nothing to judge: a
//     mistyped command looks just like this, so it is never OK).
//   - OK otherwise.
func Judge(st lockscript.Status, maxAge time.Duration) Result {
	var crit, warn, ok []string
	last, h := st.Last, st.Holder
	if last != nil {
		switch {
		case !last.Ran:
			crit = append(crit, fmt.Sprintf("last run could not start (exit %d) on %s, %s ago", last.Code, last.Host,
				age(st.Now.Sub(last.Started.Add(last.Duration)))))
		case last.Code != 0:
			crit = append(crit, fmt.Sprintf("last run failed with exit %d on %s, ended %s ago", last.Code, last.Host,
				age(st.Now.Sub(last.Started.Add(last.Duration)))))
		case last.Ended == lockscript.Revoked || last.Ended == lockscript.Replaced || last.Ended == lockscript.TimedOut:
			crit = append(crit, fmt.Sprintf("last run was stopped (%s) on %s, %s ago", last.Ended, last.Host,
				age(st.Now.Sub(last.Started.Add(last.Duration)))))
		default:
			ok = append(ok, fmt.Sprintf("last run succeeded on %s, ended %s ago, took %s", last.Host,
				age(st.Now.Sub(last.Started.Add(last.Duration))), age(last.Duration)))
		}
	}
	var success time.Time
	if last != nil {
		success = last.Success
	}
	// A run under way is judged by how long it has held the lock; the age of the last
	// success only when none is.
	// With CRONLOCK_LIMIT above 1 several runs may hold the lock: the longest-running counts.
	var holders []*lockscript.Holder
	if h != nil {
		holders = append(holders, h)
	}
	for i := range st.Others {
		holders = append(holders, &st.Others[i].Holder)
	}
	var run *lockscript.Holder
	for _, c := range holders {
		if c.Kind == lockscript.Golock && !c.Released && (run == nil || c.Age > run.Age) {
			run = c
		}
	}
	running := run != nil
	switch {
	case running && maxAge > 0 && run.Age > maxAge:
		warn = append(warn, fmt.Sprintf("held by %s pid %d for %s, longer than --max-age %s", run.Host, run.PID,
			age(run.Age), age(maxAge)))
	case running:
		ok = append(ok, fmt.Sprintf("running on %s pid %d for %s", run.Host, run.PID, age(run.Age)))
	case maxAge > 0 && success.IsZero():
		crit = append(crit, "no successful run recorded")
	case maxAge > 0 && st.Now.Sub(success) > maxAge:
		crit = append(crit, fmt.Sprintf("last success ended %s ago, longer than --max-age %s",
			age(st.Now.Sub(success)), age(maxAge)))
	}
	if !success.IsZero() && last != nil && (last.Code != 0 || !last.Ran || last.Ended != lockscript.Succeeded && last.Ended != lockscript.Lost) {
		ok = append(ok, fmt.Sprintf("last success ended %s ago", age(st.Now.Sub(success))))
	}
	if last != nil && last.Ended == lockscript.Lost {
		warn = append(warn, "the last run's lock was gone or another's by its end: another run may have overlapped it")
	}
	if h != nil && h.Kind == lockscript.Foreign {
		warn = append(warn, fmt.Sprintf("held by a foreign %s value: no golock can take it (CRONLOCK_RESET=yes clears it)", h.Type))
	}
	unknown := last == nil && len(crit)+len(warn)+len(ok) == 0
	if unknown {
		ok = append(ok, "no run recorded yet (is the command as the crontab runs it?)")
	}

	r := Result{Code: OK}
	switch {
	case unknown:
		r.Code = Unknown
	case len(crit) > 0:
		r.Code = Critical
	case len(warn) > 0:
		r.Code = Warning
	}
	r.Text = oneLine(st.Name + ": " + strings.Join(append(append(crit, warn...), ok...), "; "))
	limit := ""
	if maxAge > 0 {
		limit = seconds(maxAge)
	}
	held := 0
	var holderAge time.Duration
	if h != nil {
		held = 1
	}
	if running {
		holderAge = run.Age
	}
	r.Perf = append(r.Perf, fmt.Sprintf("held=%d;;;0;1", held), fmt.Sprintf("holder_age=%ss;%s;;0", seconds(holderAge), limit))
	if !success.IsZero() {
		r.Perf = append(r.Perf, fmt.Sprintf("last_success_age=%ss;;%s;0", seconds(st.Now.Sub(success)), limit))
	}
	if last != nil {
		r.Perf = append(r.Perf, fmt.Sprintf("last_duration=%ss;;;0", seconds(last.Duration)),
			fmt.Sprintf("last_exit=%d;;;0", last.Code))
	}
	return r
}

// age is a duration for a person: to the second from a minute up, else to 0.1 s.
func age(d time.Duration) string {
	if d >= time.Minute || d <= -time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// seconds is d in seconds, to the millisecond, for perfdata: 1.511, not 1.5110000000000001.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Round(time.Millisecond).Milliseconds())/1000, 'f', -1, 64)
}

// oneLine keeps the text on one line and clear of perfdata's separator: a lock name is
// the user's, and may hold anything.
func oneLine(s string) string { return strings.ReplaceAll(logging.OneLine(s), "|", "/") }
