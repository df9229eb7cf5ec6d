package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// BenchmarkOverhead runs the same short job three ways in each iteration — bare, under
// flock(1), and under golock against a local redis-server — and reports each one's time
// per run and golock's ratios to the other two. Running them side by side in one loop
// keeps a noisy machine's drift out of the ratios.
//
//	go test -run '^$' -bench Overhead -benchtime 200x ./cmd/golock/
func BenchmarkOverhead(b *testing.B) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		b.Fatal("flock(1) not found: it is the baseline (Debian package util-linux)")
	}
	srv := redistest.Start(b)
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_GRACE=0")...)
	lockFile := filepath.Join(b.TempDir(), "flock")

	runs := []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"bare", func() *exec.Cmd { return exec.Command("true") }},
		{"flock", func() *exec.Cmd { return exec.Command(flock, "-n", lockFile, "true") }},
		{"golock", func() *exec.Cmd {
			return golocktest.Command(b, env, "true")
		}},
	}
	total := make([]time.Duration, len(runs))
	b.ResetTimer()
	for range b.N {
		for i, r := range runs {
			start := time.Now()
			if out, err := r.cmd().CombinedOutput(); err != nil {
				b.Fatalf("%s: %v: %s", r.name, err, out)
			}
			total[i] += time.Since(start)
		}
	}
	b.StopTimer()
	per := func(i int) float64 { return float64(total[i].Nanoseconds()) / float64(b.N) }
	for i, r := range runs {
		b.ReportMetric(per(i)/1e3, r.name+"-µs/run")
	}
	b.ReportMetric(per(2)/per(0), "golock/bare")
	b.ReportMetric(per(2)/per(1), "golock/flock")
}
