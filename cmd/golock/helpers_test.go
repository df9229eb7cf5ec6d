package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// golockBin is the golock binary built once for the CLI tests.
var golockBin string

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: redis-server not found in PATH: these tests need a real Redis (apt-get install redis-server)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "golock-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	golockBin = filepath.Join(dir, "golock")
	build := exec.Command("go", "build", "-o", golockBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: cannot build golock:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// baseEnv is a clean environment for golock: PATH, and no config file.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "CRONLOCK_CONFIG="}, extra...)
}

// result is how one golock run ended.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runGolock runs the golock binary with env (see baseEnv) and args, and waits for it.
func runGolock(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd, out, errb := golockCmd(env, args...)
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("cannot run golock: %v", err)
	}
	return r
}

// golockCmd prepares a golock run whose output is collected in the two buffers.
func golockCmd(env []string, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	cmd = exec.Command(golockBin, args...)
	cmd.Env = env
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr
}
