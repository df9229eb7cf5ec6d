package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// The config file as cronlock reads it: cronlock sources it with bash, so golock takes its
// bytes as bash does, passes what it exports to the job, refuses by name what it would
// read otherwise, and reads only a regular file (or /dev/null) of sane size.

// configFile writes text to a fresh config file and returns its path.
func configFile(t *testing.T, text string) string {
	t.Helper()
	path := cliPath(t, "cronlock.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFileLatin1: a file in Latin-1, with a byte that is not UTF-8 in a comment and
// in CRONLOCK_KEY, is read as bash reads it: the lock name holds the key's byte, as the
// name cronlock computes from the same file.
func TestConfigFileLatin1(t *testing.T) {
	t.Parallel()
	file := configFile(t, "# réglages: caf\xe9\nCRONLOCK_KEY='caf\xe9'\n")
	r := golocktest.Run(t, golocktest.Env("CRONLOCK_CONFIG="+file), "--key", "true")
	cliWantCode(t, r, 0)
	// cronlock's lock name: CRONLOCK_KEY="${CRONLOCK_PREFIX}${CRONLOCK_KEY}", after the
	// prefix's default.
	out, err := exec.Command("bash", "-c", `source "$0"; printf '%s\n' "${CRONLOCK_PREFIX:-cronlock.}${CRONLOCK_KEY}"`, file).Output()
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != string(out) || r.Stdout != "cronlock.caf\xe9\n" || r.Stderr != "" {
		t.Errorf("golock --key: stdout %q, stderr %q; cronlock's name is %q", r.Stdout, r.Stderr, out)
	}
}

// TestConfigFileReachesJob: what the file exports, and what it assigns to variables of
// the environment (PATH), reaches the job as it reaches a command cronlock runs after
// sourcing the file; what it only assigns does not. One verbose line names the variables,
// never their values.
func TestConfigFileReachesJob(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	envCmd, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	file := configFile(t, "# caf\xe9\nPATH=/nonexistent/bin:$PATH\nexport TZ=UTC0\n"+
		"export http_proxy=http://proxy.example:3128\nSECRET_TOKEN=s3cr3t-value\nCRONLOCK_PREFIX=jobs.\n"+
		"export LANG_NOTE='caf\xe9'\nHOME=~/sub\n")
	env := golocktest.Env(append(srv.Env(), "CRONLOCK_CONFIG="+file, "CRONLOCK_VERBOSE=yes", "HOME=/home/cron")...)
	r := golocktest.Run(t, env, envCmd, "-0")
	cliWantCode(t, r, 0)
	job := envMap([]byte(r.Stdout), "CRONLOCK_LOCK", "CRONLOCK_OWNER", "CRONLOCK_FENCE")

	bash := exec.Command("bash", "-c", `source "$0" && exec "$1" -0`, file, envCmd)
	bash.Env = env
	out, err := bash.Output()
	if err != nil {
		t.Fatal(err)
	}
	underCronlock := envMap(out, "_", "SHLVL", "PWD", "OLDPWD")
	if !mapsEqual(job, underCronlock) {
		t.Errorf("the job's environment:\n%q\nunder bash sourcing the file:\n%q", job, underCronlock)
	}
	if job["PATH"] != "/nonexistent/bin:"+os.Getenv("PATH") || job["TZ"] != "UTC0" || job["HOME"] != "/home/cron/sub" ||
		job["LANG_NOTE"] != "caf\xe9" || job["SECRET_TOKEN"] != "" || job["CRONLOCK_PREFIX"] != "" {
		t.Errorf("the job's environment: %q", job)
	}
	if want := "config file sets HOME, LANG_NOTE, PATH, TZ, http_proxy for the job"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr %q does not say %q", r.Stderr, want)
	}
	for _, secret := range []string{"proxy.example", "UTC0", "nonexistent", "s3cr3t", "SECRET_TOKEN", "/home/cron/sub"} {
		if strings.Contains(r.Stderr, secret) {
			t.Errorf("stderr shows %q: %s", secret, r.Stderr)
		}
	}

	// Without the verbose setting the run says nothing of it.
	quiet := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_CONFIG="+file)...), "true")
	cliWantCode(t, quiet, 0)
	if quiet.Stderr != "" {
		t.Errorf("stderr %q, want none", quiet.Stderr)
	}
}

// envMap reads `env -0` output, without the names of leave.
func envMap(out []byte, leave ...string) map[string]string {
	m := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && !slices.Contains(leave, k) {
			m[k] = v
		}
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestConfigFileDevNull: CRONLOCK_CONFIG=/dev/null, a common way to say "no file", reads
// as an empty file, without the warning that it is writable by every user.
// TestConfigFilePathFindsCommand: a command found only on a PATH the config file sets runs,
// as under cronlock, which sources the file before it runs the command.
func TestConfigFilePathFindsCommand(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "only-here"), []byte("#!/bin/sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(file, []byte("PATH="+bin+":$PATH\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_CONFIG="+file, "CRONLOCK_GRACE=0")...), "only-here")
	if r.Code != 7 {
		t.Errorf("a command on the config file's PATH: exit %d, want its 7; stderr:\n%s", r.Code, r.Stderr)
	}
}

func TestConfigFileDevNull(t *testing.T) {
	t.Parallel()
	r := golocktest.Run(t, golocktest.Env("CRONLOCK_CONFIG=/dev/null", "CRONLOCK_VERBOSE=yes"), "--key", "true")
	cliWantCode(t, r, 0)
	if r.Stdout != cliName("true")+"\n" || strings.Contains(r.Stderr, "writable") || strings.Contains(r.Stderr, "/dev/null") {
		t.Errorf("stdout %q, stderr %q; want the default name and no word of the file", r.Stdout, r.Stderr)
	}
}

// TestConfigFileRefused: a config file golock cannot read as bash would, or that is no
// regular file, stops the run before the job: exit 201, one line naming CRONLOCK_CONFIG and
// the variable at fault, against a Redis where the same job runs with a good file. A FIFO
// does not block, /dev/zero and a 100 MB file are not read.
func TestConfigFileRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.conf")
	if f, err := os.Create(huge); err != nil || f.Truncate(100<<20) != nil || f.Close() != nil {
		t.Fatal("cannot make a sparse file of 100 MB", err)
	}
	marker := cliPath(t, "ran")
	good := configFile(t, "# caf\xe9\nPATH=$PATH\n")
	cliWantCode(t, golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_CONFIG="+good, "CRONLOCK_GRACE=0")...), "touch", marker), 0)
	if !cliExists(marker) {
		t.Fatal("the job did not run with a good file")
	}
	os.Remove(marker)

	tests := []struct {
		name string
		path string   // the file, or "" to write text
		text string   // the file's text
		says []string // what the line must say, besides CRONLOCK_CONFIG
	}{
		{"a FIFO", fifo, "", []string{"named pipe", "regular file"}},
		{"/dev/zero", "/dev/zero", "", []string{"character device", "regular file"}},
		{"a directory", dir, "", []string{"directory", "regular file"}},
		{"100 MB", huge, "", []string{"104857600 bytes", "1 MiB"}},
		{"$_", "", "A=1\nB=$_\n", []string{"line 2: B", "$_"}},
		{"~+", "", "OUT=~+/out\n", []string{"line 1: OUT", "~+"}},
		{"~- in PATH", "", "PATH=$PATH:~-\n", []string{"line 1: PATH", "~-"}},
		{"$'\\u'", "", "export NAME=$'caf\\u00e9'\n", []string{"line 1: NAME", `\u`}},
		{"set -a left on", "", "set -a\nA=1\n", []string{"line 1", "set +a"}},
		{"NUL bytes in a row", "", "A=1\nB=x\x00\x00y\n", []string{"line 2", "NUL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path
			if path == "" {
				path = configFile(t, tt.text)
			}
			marker := cliPath(t, "ran")
			r := golocktest.Run(t, golocktest.Env(append(srv.Env(), "CRONLOCK_CONFIG="+path, "CRONLOCK_GRACE=0")...), "touch", marker)
			cliWantCode(t, r, 201)
			lines := cliLines(r.Stderr)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "golock: ") {
				t.Fatalf("stderr %q, want one line", r.Stderr)
			}
			t.Logf("line: %s", lines[0])
			for _, s := range append(tt.says, "CRONLOCK_CONFIG", path) {
				if !strings.Contains(lines[0], s) {
					t.Errorf("line %q does not say %q", lines[0], s)
				}
			}
			if cliExists(marker) {
				t.Error("the job ran")
			}
			if r.Took.Seconds() > 5 {
				t.Errorf("golock took %v", r.Took)
			}
		})
	}
}
