package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The targets of issue 9.
const (
	targetRun      = 2.5 // × flock, one uncontended run
	targetHerd     = 3.0 // × a flock herd of targetHerdSize on a held lock
	targetHerdSize = "500"
	targetCommands = 3 // Redis commands per uncontended run
	targetHeld     = 2 // Redis commands per run on a held lock
	targetRSSMB    = 15.0
)

// report reads what tools/bench measured into DIR and prints the table, in Markdown:
//
//	uncontended.R.json, held.R.json, herd.R.json  hyperfine's JSON, one file per round R
//	commands-uncontended.json, commands-held.json  from monitor
//	rss-*.json                                     from rss
//
// Command names say what each figure is: the one starting "flock" is the baseline of its
// table, "minexec" the floor, "golock" the subjects with targets; a herd's names start with
// its size ("500 golock").
func report(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: report DIR")
	}
	dir := args[0]
	var sum []string // the targets, one line each
	w := os.Stdout

	un, err := load(dir, "uncontended", func(string) int { return 0 })
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### One uncontended run (median of %s)\n\n", un.runs())
	fmt.Fprintf(w, "| command | median | rounds' medians | × flock | × minexec | target ≤ %.1f × flock | CPU per run |\n", targetRun)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|")
	flock, floor := un.find("flock"), un.find("minexec")
	for _, name := range un.names {
		ratio := un.median(name) / un.median(flock)
		fmt.Fprintf(w, "| `%s` | %s | %s | %.2f | %s | %s | %s |\n", name, ms(un.median(name)), un.spread(name),
			ratio, ratioOr(un.median(name), un.median(floor)), verdictIf(strings.HasPrefix(name, "golock"), ratio <= targetRun),
			un.cpuTime(name))
		if strings.HasPrefix(name, "golock") {
			sum = append(sum, fmt.Sprintf("`%s` per uncontended run ≤ %.1f × flock: %.2f × — %s", name, targetRun, ratio, verdict(ratio <= targetRun)))
		}
	}

	held, err := load(dir, "held", func(name string) int {
		if strings.HasPrefix(name, "golock") {
			return 200
		}
		return 1
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n### The lock held elsewhere: exit at once (median of %s)\n\n", held.runs())
	fmt.Fprintln(w, "| command | median | rounds' medians | × flock -n | CPU per run |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	flock = held.find("flock")
	for _, name := range held.names {
		fmt.Fprintf(w, "| `%s` | %s | %s | %.2f | %s |\n", name, ms(held.median(name)), held.spread(name),
			held.median(name)/held.median(flock), held.cpuTime(name))
	}

	herd, err := load(dir, "herd", func(string) int { return 0 })
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n### A herd launched at once on a held lock: until all have exited (median of %s)\n\n", herd.runs())
	fmt.Fprintf(w, "| herd | command | median | rounds' medians | × flock -n | target ≤ %.1f × flock (%s) |\n", targetHerd, targetHerdSize)
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---|")
	for _, name := range herd.names {
		size, what, _ := strings.Cut(name, " ")
		base := ""
		for _, other := range herd.names {
			if s, o, _ := strings.Cut(other, " "); s == size && strings.HasPrefix(o, "flock") {
				base = other
			}
		}
		ratio := herd.median(name) / herd.median(base)
		checked := size == targetHerdSize && strings.HasPrefix(what, "golock")
		fmt.Fprintf(w, "| %s | `%s` | %s | %s | %.2f | %s |\n", size, what, ms(herd.median(name)), herd.spread(name),
			ratio, verdictIf(checked, ratio <= targetHerd))
		if checked {
			sum = append(sum, fmt.Sprintf("`%s` herd of %s ≤ %.1f × flock: %.2f × — %s", what, size, targetHerd, ratio, verdict(ratio <= targetHerd)))
		}
	}

	fmt.Fprintln(w, "\n### Redis commands per run (MONITOR; commands that scripts run inside Redis left out)")
	fmt.Fprintln(w, "\n| run | commands | which | target |")
	fmt.Fprintln(w, "|---|---:|---|---|")
	for _, c := range []struct {
		file, label string
		target      int
	}{{"commands-uncontended.json", "uncontended", targetCommands}, {"commands-held.json", "held elsewhere (exit 200)", targetHeld}} {
		var count commandCount
		if err := readJSON(filepath.Join(dir, c.file), &count); err != nil {
			return err
		}
		most, which := 0, map[string]bool{}
		for _, run := range count.Commands {
			most = max(most, len(run))
			which[strings.Join(run, ", ")] = true
		}
		kinds := slices.Sorted(func(yield func(string) bool) {
			for k := range which {
				if !yield(k) {
					return
				}
			}
		})
		fmt.Fprintf(w, "| %s | %d (most of %d runs) | %s | ≤ %d: %s |\n", c.label, most, count.Runs,
			strings.Join(kinds, " or "), c.target, verdict(most <= c.target))
		sum = append(sum, fmt.Sprintf("Redis commands per run, %s ≤ %d: %d — %s", c.label, c.target, most, verdict(most <= c.target)))
	}

	files, _ := filepath.Glob(filepath.Join(dir, "rss-*.json"))
	fmt.Fprintln(w, "\n### Peak memory while supervising `sleep 2` (VmHWM)")
	fmt.Fprintf(w, "\n| process | peak RSS | target ≤ %.0f MB in all |\n", targetRSSMB)
	fmt.Fprintln(w, "|---|---:|---|")
	for _, f := range files {
		var p peak
		if err := readJSON(f, &p); err != nil {
			return err
		}
		prog, _, _ := strings.Cut(p.Command, " ")
		name := filepath.Base(prog)
		fmt.Fprintf(w, "| `%s` | %s | |\n", name, mb(p.KB))
		total := p.KB
		for _, h := range p.Helpers {
			line := strings.Join(strings.Fields(h.Cmdline), " ") // one line, for the table
			if r := []rune(line); len(r) > 40 {
				line = string(r[:40]) + "…"
			}
			fmt.Fprintf(w, "| its child `%s` (not the job) | %s | |\n", line, mb(h.KB))
			total += h.KB
		}
		if strings.HasPrefix(name, "golock") {
			ok := float64(total)/1024 <= targetRSSMB
			fmt.Fprintf(w, "| `%s` and its helpers | %s | %s |\n", name, mb(total), verdict(ok))
			sum = append(sum, fmt.Sprintf("`%s` peak RSS with its helpers ≤ %.0f MB: %s — %s", name, targetRSSMB, mb(total), verdict(ok)))
		}
	}

	fmt.Fprintln(w, "\n### Targets (issue 9)")
	fmt.Fprintln(w)
	for _, s := range sum {
		fmt.Fprintln(w, "- "+s)
	}
	return nil
}

// section is one table's runs: each command's times (seconds) by round.
type section struct {
	names  []string               // in the order measured
	rounds map[string][][]float64 // name → one slice of times per round
	cpu    map[string][]float64   // name → mean user+system seconds per run, per round
}

// load reads NAME.R.json for every round R and checks every run's exit code against want.
func load(dir, name string, want func(command string) int) (*section, error) {
	files, _ := filepath.Glob(filepath.Join(dir, name+".*.json"))
	if len(files) == 0 {
		return nil, fmt.Errorf("no %s.*.json in %s", name, dir)
	}
	sort.Strings(files)
	s := &section{rounds: map[string][][]float64{}, cpu: map[string][]float64{}}
	for _, f := range files {
		var exp export
		if err := readJSON(f, &exp); err != nil {
			return nil, err
		}
		for _, r := range exp.Results {
			for _, code := range r.ExitCodes {
				if code != want(r.Command) {
					return nil, fmt.Errorf("%s: %q exited %d, want %d: its figures do not measure what they say", f, r.Command, code, want(r.Command))
				}
			}
			if _, ok := s.rounds[r.Command]; !ok {
				s.names = append(s.names, r.Command)
			}
			s.rounds[r.Command] = append(s.rounds[r.Command], r.Times)
			s.cpu[r.Command] = append(s.cpu[r.Command], r.User+r.System)
		}
	}
	return s, nil
}

// find is the first command whose name starts with prefix.
func (s *section) find(prefix string) string {
	for _, n := range s.names {
		if strings.HasPrefix(n, prefix) {
			return n
		}
	}
	return ""
}

// median of all of a command's runs, in seconds; 0 for an unknown command.
func (s *section) median(name string) float64 {
	var all []float64
	for _, r := range s.rounds[name] {
		all = append(all, r...)
	}
	return median(all)
}

// cpuTime is a command's CPU time per run (user and system, its own and that of the
// children it waited for), the mean over all rounds.
func (s *section) cpuTime(name string) string {
	var sum float64
	for _, c := range s.cpu[name] {
		sum += c
	}
	return ms(sum / float64(len(s.cpu[name])))
}

// spread is the lowest and highest of the rounds' medians.
func (s *section) spread(name string) string {
	var meds []float64
	for _, r := range s.rounds[name] {
		meds = append(meds, median(r))
	}
	if len(meds) < 2 {
		return "–"
	}
	return fmt.Sprintf("%s–%s", strings.TrimSuffix(ms(slices.Min(meds)), " ms"), ms(slices.Max(meds)))
}

// runs says how many rounds of how many runs each.
func (s *section) runs() string {
	for _, rs := range s.rounds {
		return fmt.Sprintf("%d × %d runs", len(rs), len(rs[0]))
	}
	return "no runs"
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

func ratioOr(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func verdictIf(checked, ok bool) string {
	if !checked {
		return ""
	}
	return verdict(ok)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
