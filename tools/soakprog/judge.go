package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// jobRecord is what one job logged.
type jobRecord struct {
	run       int
	lock      string
	fence     int64 // 0: none given
	fenceText string
	start     int64
	lastTick  int64
	term      int64 // first SIGTERM, or 0
	end       int64 // its own end, or 0
}

// stopped is when the job ended: its end line; else its SIGTERM, unless it ignores
// SIGTERM; else (SIGKILLed) a tick after its last sign of life.
func (j *jobRecord) stopped(ignoreTerm bool) int64 {
	switch {
	case j.end != 0:
		return j.end
	case j.term != 0 && !ignoreTerm:
		return j.term
	}
	return max(j.start, j.lastTick, j.term) + int64(tickEvery)
}

// lastSign is the job's last line.
func (j *jobRecord) lastSign() int64 { return max(j.start, j.lastTick, j.term, j.end) }

func parseJobs(log string) (map[int]*jobRecord, []string) {
	jobs := map[int]*jobRecord{}
	var bad []string
	get := func(run string) *jobRecord {
		id, _ := strconv.Atoi(run)
		j := jobs[id]
		if j == nil {
			j = &jobRecord{run: id}
			jobs[id] = j
		}
		return j
	}
	for _, line := range strings.Split(log, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		t, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		switch {
		case f[0] == "start" && len(f) == 6:
			j := get(f[1])
			j.lock, j.fenceText = f[2], f[3]
			j.fence, _ = strconv.ParseInt(f[3], 10, 64)
			j.start, err = strconv.ParseInt(f[4], 10, 64)
		case f[0] == "tick" && len(f) == 3:
			get(f[1]).lastTick = max(get(f[1]).lastTick, t)
		case f[0] == "term" && len(f) == 3:
			if j := get(f[1]); j.term == 0 {
				j.term = t
			}
		case f[0] == "end" && len(f) == 3:
			get(f[1]).end = t
		default:
			err = fmt.Errorf("unknown line")
		}
		if err != nil {
			bad = append(bad, line)
		}
	}
	return jobs, bad
}

// finding is one thing the judge holds against the run, with the figure that ranks it.
type finding struct {
	score float64
	text  string
}

// verdict is the judge's count.
type verdict struct {
	opts                 options
	loads                [2]string // load averages at the start and the end
	runs, jobs, held     int
	killed               int // jobs stopped for a lost lock, with a fault to explain it
	failedNoJob          int // 201 before any job ran, with a fault to explain it
	failedNoReplica      int // 201 before any job ran for want of replicas, in a noReplica span
	replicaGaps          int
	replicaGapTime       time.Duration
	faultsByKind         map[string]int
	exposure             map[string]*exposure
	pausedOverlaps       int       // overlaps where a golock had been SIGSTOPped past its lease
	shortKills           []finding // kills where every fault near was shorter than the worst phase
	overlaps, fences     []finding
	hangs, needless      []finding
	unexplained, garbled []finding
}

// exposure counts, for one kind and length band of fault, the jobs that ran through one
// and how many of them were stopped for a lost lock.
type exposure struct{ faults, jobs, killed int }

func (v *verdict) findings() int {
	return len(v.overlaps) + len(v.fences) + len(v.hangs) + len(v.needless) + len(v.unexplained) + len(v.garbled)
}

// A lease can run out while its golock is stopped once the stop outlasts the two thirds of
// a lease that the last renewal left at worst.
var longStop = 2*lease/3 - 100*time.Millisecond

func ms(ns int64) string { return time.Duration(ns).Round(time.Millisecond).String() }

func judge(res *result) *verdict {
	o := res.opts
	v := &verdict{opts: o, loads: [2]string{res.loadStart, res.loadEnd}, faultsByKind: map[string]int{}, exposure: map[string]*exposure{}}
	jobs, bad := parseJobs(res.jobLog)
	for _, l := range bad {
		v.garbled = append(v.garbled, finding{0, "a job log line that makes no sense: " + strconv.Quote(l)})
	}
	runs := map[int]*runRecord{}
	for _, r := range res.runs {
		runs[r.id] = r
	}
	for id, j := range jobs {
		if runs[id] == nil || j.start == 0 {
			v.garbled = append(v.garbled, finding{0, fmt.Sprintf("job of run %d logged without a start or a run", id)})
			delete(jobs, id)
		}
	}
	// The spans without replicas are not faults: they explain one kind of refusal only.
	var faults, gaps []fault
	for _, f := range res.faults {
		if f.kind == noReplica {
			gaps = append(gaps, f)
			v.replicaGaps++
			v.replicaGapTime += f.length
			continue
		}
		faults = append(faults, f)
		v.faultsByKind[f.kind]++
	}

	// Faults near a run explain a failure: one that touched its span, or ended less than a
	// lease before the failure.
	near := func(r *runRecord, from, to int64) (string, bool) {
		for _, f := range faults {
			if f.run != 0 && f.run != r.id {
				continue // another golock's SIGSTOP
			}
			if f.window.from <= to && f.window.to+int64(lease) >= from {
				return f.kind, true
			}
		}
		return "", false
	}
	// A span without the replicas CRONLOCK_MIN_REPLICAS asks for explains a refusal for
	// want of them while the run lasted.
	noReplicaDuring := func(r *runRecord) bool {
		if !strings.Contains(r.stderr, replicaRefused) {
			return false
		}
		for _, g := range gaps {
			if g.window.from <= r.exit && g.window.to >= r.start {
				return true
			}
		}
		return false
	}

	v.judgeOverlaps(jobs, runs)
	v.judgeFences(jobs, runs)

	for _, r := range res.runs {
		v.runs++
		j := jobs[r.id]
		var stopped int64
		for _, s := range r.stops {
			stopped += s.to - s.from
		}
		// Hangs: the longest a run may take is its job, a lease, and the Redis waits on
		// either side (two tries each of acquire and release, each at most REDIS_TIMEOUT),
		// plus whatever time it was stopped; the job must not outlive golock.
		allowed := int64(time.Duration(r.jobMs)*time.Millisecond+lease+4*redisTimeout+reconnectBackoff+time.Second) + stopped
		took := r.exit - r.start
		switch {
		case r.hung:
			v.hangs = append(v.hangs, finding{float64(took), fmt.Sprintf("run %d (host %d, %s): golock still running %s after it started (job %dms); killed by the soak", r.id, r.host, r.lock, ms(took), r.jobMs)})
		case took > allowed:
			v.hangs = append(v.hangs, finding{float64(took - allowed), fmt.Sprintf("run %d (host %d, %s): golock took %s for a job of %dms, %s more than the settings allow (exit %d)", r.id, r.host, r.lock, ms(took), r.jobMs, ms(took-allowed), r.code)})
		}
		if j != nil && j.lastSign() > r.exit {
			v.hangs = append(v.hangs, finding{float64(j.lastSign() - r.exit), fmt.Sprintf("run %d (%s): the job still logged %s after golock exited", r.id, r.lock, ms(j.lastSign()-r.exit))})
		}

		if j != nil {
			v.jobs++
		}
		line := oneLine(r.stderr)
		switch {
		case r.hung:
		case r.code == 200 && j == nil:
			v.held++
		case r.code == 0 && j != nil && j.end != 0:
		case killedAt(r, j) != 0:
			killAt := killedAt(r, j)
			if killAt-r.start < int64(lease/3) {
				v.needless = append(v.needless, finding{float64(lease/3) - float64(killAt-r.start), fmt.Sprintf("run %d (%s, fence %s): job killed %s after golock started, before its first renewal was due: %s", r.id, r.lock, j.fenceText, ms(killAt-r.start), line)})
			} else if _, ok := near(r, r.start, killAt); ok {
				v.killed++
				if causes := shortCauses(faults, r, j, killAt); causes != "" {
					v.shortKills = append(v.shortKills, finding{float64(killAt - j.start), fmt.Sprintf("run %d (%s, fence %s): killed %s after its job started; faults started in the lease before: %s; golock said: %s", r.id, r.lock, j.fenceText, ms(killAt-j.start), causes, line)})
				}
			} else {
				v.needless = append(v.needless, finding{float64(killAt - r.start), fmt.Sprintf("run %d (%s, fence %s): job killed %s after golock started with no fault near: %s", r.id, r.lock, j.fenceText, ms(killAt-r.start), line)})
			}
		case r.code == 201 && j == nil:
			if _, ok := near(r, r.start, r.exit); ok {
				v.failedNoJob++
			} else if noReplicaDuring(r) {
				v.failedNoReplica++
			} else {
				v.unexplained = append(v.unexplained, finding{1, fmt.Sprintf("run %d (%s): exit 201 with no fault near and no job run: %s", r.id, r.lock, line)})
			}
		default:
			what := "no job run"
			if j != nil {
				what = fmt.Sprintf("job started (fence %s)", j.fenceText)
				if j.end != 0 {
					what += " and ended"
				}
			}
			v.unexplained = append(v.unexplained, finding{1, fmt.Sprintf("run %d (%s): exit %d, %s: %s", r.id, r.lock, r.code, what, line)})
		}
	}

	// Exposure: for each fault, the jobs that ran while it lasted, and which of them were
	// stopped for a lost lock.
	for _, f := range faults {
		e := v.exposure[f.kind+" "+band(f)]
		if e == nil {
			e = &exposure{}
			v.exposure[f.kind+" "+band(f)] = e
		}
		e.faults++
		for id, j := range jobs {
			r := runs[id]
			if f.run != 0 && f.run != id {
				continue
			}
			if j.start <= f.window.to && j.stopped(r.ignoreTerm) >= f.window.from {
				e.jobs++
				if k := killedAt(r, j); k != 0 && k >= f.window.from && k <= max(f.window.from, j.start)+int64(lease) {
					e.killed++
				}
			}
		}
	}
	return v
}

// shortCauses lists the faults that began within a lease before a kill, when each of them
// was shorter than the worst phase's tolerance (so that, alone, it should have been ridden
// through); otherwise "".
func shortCauses(faults []fault, r *runRecord, j *jobRecord, killAt int64) string {
	var causes []string
	for _, f := range faults {
		if f.run != 0 && f.run != r.id {
			continue
		}
		if f.window.to < max(j.start, killAt-int64(lease)) || f.window.from > killAt {
			continue
		}
		if f.length >= lease-killGrace-lease/3 {
			return ""
		}
		c := fmt.Sprintf("%s of %v %s before the kill", f.kind, f.length.Round(time.Millisecond), ms(killAt-f.window.from))
		if f.detail != "" {
			c += " (" + f.detail + ")"
		}
		causes = append(causes, c)
	}
	return strings.Join(causes, ", ")
}

// killedAt is when golock stopped the job for a lost lock (its SIGTERM, or golock's exit
// when the job never logged one), or 0 when it did not. golock's line for it says what
// happened to the lock, then "job killed (CRONLOCK_ON_LOST=kill)".
func killedAt(r *runRecord, j *jobRecord) int64 {
	if j == nil || r.code != 201 || !strings.Contains(r.stderr, "; job killed (CRONLOCK_ON_LOST=kill)") {
		return 0
	}
	if j.term != 0 {
		return j.term
	}
	return r.exit
}

// band says how a fault's length compares with the tolerance: within the worst phase
// (LEASE − KILL_GRACE − LEASE/3), between the phases, or past the best (LEASE − KILL_GRACE).
func band(f fault) string {
	d := f.length
	worst, best := lease-killGrace-lease/3, lease-killGrace
	switch {
	case f.kind == "reset":
		return "(instant)"
	case d < worst:
		return "< " + worst.String()
	case d < best:
		return worst.String() + "–" + best.String()
	}
	return "≥ " + best.String()
}

func oneLine(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " | "))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "(golock said nothing)"
	}
	return s
}
