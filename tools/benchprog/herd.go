package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// herd starts N copies of a command as fast as the machine forks them (one launcher per
// CPU), waits until every one has exited, and fails unless each exited with CODE. Timing
// it from outside (hyperfine) measures a herd of cron jobs that fire in the same second.
func herd(args []string) error {
	if len(args) < 3 {
		return errors.New("usage: herd N CODE COMMAND [ARG...]")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("bad N %q", args[0])
	}
	code, err := strconv.Atoi(args[1])
	if err != nil {
		return fmt.Errorf("bad CODE %q", args[1])
	}
	path, err := exec.LookPath(args[2])
	if err != nil {
		return err
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	argv := args[2:]

	launchers := min(runtime.NumCPU(), n)
	var started atomic.Int64
	var startErr error
	var once sync.Once
	var wg sync.WaitGroup
	for l := range launchers {
		count := n / launchers
		if l < n%launchers {
			count++
		}
		wg.Go(func() {
			for range count {
				if _, err := syscall.ForkExec(path, argv, attr); err != nil {
					once.Do(func() { startErr = err })
					return
				}
				started.Add(1)
			}
		})
	}
	wg.Wait()

	wrong := map[int]int{} // exit code → how many
	for range started.Load() {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
			if errors.Is(err, syscall.ECHILD) {
				break
			}
			return err
		}
		if got := codeOf(ws); got != code {
			wrong[got]++
		}
	}
	if startErr != nil {
		return fmt.Errorf("%d of %d started: %w", started.Load(), n, startErr)
	}
	if len(wrong) > 0 {
		return fmt.Errorf("exit codes other than %d (code: how many): %v", code, wrong)
	}
	return nil
}
