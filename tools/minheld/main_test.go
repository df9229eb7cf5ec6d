package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/golock/golock/internal/redistest"
)

// TestMain runs main when the test binary is started as minheld by TestMinheld.
func TestMain(m *testing.M) {
	if os.Getenv("MINHELD_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestMinheld: against a real Redis, minheld takes a free key (exit 0) and finds a held
// one held (exit 200), the code tools/bench checks on every run, and gives 1 when
// Redis cannot be reached.
func TestMinheld(t *testing.T) {
	srv := redistest.Start(t)
	run := func(addr string) int {
		t.Helper()
		cmd := exec.Command(os.Args[0], addr, "minheld-test")
		cmd.Env = append(os.Environ(), "MINHELD_RUN_MAIN=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("minheld %s: %v", addr, err)
		}
		t.Logf("minheld %s: exit %d %s", addr, cmd.ProcessState.ExitCode(), out)
		return cmd.ProcessState.ExitCode()
	}
	if got := run(srv.Addr()); got != 0 {
		t.Fatalf("a free key: exit %d, want 0", got)
	}
	// minheld took the key for a second, which a slow machine (the race detector) can
	// outlast: hold it with no expiry for the held run.
	if err := srv.Client().Set(context.Background(), "minheld-test", "held", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := run(srv.Addr()); got != 200 {
		t.Fatalf("a held key: exit %d, want 200", got)
	}
	srv.Kill()
	if got := run(srv.Addr()); got != 1 {
		t.Fatalf("Redis down: exit %d, want 1", got)
	}
}
