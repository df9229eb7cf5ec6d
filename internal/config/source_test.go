package config

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSourceTildeWithoutHome: ~ is $HOME, even empty, and with HOME unset the user's own
// home from the password file, as bash has it.
func TestSourceTildeWithoutHome(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	const text = "A=~ B=~/x:~/y\n"
	for _, tt := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"HOME set", map[string]string{"HOME": "/h"}, map[string]string{"A": "/h", "B": "/h/x:/h/y"}},
		{"HOME empty", map[string]string{"HOME": ""}, map[string]string{"A": "", "B": "/x:/y"}},
		{"HOME unset", map[string]string{}, map[string]string{"A": u.HomeDir, "B": u.HomeDir + "/x:" + u.HomeDir + "/y"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile(strings.NewReader(text), tt.env)
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("ParseFile(%q) = %q, %v; want %q", text, got, err, tt.want)
			}
			if fromBash := sourceWithBash(t, text, tt.env, tt.want); !maps.Equal(fromBash, tt.want) {
				t.Errorf("bash sourcing %q gives %q, the test wants %q", text, fromBash, tt.want)
			}
		})
	}
}

// TestSourceJobEnv: what the file exports, and what it assigns to variables of the
// environment, reaches the job as bash sourcing the file passes it to a command it runs;
// the rest stays the file's.
func TestSourceJobEnv(t *testing.T) {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/cron", "TZ": "Europe/Paris",
		"CRONLOCK_HOST": "envhost", "KEEP": "same"}
	tests := []struct {
		name string
		text string
		want []string // Config.JobEnv
	}{
		{"nothing exported", "A=1\nCRONLOCK_PREFIX=p.\n", nil},
		{"variables of the environment", "PATH=/opt/bin:$PATH\nTZ=UTC\nKEEP=same\nA=1\n",
			[]string{"PATH=/opt/bin:/usr/local/bin:/usr/bin:/bin", "TZ=UTC"}},
		{"export", "export http_proxy=http://proxy:3128 NO_PROXY=localhost\nexport A\nA=1\nB=2\nexport B\nexport C\n",
			[]string{"A=1", "B=2", "NO_PROXY=localhost", "http_proxy=http://proxy:3128"}},
		{"set -a", "set -a\nA=1\nB+=2\nset +a\nC=3\n", []string{"A=1", "B=2"}},
		{"settings", "CRONLOCK_HOST=filehost\nCRONLOCK_PORT=6380\nexport CRONLOCK_PREFIX=p.\n",
			[]string{"CRONLOCK_HOST=filehost", "CRONLOCK_PREFIX=p."}},
		{"bytes", "export A='caf\xe9' HOME=~/x\n", []string{"A=caf\xe9", "HOME=/home/cron/x"}},
		{"appended", "PATH+=:~/bin\n", []string{"PATH=/usr/local/bin:/usr/bin:/bin:/home/cron/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Source([]byte(tt.text), env)
			if err != nil {
				t.Fatalf("Source(%q): %v", tt.text, err)
			}
			got := s.jobEnv(env)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Source(%q): job env %q, want %q", tt.text, got, tt.want)
			}
			jobEnv := maps.Clone(env)
			for _, kv := range got {
				k, v, _ := strings.Cut(kv, "=")
				jobEnv[k] = v
			}
			if fromBash := bashJobEnv(t, tt.text, env); !maps.Equal(fromBash, jobEnv) {
				t.Errorf("a command run by bash after sourcing %q gets\n%q\ngolock's job would get\n%q", tt.text, fromBash, jobEnv)
			}
		})
	}
}

// bashJobEnv sources text with bash in the environment env and returns the environment
// of the command it then runs, without what bash sets for itself (_, SHLVL, PWD, OLDPWD).
func bashJobEnv(t *testing.T, text string, env map[string]string) map[string]string {
	t.Helper()
	envCmd, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", `source "$0" && exec "$1" -0`, file, envCmd)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash cannot source %q: %v", text, err)
	}
	got := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if k, v, _ := strings.Cut(string(kv), "="); !slices.Contains([]string{"_", "SHLVL", "PWD", "OLDPWD"}, k) {
			got[k] = v
		}
	}
	return got
}

// TestLoadJobEnv: Load gives the job what the file passes it, and reads the file's bytes
// as they are: a Latin-1 CRONLOCK_KEY is the lock's key byte for byte, as cronlock's.
func TestLoadJobEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cronlock.conf")
	text := "# réglages, écrits en Latin-1: caf\xe9\nPATH=/opt/bin:$PATH\nexport TZ=UTC\nCRONLOCK_KEY='caf\xe9'\nPLAIN=1\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := Load([]string{"CRONLOCK_CONFIG=" + file, "PATH=/bin"}, "")
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Load: %v, warnings %q", err, warnings)
	}
	if want := []string{"PATH=/opt/bin:/bin", "TZ=UTC"}; !slices.Equal(cfg.JobEnv, want) {
		t.Errorf("JobEnv = %q, want %q", cfg.JobEnv, want)
	}
	if cfg.Key != "caf\xe9" {
		t.Errorf("Key = %q, want %q", cfg.Key, "caf\xe9")
	}
}

// TestLoadFileKinds: CRONLOCK_CONFIG names a regular file of at most 1 MiB, or /dev/null
// for none; anything else is refused at once, naming CRONLOCK_CONFIG and what golock reads,
// without reading it: a FIFO does not block, /dev/zero and a huge file cost nothing.
func TestLoadFileKinds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.conf")
	if f, err := os.Create(huge); err != nil || f.Truncate(100<<20) != nil || f.Close() != nil {
		t.Fatal("cannot make a sparse file of 100 MB", err)
	}
	justOver := filepath.Join(dir, "over.conf")
	if err := os.WriteFile(justOver, append([]byte("#"), bytes.Repeat([]byte("x"), MaxFileSize)...), 0o600); err != nil {
		t.Fatal(err)
	}
	atMost := filepath.Join(dir, "max.conf")
	last := "CRONLOCK_PREFIX=max.\n"
	if err := os.WriteFile(atMost, []byte("#"+strings.Repeat("x", MaxFileSize-len(last)-2)+"\n"+last), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		says string // "" when it reads
	}{
		{fifo, "is a named pipe (FIFO); golock reads only a regular file, or /dev/null for none"},
		{"/dev/zero", "is a character device"},
		{dir, "is a directory"},
		{huge, "is 104857600 bytes; golock reads at most 1 MiB"},
		{justOver, "is 1048577 bytes"},
		{atMost, ""},
		{"/dev/null", ""},
	} {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			start := time.Now()
			cfg, _, err := Load([]string{"CRONLOCK_CONFIG=" + tt.path}, "")
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Load took %v", took)
			}
			var p *Problem
			switch {
			case tt.says == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.says == "" && cfg.FileProblem != "":
				t.Errorf("FileProblem %q, want none", cfg.FileProblem)
			case tt.path == atMost && cfg.Prefix != "max.":
				t.Errorf("a file of 1 MiB: CRONLOCK_PREFIX %q, want its last line's", cfg.Prefix)
			case tt.says != "" && (!errors.As(err, &p) || p.Var != "CRONLOCK_CONFIG" || !strings.Contains(err.Error(), tt.says) ||
				!strings.Contains(err.Error(), tt.path)):
				t.Errorf("Load: error %v, want CRONLOCK_CONFIG: ... %s %s", err, tt.path, tt.says)
			}
		})
	}
	if p := FilePermissionProblem("/dev/null"); p != "" {
		t.Errorf("FilePermissionProblem(/dev/null) = %q, want none", p)
	}
	if p := FilePermissionProblem(fifo); p != "" {
		t.Errorf("FilePermissionProblem(a FIFO) = %q, want none", p)
	}
}

// TestLoadSearchedFileTooBig: a file found by searching is held to the same cap, and the
// error says it was found so.
func TestLoadSearchedFileTooBig(t *testing.T) {
	dir := t.TempDir()
	if f, err := os.Create(filepath.Join(dir, "cronlock.conf")); err != nil || f.Truncate(MaxFileSize+1) != nil || f.Close() != nil {
		t.Fatal("cannot make the file", err)
	}
	_, _, err := Load(nil, filepath.Join(dir, "golock"))
	if err == nil || !strings.Contains(err.Error(), "1 MiB") || !strings.Contains(err.Error(), "found by searching") {
		t.Errorf("Load: %v, want the file too big, found by searching", err)
	}
}
