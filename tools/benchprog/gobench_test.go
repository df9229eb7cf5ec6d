package main

import (
	"strings"
	"testing"
)

const sampleGoBench = `goos: linux
goarch: amd64
pkg: github.com/example/golock/internal/redisbench
cpu: AMD EPYC
BenchmarkAcquireRelease-2   	    5000	    170000 ns/op	      5900 runs/s	        80.5 server-µs/run	         2.000 cmds/run
BenchmarkAcquireRelease-2   	    6000	    160000 ns/op	      6200 runs/s	        78.0 server-µs/run	         2.000 cmds/run
BenchmarkAcquireRelease-2   	    5000	    180000 ns/op	      5.6e+03 runs/s	        90.0 server-µs/run	         2.000 cmds/run
BenchmarkHeld-2
    redisbench_test.go:40: a log line
BenchmarkHeld-2             	   10000	     95000 ns/op	       312 B/lock
BenchmarkHeld-2             	   10000	     99000 ns/op	       312 B/lock
PASS
ok  	github.com/example/golock/internal/redisbench	12.3s
`

func TestParseGoBench(t *testing.T) {
	benches, context, err := parseGoBench(strings.NewReader(sampleGoBench))
	if err != nil {
		t.Fatal(err)
	}
	if len(context) != 4 || context[3] != "cpu: AMD EPYC" {
		t.Errorf("context %q", context)
	}
	if len(benches) != 2 {
		t.Fatalf("%d benchmarks, want 2", len(benches))
	}
	a := benches[0]
	if a.name != "BenchmarkAcquireRelease-2" || strings.Join(a.units, ",") != "ns/op,runs/s,server-µs/run,cmds/run" {
		t.Errorf("first: %s %q", a.name, a.units)
	}
	if st := stats(a.values["runs/s"]); st != (spreadOf{5600, 5900, 6200}) {
		t.Errorf("runs/s %+v, want 5600 / 5900 / 6200", st)
	}
	if st := stats(a.values["server-µs/run"]); st != (spreadOf{78, 80.5, 90}) {
		t.Errorf("server-µs/run %+v", st)
	}
	h := benches[1]
	if got := h.values["B/lock"]; len(got) != 2 {
		t.Errorf("held B/lock %v: the bare name line must be skipped", got)
	}
	if st := stats(h.values["ns/op"]); st != (spreadOf{95000, 97000, 99000}) {
		t.Errorf("held ns/op %+v", st)
	}
}

func TestReportGoBench(t *testing.T) {
	var out strings.Builder
	if err := reportGoBench(&out, "/nonexistent/redisbench.txt"); err != nil || out.Len() != 0 {
		t.Fatalf("a missing file: %v, %q", err, out.String())
	}
}

func TestFigure(t *testing.T) {
	for v, want := range map[float64]string{355000: "355000", 86.6: "86.6", 88: "88", 2: "2", 0.01234: "0.01234",
		5.9e3: "5900", 1234.56: "1235", 0: "0", 2.5e12: "2.5e+12"} {
		if got := figure(v); got != want {
			t.Errorf("figure(%v) = %q, want %q", v, got, want)
		}
	}
}
