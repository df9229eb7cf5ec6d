package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
)

// goBench is one benchmark's figures from go test -bench output, over its -count rounds.
type goBench struct {
	name   string               // as printed, with the GOMAXPROCS suffix: "BenchmarkAcquire-2"
	units  []string             // its metrics in the order printed: "ns/op", "runs/s", ...
	values map[string][]float64 // unit → one value per round
}

// parseGoBench reads go test -bench output: every result line
//
//	BenchmarkName-2   1000   123 ns/op   5.9e3 runs/s   2 cmds/run
//
// is a name, an iteration count, then value-unit pairs, whatever the units (b.ReportMetric
// adds its own). Other lines (goos:, PASS, a benchmark's log) are skipped, as is a line
// that starts with a benchmark's name but is not a result. It also returns the context
// lines (goos:, goarch:, pkg:, cpu:) once each.
func parseGoBench(r io.Reader) (benches []*goBench, context []string, err error) {
	byName := map[string]*goBench{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"goos:", "goarch:", "pkg:", "cpu:"} {
			if strings.HasPrefix(line, key) && !seen[line] {
				seen[line] = true
				context = append(context, line)
			}
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		values := map[string]float64{}
		var units []string
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				units = nil
				break
			}
			values[f[i+1]] = v
			units = append(units, f[i+1])
		}
		if units == nil {
			continue
		}
		b := byName[f[0]]
		if b == nil {
			b = &goBench{name: f[0], values: map[string][]float64{}}
			byName[f[0]] = b
			benches = append(benches, b)
		}
		for _, u := range units {
			if _, ok := b.values[u]; !ok {
				b.units = append(b.units, u)
			}
			b.values[u] = append(b.values[u], values[u])
		}
	}
	return benches, context, sc.Err()
}

// reportGoBench prints the Redis-side figures from the go test -bench output in path: per
// benchmark and metric the median and the lowest and highest of the rounds. A missing file
// prints nothing: the benchmarks are optional.
func reportGoBench(w io.Writer, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	benches, context, err := parseGoBench(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(benches) == 0 {
		return fmt.Errorf("%s: no benchmark results in it", path)
	}
	rounds := 0
	for _, b := range benches {
		for _, vs := range b.values {
			rounds = max(rounds, len(vs))
		}
	}
	fmt.Fprintln(w, "\n### Redis-side figures (Go benchmarks)")
	fmt.Fprintf(w, "\nFrom `go test -run '^$' -bench . -count %d ./internal/redisbench`", rounds)
	if len(context) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(context, ", "))
	}
	fmt.Fprintln(w, "; each metric over the rounds.")
	fmt.Fprintln(w, "\n| benchmark | metric | median | min–max of the rounds | rounds |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	for _, b := range benches {
		for _, u := range b.units {
			st := stats(b.values[u])
			fmt.Fprintf(w, "| %s | %s | %s | %s–%s | %d |\n", strings.TrimPrefix(b.name, "Benchmark"), u,
				figure(st.median), figure(st.min), figure(st.max), len(b.values[u]))
		}
	}
	return nil
}

// figure formats a benchmark's value with four significant digits, trailing zeros
// dropped, and without an exponent below a billion: 355000, 86.6, 0.0123.
func figure(v float64) string {
	a := math.Abs(v)
	if a >= 1e9 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	decimals := 0
	if a > 0 {
		decimals = max(0, 3-int(math.Floor(math.Log10(a))))
	}
	out := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	return out
}
