// Package golocktest is the one place tests build and launch golock, and the jobs they
// give it. Its tests own their world: the golock it builds reads, in place of
// /etc/cronlock.conf, a path of its own where no file is unless a test writes one (see
// SystemFile), and Main clears the caller's CRONLOCK_* before any test runs. Every process
// it starts dies with the test binary, so a run that times out or is killed leaves
// nothing behind.
package golocktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// module is the import path of golock's module.
const module = "github.com/golock/golock"

// Main runs the tests of a package that launches golock, from its TestMain:
//
//	func TestMain(m *testing.M) { golocktest.Main(m) }
//
// It clears CRONLOCK_* from the environment, fails at once when redis-server is missing
// (these tests are never skipped for want of it), runs the tests and removes what Build
// built.
func Main(m *testing.M) {
	ClearEnv()
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: redis-server not found in PATH: these tests need a real Redis (apt-get install redis-server)")
		os.Exit(1)
	}
	code := m.Run()
	if dir := builds.dir; dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// ClearEnv unsets every CRONLOCK_* variable of the test process, so that a golock run
// in-process or started with os.Environ() never sees the caller's settings.
func ClearEnv() {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CRONLOCK_") {
			os.Unsetenv(k)
		}
	}
}

// Env is a clean environment for golock: PATH, an empty CRONLOCK_CONFIG (the search for a
// file runs, and finds none unless a test put one there), then extra.
func Env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "CRONLOCK_CONFIG="}, extra...)
}

// builds holds the commands built for this test binary, each once, in one directory.
var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string // by package path
	errs map[string]error
}

// Binary returns golock built for the tests (see Build), failing the test if it cannot
// be built.
func Binary(t testing.TB) string {
	t.Helper()
	return Build(t, "cmd/golock")
}

// Build returns the command in pkg, a directory of golock's module such as
// "cmd/golock-exporter", built once per test binary with SystemFile in place of
// /etc/cronlock.conf. A build that fails fails the test, and every later one.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if bin, ok := builds.bins[pkg]; ok {
		return bin
	}
	if err := builds.errs[pkg]; err != nil {
		t.Fatal(err)
	}
	bin, err := build(pkg)
	if err != nil {
		if builds.errs == nil {
			builds.errs = map[string]error{}
		}
		builds.errs[pkg] = err
		t.Fatal(err)
	}
	if builds.bins == nil {
		builds.bins = map[string]string{}
	}
	builds.bins[pkg] = bin
	return bin
}

// build builds pkg into the build directory; builds.mu is held.
func build(pkg string) (string, error) {
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "golocktest")
		if err != nil {
			return "", err
		}
		builds.dir = dir
	}
	bin := filepath.Join(builds.dir, "bin", filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin,
		"-ldflags=-X "+module+"/internal/config.systemFile="+systemFile(builds.dir),
		module+"/"+pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("golocktest: cannot build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// SystemFile is the file the built commands search in place of /etc/cronlock.conf, last,
// when CRONLOCK_CONFIG is empty and no cronlock.conf is beside the binary. No file is
// there unless a test writes one; a test that does must not run in parallel with others.
func SystemFile(t testing.TB) string {
	t.Helper()
	Binary(t) // makes the directory
	builds.mu.Lock()
	defer builds.mu.Unlock()
	return systemFile(builds.dir)
}

func systemFile(dir string) string { return filepath.Join(dir, "etc", "cronlock.conf") }
