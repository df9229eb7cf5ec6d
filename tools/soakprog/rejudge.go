package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	runLine   = regexp.MustCompile(`^run (\d+) host (\d+) lock (\S+) job (\d+)ms ignore-term (true|false) start (\d+) exit (\d+) took \S+ code (-?\d+) hung (true|false) stops \[(.*?)\] stderr (".*")$`)
	stopPair  = regexp.MustCompile(`\{(\d+) (\d+)\}`)
	faultLine = regexp.MustCompile(`^fault (\S+) from (\d+) to (\d+) length (\S+) run (\d+) ?(.*)$`)
)

// load reads back what save wrote into dir (runs.log, faults.log and jobs.log), so that a
// kept soak can be judged again.
func load(dir string, o options) (*result, error) {
	res := &result{opts: o, loadStart: "?", loadEnd: "?"}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	b, err := os.ReadFile(filepath.Join(dir, "runs.log"))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m := runLine.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("runs.log: cannot read %q", l)
		}
		r := &runRecord{id: int(num(m[1])), host: int(num(m[2])), lock: m[3], jobMs: int(num(m[4])),
			ignoreTerm: m[5] == "true", start: num(m[6]), exit: num(m[7]), code: int(num(m[8])), hung: m[9] == "true"}
		for _, p := range stopPair.FindAllStringSubmatch(m[10], -1) {
			r.stops = append(r.stops, window{num(p[1]), num(p[2])})
		}
		if r.stderr, err = strconv.Unquote(m[11]); err != nil {
			return nil, fmt.Errorf("runs.log: %v in %q", err, l)
		}
		res.runs = append(res.runs, r)
	}
	b, err = os.ReadFile(filepath.Join(dir, "faults.log"))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		m := faultLine.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("faults.log: cannot read %q", l)
		}
		d, err := time.ParseDuration(m[4])
		if err != nil {
			return nil, fmt.Errorf("faults.log: %v in %q", err, l)
		}
		res.faults = append(res.faults, fault{kind: m[1], window: window{num(m[2]), num(m[3])}, length: d,
			run: int(num(m[5])), detail: m[6]})
	}
	b, err = os.ReadFile(filepath.Join(dir, "jobs.log"))
	res.jobLog = string(b)
	return res, err
}
