package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const sec = int64(time.Second)

// logOf writes a job's lines as soak-job does: start, a tick every second, and end or term.
func logOf(run int, lock string, fence string, from, to int64, last string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "start %d %s %s %d 100\n", run, lock, fence, from)
	for t := from + sec; t < to; t += sec {
		fmt.Fprintf(&b, "tick %d %d\n", run, t)
	}
	if last != "" {
		fmt.Fprintf(&b, "%s %d %d\n", last, run, to)
	}
	return b.String()
}

func TestJudge(t *testing.T) {
	opts := options{config: "aof", duration: time.Minute, hosts: 2, locks: 1}
	refused := "golock: only 0 of CRONLOCK_MIN_REPLICAS=1 replicas acknowledged the lock in time; not running lock=cronlock.a"
	lost := "golock: Redis did not confirm a renewal of lock L in time (i/o timeout), so its lease may end while the job runs; job killed (CRONLOCK_ON_LOST=kill)"
	for _, tc := range []struct {
		name   string
		runs   []*runRecord
		faults []fault
		log    string
		want   func(v *verdict) bool
	}{
		{"one after another", []*runRecord{
			{id: 1, lock: "a", jobMs: 2000, start: 10 * sec, exit: 13 * sec},
			{id: 2, lock: "a", jobMs: 2000, start: 13 * sec, exit: 16 * sec, code: 0},
		}, nil, logOf(1, "a", "5", 11*sec, 13*sec, "end") + logOf(2, "a", "6", 14*sec, 16*sec, "end"),
			func(v *verdict) bool { return v.findings() == 0 && v.jobs == 2 }},
		{"an overlap", []*runRecord{
			{id: 1, lock: "a", jobMs: 3000, start: 10 * sec, exit: 14 * sec},
			{id: 2, lock: "a", jobMs: 3000, start: 12 * sec, exit: 16 * sec},
		}, nil, logOf(1, "a", "5", 11*sec, 14*sec, "end") + logOf(2, "a", "6", 13*sec, 16*sec, "end"),
			func(v *verdict) bool { return len(v.overlaps) == 1 && v.findings() == 1 }},
		{"an overlap after a long SIGSTOP is a documented limit", []*runRecord{
			{id: 1, lock: "a", jobMs: 5000, start: 10 * sec, exit: 17 * sec, stops: []window{{12 * sec, 15 * sec}}, code: 201, stderr: lost},
			{id: 2, lock: "a", jobMs: 3000, start: 14 * sec, exit: 18 * sec},
		}, []fault{{kind: "sigstop", window: window{12 * sec, 15 * sec}, length: 3 * time.Second, run: 1}},
			logOf(1, "a", "5", 11*sec, 15*sec, "term") + logOf(2, "a", "6", 14*sec+sec/2, 18*sec, "end"),
			func(v *verdict) bool { return v.pausedOverlaps == 1 && v.findings() == 0 && v.killed == 1 }},
		{"a fence going back", []*runRecord{
			{id: 1, lock: "a", jobMs: 2000, start: 10 * sec, exit: 13 * sec},
			{id: 2, lock: "a", jobMs: 2000, start: 13 * sec, exit: 16 * sec},
		}, nil, logOf(1, "a", "7", 11*sec, 13*sec, "end") + logOf(2, "a", "6", 14*sec, 16*sec, "end"),
			func(v *verdict) bool { return len(v.fences) == 1 && v.findings() == 1 }},
		{"a kill with no fault near", []*runRecord{
			{id: 1, lock: "a", jobMs: 5000, start: 10 * sec, exit: 14 * sec, code: 201, stderr: lost},
		}, []fault{{kind: "blackhole", window: window{2 * sec, 3 * sec}, length: time.Second}},
			logOf(1, "a", "5", 10*sec, 13*sec, "term"),
			func(v *verdict) bool { return len(v.needless) == 1 && v.findings() == 1 }},
		{"a kill after a blackhole", []*runRecord{
			{id: 1, lock: "a", jobMs: 5000, start: 10 * sec, exit: 14 * sec, code: 201, stderr: lost},
		}, []fault{{kind: "blackhole", window: window{11 * sec, 14 * sec}, length: 3 * time.Second}},
			logOf(1, "a", "5", 10*sec, 13*sec, "term"),
			func(v *verdict) bool { return v.killed == 1 && v.findings() == 0 }},
		{"a kill before the first renewal was due", []*runRecord{
			{id: 1, lock: "a", jobMs: 5000, start: 10 * sec, exit: 11 * sec, code: 201, stderr: lost},
		}, []fault{{kind: "blackhole", window: window{10 * sec, 14 * sec}, length: 4 * time.Second}},
			logOf(1, "a", "5", 10*sec, 10*sec+sec/2, "term"),
			func(v *verdict) bool { return len(v.needless) == 1 }},
		{"a hang, and an exit nobody explains", []*runRecord{
			{id: 1, lock: "a", jobMs: 1000, start: 10 * sec, exit: 30 * sec, code: 0},
			{id: 2, lock: "a", jobMs: 1000, start: 40 * sec, exit: 41 * sec, code: 3},
		}, nil, logOf(1, "a", "5", 10*sec, 11*sec, "end"),
			func(v *verdict) bool { return len(v.hangs) == 1 && len(v.unexplained) == 1 && v.findings() == 2 }},
		{"a refusal for want of replicas, while a master had none", []*runRecord{
			{id: 1, lock: "a", jobMs: 1000, start: 20 * sec, exit: 21 * sec, code: 201, stderr: refused},
		}, []fault{{kind: noReplica, window: window{10 * sec, 20*sec + sec/2}, length: 10*time.Second + time.Second/2}}, "",
			func(v *verdict) bool {
				return v.failedNoReplica == 1 && v.replicaGaps == 1 && len(v.faultsByKind) == 0 && v.findings() == 0
			}},
		{"a refusal for want of replicas, with the replicas online", []*runRecord{
			{id: 1, lock: "a", jobMs: 1000, start: 20 * sec, exit: 21 * sec, code: 201, stderr: refused},
		}, []fault{{kind: noReplica, window: window{10 * sec, 19 * sec}, length: 9 * time.Second}}, "",
			func(v *verdict) bool { return v.failedNoReplica == 0 && len(v.unexplained) == 1 }},
		{"a span without replicas explains no other exit 201", []*runRecord{
			{id: 1, lock: "a", jobMs: 1000, start: 20 * sec, exit: 21 * sec, code: 201, stderr: "golock: Redis did not answer"},
		}, []fault{{kind: noReplica, window: window{10 * sec, 30 * sec}, length: 20 * time.Second}}, "",
			func(v *verdict) bool { return len(v.unexplained) == 1 }},
		{"a span without replicas explains no kill", []*runRecord{
			{id: 1, lock: "a", jobMs: 5000, start: 10 * sec, exit: 14 * sec, code: 201, stderr: lost},
		}, []fault{{kind: noReplica, window: window{11 * sec, 14 * sec}, length: 3 * time.Second}},
			logOf(1, "a", "5", 10*sec, 13*sec, "term"),
			func(v *verdict) bool { return len(v.needless) == 1 && v.killed == 0 }},
		{"a job with no fence", []*runRecord{{id: 1, lock: "a", jobMs: 1000, start: 10 * sec, exit: 12 * sec}},
			nil, logOf(1, "a", "-", 10*sec, 11*sec, "end"),
			func(v *verdict) bool { return len(v.fences) == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(&result{opts: opts, runs: tc.runs, faults: tc.faults, jobLog: tc.log})
			if !tc.want(v) {
				var b strings.Builder
				v.print(&b)
				t.Errorf("unexpected verdict:\n%s", b.String())
			}
		})
	}
}
