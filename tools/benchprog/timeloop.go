package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// export is the part of hyperfine's --export-json that report reads.
type export struct {
	Results []result `json:"results"`
}

// result is one command's runs: Command is its name (hyperfine's --command-name), Times
// are wall-clock seconds, ExitCodes one per run.
type result struct {
	Command   string    `json:"command"`
	Times     []float64 `json:"times"`
	ExitCodes []int     `json:"exit_codes"`
	User      float64   `json:"user"`   // mean seconds per run, with the children it reaped
	System    float64   `json:"system"` // the same for system time
}

// timeLoop stands in for hyperfine -N when it is missing: each command (split on spaces,
// no shell) runs warmup times, then runs times, one after the other as hyperfine runs them,
// with its output discarded; the wall time from fork to the end of wait is recorded.
func timeLoop(args []string) error {
	fs := flag.NewFlagSet("time", flag.ContinueOnError)
	out := fs.String("out", "", "write hyperfine-style JSON to this `file`")
	runs := fs.Int("runs", 10, "timed runs of each command")
	warmup := fs.Int("warmup", 0, "untimed runs of each command first")
	ignore := fs.Bool("ignore-failure", false, "accept a non-zero exit code")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pairs := fs.Args()
	if *out == "" || len(pairs) == 0 || len(pairs)%2 != 0 {
		return errors.New("usage: time -out FILE [-runs N] [-warmup N] [-ignore-failure] NAME COMMAND...")
	}
	var exp export
	for i := 0; i < len(pairs); i += 2 {
		name, argv := pairs[i], strings.Fields(pairs[i+1])
		path, err := exec.LookPath(argv[0])
		if err != nil {
			return err
		}
		r := result{Command: name}
		for n := range *warmup + *runs {
			took, cpu, code, err := timeOnce(path, argv)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if code != 0 && !*ignore {
				return fmt.Errorf("%s exited %d (use -ignore-failure to accept it)", name, code)
			}
			if n >= *warmup {
				r.Times = append(r.Times, took.Seconds())
				r.ExitCodes = append(r.ExitCodes, code)
				r.User += cpu.UserTime().Seconds() / float64(*runs)
				r.System += cpu.SystemTime().Seconds() / float64(*runs)
			}
		}
		exp.Results = append(exp.Results, r)
	}
	data, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

// timeOnce runs argv once with its output discarded, and returns how long it took, its
// CPU times and its exit code (128+N when it died of signal N).
func timeOnce(path string, argv []string) (time.Duration, *os.ProcessState, int, error) {
	cmd := &exec.Cmd{Path: path, Args: argv}
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, nil, 0, err
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return took, cmd.ProcessState, codeOf(ws), nil
}

// codeOf is a process's exit code, 128+N when it died of signal N.
func codeOf(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
