package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// section is one table's measurements: each command's times (seconds) by round. A round
// is one pass over every command of the table, so a ratio of two commands taken from one
// round's medians compares runs made within seconds of each other.
type section struct {
	names  []string                     // in the order measured
	rounds []int                        // the round numbers, ascending
	times  map[string]map[int][]float64 // name → round → wall-clock seconds of each run
	cpu    map[string]map[int]float64   // name → round → mean user+system seconds per run
}

// load reads every SECTION.R.json and SECTION.R.*.json in dir (hyperfine's JSON; R is the
// round, and a round may be split over several files, e.g. a file of slow commands timed
// with fewer runs) and checks every run's exit code against want.
func load(dir, name string, want func(command string) int) (*section, error) {
	files, _ := filepath.Glob(filepath.Join(dir, name+".*.json"))
	if len(files) == 0 {
		return nil, fmt.Errorf("no %s.*.json in %s", name, dir)
	}
	sort.Strings(files)
	s := &section{times: map[string]map[int][]float64{}, cpu: map[string]map[int]float64{}}
	for _, f := range files {
		rest := strings.TrimPrefix(filepath.Base(f), name+".")
		num, _, _ := strings.Cut(rest, ".")
		round, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("%s: not NAME.ROUND.json", f)
		}
		var exp export
		if err := readJSON(f, &exp); err != nil {
			return nil, err
		}
		if !slices.Contains(s.rounds, round) {
			s.rounds = append(s.rounds, round)
		}
		for _, r := range exp.Results {
			for _, code := range r.ExitCodes {
				if code != want(r.Command) {
					return nil, fmt.Errorf("%s: %q exited %d, want %d: its figures do not measure what they say", f, r.Command, code, want(r.Command))
				}
			}
			if _, ok := s.times[r.Command]; !ok {
				s.names = append(s.names, r.Command)
				s.times[r.Command] = map[int][]float64{}
				s.cpu[r.Command] = map[int]float64{}
			}
			s.times[r.Command][round] = append(s.times[r.Command][round], r.Times...)
			s.cpu[r.Command][round] = r.User + r.System
		}
	}
	slices.Sort(s.rounds)
	return s, nil
}

// find is the first command whose name starts with prefix, "" if none.
func (s *section) find(prefix string) string {
	for _, n := range s.names {
		if strings.HasPrefix(n, prefix) {
			return n
		}
	}
	return ""
}

// median of all of a command's runs, every round pooled, in seconds; 0 for an unknown
// command.
func (s *section) median(name string) float64 {
	var all []float64
	for _, r := range s.rounds {
		all = append(all, s.times[name][r]...)
	}
	return median(all)
}

// roundMedians is a command's median in each round it ran in.
func (s *section) roundMedians(name string) []float64 {
	var meds []float64
	for _, r := range s.rounds {
		if ts := s.times[name][r]; len(ts) > 0 {
			meds = append(meds, median(ts))
		}
	}
	return meds
}

// ratios is name's median over base's median, one per round in which both ran.
func (s *section) ratios(name, base string) []float64 {
	var out []float64
	for _, r := range s.rounds {
		a, b := s.times[name][r], s.times[base][r]
		if len(a) > 0 && len(b) > 0 {
			if mb := median(b); mb > 0 {
				out = append(out, median(a)/mb)
			}
		}
	}
	return out
}

// cpuTime is a command's CPU time per run (user and system, its own and that of the
// children it waited for), the mean over the rounds.
func (s *section) cpuTime(name string) float64 {
	var sum float64
	for _, c := range s.cpu[name] {
		sum += c
	}
	return sum / float64(max(1, len(s.cpu[name])))
}

// spread is the lowest and highest of the rounds' medians, "–" with one round.
func (s *section) spread(name string) string {
	meds := s.roundMedians(name)
	if len(meds) < 2 {
		return "–"
	}
	return fmt.Sprintf("%s–%s", strings.TrimSuffix(ms(slices.Min(meds)), " ms"), ms(slices.Max(meds)))
}

// runs says how many rounds of how many runs each, naming the commands timed with fewer.
func (s *section) runs() string {
	count := map[string]int{} // name → runs per round
	freq := map[int]int{}
	for _, n := range s.names {
		c := len(s.times[n][s.rounds[0]])
		count[n] = c
		freq[c]++
	}
	most := 0
	for c, f := range freq {
		if f > freq[most] || (f == freq[most] && c > most) {
			most = c
		}
	}
	out := fmt.Sprintf("%d rounds × %d runs", len(s.rounds), most)
	if len(s.rounds) == 1 {
		out = fmt.Sprintf("1 round × %d runs", most)
	}
	var others []string
	for _, n := range s.names {
		if count[n] != most {
			others = append(others, fmt.Sprintf("`%s` × %d", n, count[n]))
		}
	}
	if len(others) > 0 {
		out += "; " + strings.Join(others, ", ")
	}
	return out
}

// spreadOf is the lowest, the median and the highest of xs.
type spreadOf struct{ min, median, max float64 }

func stats(xs []float64) spreadOf {
	if len(xs) == 0 {
		return spreadOf{}
	}
	return spreadOf{slices.Min(xs), median(xs), slices.Max(xs)}
}

// ratioCell formats the rounds' ratios as "min / median / max".
func ratioCell(rs []float64) string {
	if len(rs) == 0 {
		return "–"
	}
	st := stats(rs)
	return fmt.Sprintf("%.2f / %.2f / %.2f", st.min, st.median, st.max)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Sorted(slices.Values(xs))
	if n := len(xs); n%2 == 1 {
		return xs[n/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// ms formats seconds as milliseconds, with fewer decimals for larger figures.
func ms(sec float64) string {
	switch v := sec * 1e3; {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func mb(kB int) string {
	if kB < 1024 {
		return fmt.Sprintf("%d kB", kB)
	}
	return fmt.Sprintf("%.1f MB", float64(kB)/1024)
}
