package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The targets golock is measured against.
const (
	targetRun          = 2.5 // × flock F true, one uncontended run
	targetHeld         = 3.0 // × flock -n F true, a run that finds the lock held
	targetHerd         = 3.0 // × a herd of flock -n of the same size on a held lock
	targetHerdSize     = "500"
	targetCommands     = 3 // Redis commands per uncontended run
	targetHeldCommands = 2 // Redis commands per run that finds the lock held
	targetRSSMB        = 15.0
)

// target is one line of the targets table: the figure of each round against a limit.
type target struct {
	what   string    // e.g. "per run ≤ 2.5 × flock: `golock true`"
	rounds []float64 // the measured figure, one per round
	limit  float64
	unit   string // printed after each figure: " ×", " MB" or ""
}

// report reads what tools/bench measured into DIR and prints the tables, in Markdown:
//
//	uncontended.R.json, held.R.json, herd.R.json  hyperfine's JSON, round R (also .R.*.json)
//	commands-uncontended.json, commands-held.json  from monitor
//	rss-NAME.R.json                                from rss, round R
//	redisbench.txt                                 go test -bench output, if there is one
//
// Command names say what each figure is: the one starting "flock" is the baseline of its
// table, "minexec" the floor for a Go program, "minheld" the floor for a held run in Go,
// "golock" the subjects with targets; a herd's names start with its size ("500 golock
// true held").
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	reproduce := fs.String("reproduce", "tools/bench", "the `command` that reproduces the figures")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: report [-reproduce CMD] DIR")
	}
	dir, w := fs.Arg(0), os.Stdout
	var targets []target
	intro := func(title, runs string) {
		fmt.Fprintf(w, "\n### %s (%s)\n\n", title, runs)
		fmt.Fprintf(w, "From `%s`. The median pools every round's runs; a ratio is taken in each round, "+
			"from that round's medians, and shown as min / median / max over the rounds.\n\n", *reproduce)
	}

	un, err := load(dir, "uncontended", func(string) int { return 0 })
	if err != nil {
		return err
	}
	intro("One uncontended run", un.runs())
	flock, floor := un.find("flock"), un.find("minexec")
	fmt.Fprintln(w, "| command | median | min–max of rounds' medians | × flock (min / median / max) | × minexec (min / median / max) | CPU per run |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, name := range un.names {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s |\n", name, ms(un.median(name)), un.spread(name),
			ratioCell(un.ratios(name, flock)), ratioCell(un.ratios(name, floor)), ms(un.cpuTime(name)))
		if strings.HasPrefix(name, "golock") {
			targets = append(targets, target{fmt.Sprintf("per run ≤ %.1f × flock: `%s`", targetRun, name),
				un.ratios(name, flock), targetRun, " ×"})
		}
	}

	held, err := load(dir, "held", func(name string) int {
		if strings.HasPrefix(name, "flock") {
			return 1
		}
		return 200 // golock and cronlock
	})
	if err != nil {
		return err
	}
	intro("The lock held elsewhere: exit at once", held.runs())
	flock = held.find("flock")
	fmt.Fprintln(w, "| command | median | min–max of rounds' medians | × flock -n (min / median / max) | CPU per run |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, name := range held.names {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", name, ms(held.median(name)), held.spread(name),
			ratioCell(held.ratios(name, flock)), ms(held.cpuTime(name)))
		if strings.HasPrefix(name, "golock") {
			targets = append(targets, target{fmt.Sprintf("held ≤ %.1f × flock -n: `%s`", targetHeld, name),
				held.ratios(name, flock), targetHeld, " ×"})
		}
	}

	herd, err := load(dir, "herd", func(string) int { return 0 })
	if err != nil {
		return err
	}
	intro("A herd launched at once on a held lock, until all have exited", herd.runs())
	fmt.Fprintln(w, "| herd | command | median | min–max of rounds' medians | × flock -n (min / median / max) | CPU per herd |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|")
	for _, name := range herd.names {
		size, what, _ := strings.Cut(name, " ")
		base := herd.find(size + " flock")
		fmt.Fprintf(w, "| %s | `%s` | %s | %s | %s | %s |\n", size, what, ms(herd.median(name)), herd.spread(name),
			ratioCell(herd.ratios(name, base)), ms(herd.cpuTime(name)))
		if size == targetHerdSize && strings.HasPrefix(what, "golock") {
			targets = append(targets, target{fmt.Sprintf("herd of %s ≤ %.1f × flock -n: `%s`", size, targetHerd, what),
				herd.ratios(name, base), targetHerd, " ×"})
		}
	}

	commands, err := reportCommands(w, dir)
	if err != nil {
		return err
	}
	memory, err := reportMemory(w, dir)
	if err != nil {
		return err
	}
	targets = append(append(targets, memory...), commands...)
	if err := reportGoBench(w, filepath.Join(dir, "redisbench.txt")); err != nil {
		return err
	}

	fmt.Fprintln(w, "\n### The targets")
	fmt.Fprintln(w, "\nA target is met when the median of the rounds meets it; the last column says whether the worst round does too.")
	fmt.Fprintln(w, "\n| target | median of the rounds (min–max) | median | worst round |")
	fmt.Fprintln(w, "|---|---:|---|---|")
	for _, t := range targets {
		st := stats(t.rounds)
		measured := num(st.median) + t.unit
		if st.min != st.max {
			measured += fmt.Sprintf(" (%s–%s)", num(st.min), num(st.max))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.what, measured,
			verdict(len(t.rounds) > 0 && st.median <= t.limit), verdict(len(t.rounds) > 0 && st.max <= t.limit))
	}
	return nil
}

// reportCommands prints the Redis commands per run and returns their targets.
func reportCommands(w io.Writer, dir string) ([]target, error) {
	fmt.Fprintln(w, "\n### Redis commands per run (MONITOR; commands that scripts run inside Redis left out)")
	fmt.Fprintln(w, "\n| run | commands (most of the runs) | which |")
	fmt.Fprintln(w, "|---|---:|---|")
	var targets []target
	for _, c := range []struct {
		file, label string
		limit       int
	}{{"commands-uncontended.json", "uncontended", targetCommands}, {"commands-held.json", "held elsewhere (exit 200)", targetHeldCommands}} {
		var count commandCount
		if err := readJSON(filepath.Join(dir, c.file), &count); err != nil {
			return nil, err
		}
		most, which := 0, map[string]bool{}
		for _, run := range count.Commands {
			most = max(most, len(run))
			which[strings.Join(run, ", ")] = true
		}
		kinds := slices.Sorted(maps.Keys(which))
		fmt.Fprintf(w, "| %s | %d (of %d runs) | %s |\n", c.label, most, count.Runs, strings.Join(kinds, " or "))
		targets = append(targets, target{fmt.Sprintf("Redis commands per run, %s ≤ %d", c.label, c.limit),
			[]float64{float64(most)}, float64(c.limit), ""})
	}
	return targets, nil
}

// reportMemory prints the peak memory of each rss-NAME.R.json over the rounds and returns
// the targets of the golock builds. golock's other children (the watchdog) live as long as
// the job, so its figure is its own peak plus theirs; a baseline's other children (a bash
// script's subshells, sleep, md5sum) come and go one after another, so its figure is its
// own peak plus that of its largest child.
func reportMemory(w io.Writer, dir string) ([]target, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "rss-*.json"))
	var names []string
	byName := map[string][]peak{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "rss-"), ".json")
		if i := strings.LastIndex(name, "."); i >= 0 {
			name = name[:i] // the round
		}
		var p peak
		if err := readJSON(f, &p); err != nil {
			return nil, err
		}
		if _, ok := byName[name]; !ok {
			names = append(names, name)
		}
		byName[name] = append(byName[name], p)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no rss-*.json in %s", dir)
	}
	fmt.Fprintf(w, "\n### Peak memory while supervising the job (VmHWM; %d rounds)\n\n", len(byName[names[0]]))
	fmt.Fprintln(w, "| process | median | min–max of the rounds |")
	fmt.Fprintln(w, "|---|---:|---:|")
	var targets []target
	for _, name := range names {
		golock := strings.HasPrefix(name, "golock")
		var own, children, total []float64
		which := map[string]bool{}
		for _, p := range byName[name] {
			sum, largest := 0, 0
			for _, h := range p.Helpers {
				sum, largest = sum+h.KB, max(largest, h.KB)
				prog, _, _ := strings.Cut(h.Cmdline, " ")
				which[filepath.Base(prog)] = true
			}
			if !golock {
				sum = largest
			}
			own, children, total = append(own, float64(p.KB)), append(children, float64(sum)), append(total, float64(p.KB+sum))
		}
		row := func(label string, kBs []float64) {
			st := stats(kBs)
			fmt.Fprintf(w, "| %s | %s | %s–%s |\n", label, mb(int(st.median)), mb(int(st.min)), mb(int(st.max)))
		}
		row(fmt.Sprintf("`%s`", name), own)
		if len(which) > 0 {
			kinds := "`" + strings.Join(slices.Sorted(maps.Keys(which)), "`, `") + "`"
			if golock {
				row(fmt.Sprintf("its helpers (%s)", kinds), children)
				row(fmt.Sprintf("`%s` and its helpers", name), total)
			} else {
				row(fmt.Sprintf("its largest other child (of %s)", kinds), children)
				row(fmt.Sprintf("`%s` and its largest other child", name), total)
			}
		}
		if golock {
			var mbs []float64
			for _, kB := range total {
				mbs = append(mbs, kB/1024)
			}
			targets = append(targets, target{fmt.Sprintf("peak RSS with its helpers ≤ %.0f MB: `%s`", targetRSSMB, name),
				mbs, targetRSSMB, " MB"})
		}
	}
	return targets, nil
}

// num formats a figure with two decimals, or none when it is a whole number.
func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
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
