package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// judgeOverlaps sweeps each lock's jobs in time order and reports every start that made
// more than LIMIT jobs run at once.
func (v *verdict) judgeOverlaps(jobs map[int]*jobRecord, runs map[int]*runRecord) {
	type event struct {
		at    int64
		start bool
		j     *jobRecord
	}
	byLock := map[string][]event{}
	for _, j := range jobs {
		end := j.stopped(runs[j.run].ignoreTerm)
		byLock[j.lock] = append(byLock[j.lock], event{j.start, true, j}, event{end, false, j})
	}
	for lock, evs := range byLock {
		sort.Slice(evs, func(a, b int) bool {
			if evs[a].at != evs[b].at {
				return evs[a].at < evs[b].at
			}
			return !evs[a].start // an end before a start at the same instant
		})
		active := map[*jobRecord]bool{}
		for _, e := range evs {
			if !e.start {
				delete(active, e.j)
				continue
			}
			active[e.j] = true
			if len(active) <= v.opts.limit() {
				continue
			}
			// The overlap lasts until the first of the others ends.
			var with []string
			var excused bool
			until := int64(1 << 62)
			for o := range active {
				until = min(until, o.stopped(runs[o.run].ignoreTerm))
				if o != e.j {
					with = append(with, fmt.Sprintf("run %d (fence %s, started %s before)", o.run, o.fenceText, ms(e.at-o.start)))
				}
				if o != e.j && stoppedAcross(runs[o.run], o, runs[e.j.run], e.at) {
					excused = true
				}
			}
			if excused {
				v.pausedOverlaps++
				continue
			}
			sort.Strings(with)
			v.overlaps = append(v.overlaps, finding{float64(until - e.at), fmt.Sprintf("%s: run %d (fence %s) started while %s ran, for %s",
				lock, e.j.run, e.j.fenceText, strings.Join(with, ", "), ms(until-e.at))})
		}
	}
}

// stoppedAcross says whether the golock of an older run could not stop its job before a
// newer run started at at because it was stopped (SIGSTOP) itself, a limit that golock
// documents: stopped so long that the lease could run out, or still stopped when the newer
// golock started, or stopped after it had sent SIGTERM and before its SIGKILL was due.
func stoppedAcross(old *runRecord, oj *jobRecord, newer *runRecord, at int64) bool {
	for _, s := range old.stops {
		if s.from >= at || s.to+int64(lease) <= at {
			continue
		}
		if time.Duration(s.to-s.from) >= longStop || s.to >= newer.start || oj.term != 0 && oj.term <= s.from {
			return true
		}
	}
	return false
}

// judgeFences checks each lock's fences: every job has one, no two share one, and a job
// that started after another had ended has the higher.
func (v *verdict) judgeFences(jobs map[int]*jobRecord, runs map[int]*runRecord) {
	byLock := map[string][]*jobRecord{}
	for _, j := range jobs {
		if j.fence <= 0 {
			v.fences = append(v.fences, finding{0, fmt.Sprintf("%s: run %d got no fence (CRONLOCK_FENCE=%s)", j.lock, j.run, j.fenceText)})
			continue
		}
		byLock[j.lock] = append(byLock[j.lock], j)
	}
	for lock, js := range byLock {
		seen := map[int64]int{}
		for _, j := range js {
			if other, dup := seen[j.fence]; dup {
				v.fences = append(v.fences, finding{1, fmt.Sprintf("%s: runs %d and %d both got fence %d", lock, other, j.run, j.fence)})
			}
			seen[j.fence] = j.run
		}
		// By end time, the highest fence of the jobs ended so far must be below each later
		// start's.
		ends := append([]*jobRecord{}, js...)
		sort.Slice(ends, func(a, b int) bool {
			return ends[a].stopped(runs[ends[a].run].ignoreTerm) < ends[b].stopped(runs[ends[b].run].ignoreTerm)
		})
		starts := append([]*jobRecord{}, js...)
		sort.Slice(starts, func(a, b int) bool { return starts[a].start < starts[b].start })
		var top *jobRecord
		i := 0
		for _, s := range starts {
			for i < len(ends) && ends[i].stopped(runs[ends[i].run].ignoreTerm) < s.start {
				if top == nil || ends[i].fence > top.fence {
					top = ends[i]
				}
				i++
			}
			if top != nil && top.fence >= s.fence {
				v.fences = append(v.fences, finding{float64(top.fence - s.fence), fmt.Sprintf("%s: run %d started with fence %d after run %d had ended with fence %d",
					lock, s.run, s.fence, top.run, top.fence)})
			}
		}
	}
}

func (v *verdict) print(w io.Writer) {
	o := v.opts
	fmt.Fprintf(w, "soak: config %s (%s), %v, %d hosts, %d locks, LIMIT %d; LEASE %v, KILL_GRACE %v, REDIS_TIMEOUT %v; seed %d\n",
		o.config, configs[o.config], o.duration, o.hosts, o.locks, o.limit(), lease, killGrace, redisTimeout, o.seed)
	fmt.Fprintf(w, "machine: %d CPUs, load average %s at the start, %s at the end\n", runtime.NumCPU(), v.loads[0], v.loads[1])
	var kinds []string
	for k := range v.faultsByKind {
		kinds = append(kinds, fmt.Sprintf("%d %s", v.faultsByKind[k], k))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "faults injected: %s\n", strings.Join(kinds, ", "))
	var bands []string
	for k := range v.exposure {
		bands = append(bands, k)
	}
	sort.Strings(bands)
	fmt.Fprintln(w, "jobs running through each kind of fault, by its length (tolerance: worst phase 1.5s, best 2.5s):")
	for _, k := range bands {
		e := v.exposure[k]
		fmt.Fprintf(w, "  %-28s %4d faults, %4d jobs exposed, %4d killed for a lost lock within a lease of it\n", k, e.faults, e.jobs, e.killed)
	}
	fmt.Fprintf(w, "runs: %d golocks, %d jobs, %d held elsewhere (200), %d jobs killed with a fault to explain it, %d exits 201 before a job with a fault to explain it, %d overlaps after a golock was SIGSTOPped past its lease (a documented limit)\n",
		v.runs, v.jobs, v.held, v.killed, v.failedNoJob, v.pausedOverlaps)
	if o.minReplicas() > 0 || v.replicaGaps > 0 {
		fmt.Fprintf(w, "replicas: %d spans, %v in all, with fewer than CRONLOCK_MIN_REPLICAS=%d online replicas on a master (after failovers, until the old master was back and synced); %d exits 201 before a job for want of them\n",
			v.replicaGaps, v.replicaGapTime.Round(time.Millisecond), o.minReplicas(), v.failedNoReplica)
	}
	if len(v.shortKills) > 0 {
		fmt.Fprintf(w, "kills after faults that were each within the worst phase's tolerance (ridden through alone; together they may not be): %d\n", len(v.shortKills))
		for i, f := range v.shortKills {
			if i == 5 {
				fmt.Fprintf(w, "  … and %d more\n", len(v.shortKills)-5)
				break
			}
			fmt.Fprintf(w, "  %s\n", f.text)
		}
	}
	for _, c := range []struct {
		name string
		fs   []finding
	}{
		{"overlaps (more than LIMIT jobs of a lock at once)", v.overlaps},
		{"fences out of order", v.fences},
		{"hangs (runs longer than the settings allow)", v.hangs},
		{"needless kills", v.needless},
		{"exits nobody explains", v.unexplained},
		{"garbled job logs", v.garbled},
	} {
		fmt.Fprintf(w, "%s: %d\n", c.name, len(c.fs))
		sort.SliceStable(c.fs, func(a, b int) bool { return c.fs[a].score > c.fs[b].score })
		for i, f := range c.fs {
			if i == 5 {
				fmt.Fprintf(w, "  … and %d more\n", len(c.fs)-5)
				break
			}
			fmt.Fprintf(w, "  %s\n", f.text)
		}
	}
	verdict := "PASS"
	if v.findings() > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "soak: %s %v: %d runs, %d jobs, %d held, %d faults, %d overlaps, %d fences out of order, %d hangs, %d needless kills, %d unexplained exits: %s\n",
		o.config, o.duration, v.runs, v.jobs, v.held, total(v.faultsByKind), len(v.overlaps), len(v.fences), len(v.hangs), len(v.needless), len(v.unexplained)+len(v.garbled), verdict)
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
