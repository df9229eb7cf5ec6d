package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/manual"
	"github.com/golock/golock/internal/ptytest"
)

func TestHelpManVersion(t *testing.T) {
	r := golocktest.Run(t, golocktest.Env(), "--help")
	if lines := strings.Count(r.Stdout, "\n"); r.Code != 0 || r.Stdout != manual.Help() || r.Stderr != "" || lines > 80 ||
		!strings.Contains(r.Stdout, "CRONLOCK_HOST") || !strings.Contains(r.Stdout, "202") || !strings.Contains(r.Stdout, "golock --man") {
		t.Errorf("--help: exit %d, stderr %q, %d lines; want the one-screen summary (≤ 80 lines):\n%s", r.Code, r.Stderr, lines, r.Stdout)
	}
	r = golocktest.Run(t, golocktest.Env(), "--man")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, ".nh\n") || !strings.Contains(r.Stdout, "\n.TH golock 1 ") ||
		strings.Contains(r.Stdout, "{{version}}") {
		t.Errorf("--man: exit %d, stderr %q, stdout starts %q", r.Code, r.Stderr, r.Stdout[:min(80, len(r.Stdout))])
	}
	r = golocktest.Run(t, golocktest.Env(), "--version")
	if want := " (" + runtime.Version() + ")\n"; r.Code != 0 || !strings.HasPrefix(r.Stdout, "golock ") ||
		!strings.HasSuffix(r.Stdout, want) {
		t.Errorf("--version: exit %d, %q; want golock VERSION (%s)", r.Code, r.Stdout, runtime.Version())
	}
	// A man page golock would print with its own version: .TH names it.
	if v := strings.TrimSuffix(strings.TrimPrefix(r.Stdout, "golock "), " ("+runtime.Version()+")\n"); !strings.Contains(
		golocktest.Run(t, golocktest.Env(), "--man").Stdout, `"golock `+v+`"`) {
		t.Errorf("--man's .TH does not name version %q", v)
	}
}

// TestVersionOfVCSBuild builds golock from a clone of this repository, as go build stamps
// it with the VCS revision (go does not stamp a build inside a git worktree, whose .git is
// a file), then with a change in the tree, then with -ldflags -X.
func TestVersionOfVCSBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("build test: skipped under -short; runs in the full suite (./tools/test)")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	clone := t.TempDir()
	if out, err := exec.Command("git", "clone", "-q", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	head, err := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "golock")
	version := func(flags ...string) string {
		t.Helper()
		build := exec.Command("go", append(append([]string{"build", "-buildvcs=true"}, flags...), "-o", bin, "./cmd/golock")...)
		build.Dir = clone
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %q: %v: %s", flags, err, out)
		}
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			t.Fatalf("golock --version: %v", err)
		}
		return string(out)
	}
	// Go stamps the module with a pseudo-version that ends in the revision (v0.0.0-TIME-REV);
	// without one, golock prints the revision itself.
	rev := string(head[:12])
	tail := " (" + runtime.Version() + ")\n"
	clean := regexp.MustCompile(`^golock (v0\.0\.0-\d{14}-)?` + rev + regexp.QuoteMeta(tail) + `$`)
	if got := version(); !clean.MatchString(got) {
		t.Errorf("--version of a VCS build: %q, want %s", got, clean)
	}
	if err := os.WriteFile(filepath.Join(clone, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dirty := regexp.MustCompile(`^golock (v0\.0\.0-\d{14}-)?` + rev + `\+dirty` + regexp.QuoteMeta(tail) + `$`)
	if got := version(); !dirty.MatchString(got) {
		t.Errorf("--version of a build with changes: %q, want %s", got, dirty)
	}
	if got := version("-ldflags", "-X github.com/golock/golock/internal/version.stamp=1.2.3"); got != "golock 1.2.3"+tail {
		t.Errorf("--version of a stamped build: %q, want %q", got, "golock 1.2.3"+tail)
	}
}

// TestFilePermissionWarning checks that the advice on a config file's permissions reaches
// someone watching (a terminal, or CRONLOCK_VERBOSE) and never cron's mail (a pipe).
func TestFilePermissionWarning(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(conf, []byte("CRONLOCK_AUTH=hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(conf, 0o644); err != nil { // the umask may have cut WriteFile's mode
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "CRONLOCK_CONFIG=" + conf}
	want := "config file " + conf + " holds CRONLOCK_AUTH and is readable by every user (mode 0644)"
	if r := golocktest.Run(t, env, "--key", "true"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("through a pipe: exit %d, stderr %q; want nothing on stderr", r.Code, r.Stderr)
	}
	if r := golocktest.Run(t, append(env, "CRONLOCK_VERBOSE=yes"), "--key", "true"); r.Code != 0 ||
		!strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, "hunter2") {
		t.Errorf("with CRONLOCK_VERBOSE: exit %d, stderr %q; want %q", r.Code, r.Stderr, want)
	}
	cmd := golocktest.Command(t, env, "--key", "true")
	term := ptytest.Start(t, cmd)
	if l := term.Next(t); !strings.Contains(l, want) || strings.Contains(l, "hunter2") {
		t.Errorf("at a terminal: %q; want %q", l, want)
	}
	if l := term.Next(t); l != cliName("true") {
		t.Errorf("at a terminal, then %q; want the lock's name", l)
	}
	if err := term.Wait(t, 10*time.Second); err != nil {
		t.Errorf("at a terminal: %v", err)
	}
}
