// Package proctest tells tests about processes, from /proc: whether one has ended, and how
// many zombies a parent leaves unreaped.
package proctest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Gone reports whether pid has ended. A zombie has: it only waits to be reaped, and
// orphans can wait for ever where PID 1 does not reap, as in some containers.
func Gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	state, _, ok := stat(pid)
	return !ok || state == 'Z'
}

// Zombies counts the zombies whose parent is ppid.
func Zombies(ppid int) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	n := 0
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if state, parent, ok := stat(pid); ok && state == 'Z' && parent == ppid {
			n++
		}
	}
	return n
}

// stat returns pid's state and parent from /proc/<pid>/stat.
func stat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	if i < 0 || len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(string(f[1]))
	return f[0][0], ppid, err == nil
}

// Catches reports whether pid has a handler installed for sig (its SigCgt in
// /proc/PID/status): a test that signals a program must wait for this, or on a busy machine
// the signal can come before the handler and end the program instead.
func Catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if hex, ok := bytes.CutPrefix(line, []byte("SigCgt:")); ok {
			mask, err := strconv.ParseUint(string(bytes.TrimSpace(hex)), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}
