package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeRound writes one round's hyperfine JSON: each command's times in seconds.
func writeRound(t *testing.T, path string, cmds map[string][]float64, order ...string) {
	t.Helper()
	var exp export
	for _, name := range order {
		exp.Results = append(exp.Results, result{Command: name, Times: cmds[name],
			ExitCodes: make([]int, len(cmds[name])), User: 0.001, System: 0.002})
	}
	data, err := json.Marshal(exp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRoundRatios(t *testing.T) {
	dir := t.TempDir()
	// Three rounds; golock's medians 4, 6, 5 ms against flock's 2, 2, 1 ms: ratios 2, 3, 5.
	rounds := []struct{ golock, flock []float64 }{
		{[]float64{0.003, 0.004, 0.009}, []float64{0.002, 0.002, 0.001}},
		{[]float64{0.006, 0.006, 0.001}, []float64{0.001, 0.002, 0.003}},
		{[]float64{0.005, 0.004, 0.006}, []float64{0.001, 0.001, 0.002}},
	}
	for i, r := range rounds {
		writeRound(t, filepath.Join(dir, fmt.Sprintf("uncontended.%d.json", i+1)),
			map[string][]float64{"golock true": r.golock, "flock F true": r.flock}, "golock true", "flock F true")
	}
	// A slow command timed with fewer runs, in a file of its own, in rounds 1 and 2.
	for i, med := range []float64{0.040, 0.060} {
		writeRound(t, filepath.Join(dir, fmt.Sprintf("uncontended.%d.slow.json", i+1)),
			map[string][]float64{"cronlock true": {med}}, "cronlock true")
	}

	s, err := load(dir, "uncontended", func(string) int { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"golock true", "flock F true", "cronlock true"}; !slices.Equal(s.names, want) {
		t.Errorf("names %q", s.names)
	}
	got := s.ratios("golock true", "flock F true")
	if want := []float64{2, 3, 5}; !near(got, want) {
		t.Errorf("ratios %v, want %v", got, want)
	}
	if st := stats(got); !near([]float64{st.min, st.median, st.max}, []float64{2, 3, 5}) {
		t.Errorf("min / median / max %+v, want 2 / 3 / 5", st)
	}
	if cell := ratioCell(got); cell != "2.00 / 3.00 / 5.00" {
		t.Errorf("cell %q", cell)
	}
	// Ratios only where both ran: cronlock's rounds 1 and 2 (flock 2 ms, 2 ms).
	if got, want := s.ratios("cronlock true", "flock F true"), []float64{20, 30}; !near(got, want) {
		t.Errorf("cronlock ratios %v, want %v", got, want)
	}
	// The pooled median is over all nine runs: 1, 3, 4, 4, 5, 6, 6, 6, 9 ms.
	if got := s.median("golock true"); !near([]float64{got}, []float64{0.005}) {
		t.Errorf("pooled median %v, want 0.005", got)
	}
	if got := s.spread("golock true"); got != "4.00–6.00 ms" {
		t.Errorf("spread %q", got)
	}
	if got := s.runs(); got != "3 rounds × 3 runs; `cronlock true` × 1" {
		t.Errorf("runs %q", got)
	}
}

func TestLoadRefusesWrongExitCode(t *testing.T) {
	dir := t.TempDir()
	writeRound(t, filepath.Join(dir, "held.1.json"), map[string][]float64{"golock true held": {0.002}}, "golock true held")
	if _, err := load(dir, "held", func(string) int { return 200 }); err == nil {
		t.Fatal("a run that exited 0 where 200 was wanted was accepted")
	}
}

func near(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
			return false
		}
	}
	return true
}
