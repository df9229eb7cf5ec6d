package golocktest

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golock/golock/internal/proctest"
)

func TestMain(m *testing.M) { Main(m) }

// name is the lock name of `golock true` with prefix: as cronlock's, the md5 of "true\n".
func name(prefix string) string {
	sum := md5.Sum([]byte("true\n"))
	return prefix + hex.EncodeToString(sum[:])
}

// TestGolockIgnoresCallersSettings: a caller's CRONLOCK_* (set here after Main cleared
// them, as a caller's would be) do not reach a golock launched with Env.
func TestGolockIgnoresCallersSettings(t *testing.T) {
	t.Setenv("CRONLOCK_HOST", "10.9.9.8")
	t.Setenv("CRONLOCK_PORT", "6391")
	t.Setenv("CRONLOCK_PREFIX", "env.")
	t.Setenv("CRONLOCK_KEY", "callers-key")
	want := name("cronlock.")
	if r := Run(t, Env(), "--key", "true"); r.Code != 0 || strings.TrimSpace(r.Stdout) != want || r.Stderr != "" {
		t.Errorf("golock --key true: exit %d, stdout %q, stderr %q; want 0 and %s", r.Code, r.Stdout, r.Stderr, want)
	}
	p := Start(t, Env(), "--key", "true")
	if r := p.Wait(); r.Code != 0 || strings.TrimSpace(r.Stdout) != want {
		t.Errorf("golock --key true, started: exit %d, stdout %q; want 0 and %s", r.Code, r.Stdout, want)
	}
}

// TestGolockReadsItsOwnSystemFile: the golock tests run reads SystemFile, not
// /etc/cronlock.conf, where the search ends; the mechanism is live, so a file there is
// read. Not parallel: the file is shared by every test of the binary.
func TestGolockReadsItsOwnSystemFile(t *testing.T) {
	path := SystemFile(t)
	if path == "/etc/cronlock.conf" || !strings.HasPrefix(path, os.TempDir()) {
		t.Fatalf("SystemFile is %q, want a file of the tests' own", path)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s exists before the test wrote it: %v", path, err)
	}
	def := name("cronlock.")
	if r := Run(t, Env(), "--key", "true"); strings.TrimSpace(r.Stdout) != def {
		t.Errorf("no file: golock --key true printed %q, want %s", r.Stdout, def)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("CRONLOCK_PREFIX=system.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	sys := name("system.")
	if r := Run(t, Env(), "--key", "true"); r.Code != 0 || strings.TrimSpace(r.Stdout) != sys {
		t.Errorf("with %s: golock --key true: exit %d, stdout %q, stderr %q; want %s", path, r.Code, r.Stdout, r.Stderr, sys)
	}
	named := filepath.Join(t.TempDir(), "named.conf")
	if err := os.WriteFile(named, []byte("CRONLOCK_PREFIX=named.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := Run(t, Env("CRONLOCK_CONFIG="+named), "--key", "true"); strings.TrimSpace(r.Stdout) != name("named.") {
		t.Errorf("with CRONLOCK_CONFIG naming a file: golock --key true printed %q, want the named file's prefix", r.Stdout)
	}
}

// TestJob runs the Job fixture without golock: it records itself, and ends with its code
// when told to finish.
func TestJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := Job(dir, 3, "")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(Env(), "CRONLOCK_OWNER=o", "CRONLOCK_FENCE=7")
	if err := proctest.StartTied(cmd); err != nil {
		t.Fatal(err)
	}
	job := WaitJob(t, dir)
	if job.Owner != "o" || job.Fence != 7 || job.PID != cmd.Process.Pid {
		t.Errorf("job recorded %+v, want pid %d, owner o, fence 7", job, cmd.Process.Pid)
	}
	FinishJob(t, dir)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("job exit %d (%v), want 3", code, err)
	}
	if ReadNanos(t, filepath.Join(dir, "ended")).IsZero() {
		t.Error("no end time")
	}
}
