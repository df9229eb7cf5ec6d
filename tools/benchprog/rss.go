package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// peak is what rss prints: the peak resident memory (VmHWM) of the command and of each of
// its other children (a watchdog, say), the job excepted.
type peak struct {
	Command string   `json:"command"`
	KB      int      `json:"kB"`
	Helpers []helper `json:"helpers"`
}

type helper struct {
	Cmdline string `json:"cmdline"`
	KB      int    `json:"kB"`
}

// rss runs a command that supervises a job, samples /proc every 5 ms until the command
// has exited, and prints as JSON the last VmHWM seen of the command and of each child of
// it that is not the job (its command line is -job) and lived through three samples or
// more (a fork on its way to exec is not a helper). VmHWM only grows, so the last sample
// is the peak, bar the last 5 ms.
func rss(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ContinueOnError)
	job := fs.String("job", "", "the job's command line, e.g. 'sleep 2'")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *job == "" || fs.NArg() == 0 {
		return errors.New("usage: rss -job 'sleep 2' COMMAND [ARG...]")
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // stdout carries the JSON
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	type seen struct {
		cmdline string
		kB      int
		samples int
	}
	pid := cmd.Process.Pid
	top := 0
	children := map[int]*seen{}
	jobSeen := false
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("%s: %w", strings.Join(fs.Args(), " "), err)
			}
			if !jobSeen {
				return fmt.Errorf("never saw the job %q run under %s", *job, fs.Arg(0))
			}
			p := peak{Command: strings.Join(fs.Args(), " "), KB: top}
			for _, c := range children {
				if c.samples >= 3 {
					p.Helpers = append(p.Helpers, helper{Cmdline: c.cmdline, KB: c.kB})
				}
			}
			return json.NewEncoder(os.Stdout).Encode(p)
		case <-tick.C:
		}
		if kB, ok := vmHWM(pid); ok {
			top = kB
		}
		for _, child := range childrenOf(pid) {
			line, ok := cmdline(child)
			if !ok {
				continue
			}
			if line == *job {
				jobSeen = true
				continue
			}
			kB, ok := vmHWM(child)
			if !ok {
				continue
			}
			c := children[child]
			if c == nil {
				c = &seen{}
				children[child] = c
			}
			c.cmdline, c.kB = line, kB
			c.samples++
		}
	}
}

// childrenOf lists the children of every thread of pid.
func childrenOf(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// cmdline is a process's command line, arguments joined by spaces.
func cmdline(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return "", false
	}
	return string(bytes.ReplaceAll(bytes.TrimRight(data, "\x00"), []byte{0}, []byte{' '})), true
}

// vmHWM is a process's peak resident set size in kB; false once it has exited.
func vmHWM(pid int) (int, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n, err == nil
		}
	}
	return 0, false
}
