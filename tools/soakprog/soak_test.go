package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary be the soak's job too, as soakprog itself is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == jobCommand {
		os.Exit(jobMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// soakFor runs the soak with args and returns its exit code and the summary line, its
// last; the whole output goes to the test's log.
func soakFor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found in PATH: the soak needs a real Redis (tools/need-redis installs one)")
	}
	var out, errs bytes.Buffer
	code := run(context.Background(), args, &out, &errs)
	t.Logf("soak %s: exit %d\n%s%s", strings.Join(args, " "), code, errs.String(), out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return code, lines[len(lines)-1]
}

// count reads "N what" from the summary line.
func count(t *testing.T, summary, what string) int {
	t.Helper()
	m := regexp.MustCompile(`(\d+) ` + what).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("no %q in the summary line %q", what, summary)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// A wrapper that runs its command without any lock must fail the soak: the soak sees the
// overlaps.
func TestSoakFailsWithoutALock(t *testing.T) {
	nolock := filepath.Join(t.TempDir(), "nolock")
	if err := os.WriteFile(nolock, []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, summary := soakFor(t, "--duration", "12s", "--golock", nolock, "--config", "aof")
	if code != 1 {
		t.Errorf("the soak of a wrapper without a lock exited %d, want 1 (findings)", code)
	}
	if n := count(t, summary, "overlaps"); n == 0 {
		t.Errorf("the soak found no overlaps in a fleet that runs without a lock: %s", summary)
	}
	if !strings.HasSuffix(summary, ": FAIL") {
		t.Errorf("the summary line does not end in FAIL: %s", summary)
	}
}

// A minute of golock with one Redis with AOF, under every fault: no findings.
func TestSoakAOF(t *testing.T) {
	if testing.Short() {
		t.Skip("the 60 s soak does not run with -short")
	}
	code, summary := soakFor(t, "--duration", "60s", "--config", "aof")
	if code != 0 || !strings.HasSuffix(summary, ": PASS") {
		t.Errorf("the soak of golock with AOF exited %d: %s", code, summary)
	}
}

// A minute of golock through Sentinel failovers with CRONLOCK_MIN_REPLICAS=1: no
// findings. Without the WAIT (--config sentinel) a master that wakes after the sentinels
// replaced it takes locks its replacement never sees, and such a minute often overlaps.
func TestSoakSentinelWait(t *testing.T) {
	if testing.Short() {
		t.Skip("the 60 s soak does not run with -short")
	}
	code, summary := soakFor(t, "--duration", "60s", "--config", "sentinel-wait")
	if code != 0 || !strings.HasSuffix(summary, ": PASS") {
		t.Errorf("the soak of golock with Sentinel and CRONLOCK_MIN_REPLICAS=1 exited %d: %s", code, summary)
	}
	if n := count(t, summary, "faults"); n == 0 {
		t.Errorf("the soak injected no faults: %s", summary)
	}
}
