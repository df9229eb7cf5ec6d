package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain gives the tests a world of their own: no CRONLOCK_* from the caller's
// environment, and in place of /etc/cronlock.conf a path in a fresh directory, where no
// file is unless a test writes one.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CRONLOCK_") {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "golock-config-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	systemFile = filepath.Join(dir, "cronlock.conf")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSystemFileSearchedLast checks that the system file (here the tests' own, in place of
// /etc/cronlock.conf) is read when nothing comes before it, and not when something does.
func TestSystemFileSearchedLast(t *testing.T) {
	if SystemFile() != systemFile || strings.HasPrefix(systemFile, "/etc/") {
		t.Fatalf("the tests search %q, want a file of their own", SystemFile())
	}
	if err := os.WriteFile(systemFile, []byte("CRONLOCK_PREFIX=system.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(systemFile) })
	if files, explicit := SearchPath([]string{"CRONLOCK_CONFIG="}, ""); explicit || len(files) != 1 || files[0] != systemFile {
		t.Errorf("SearchPath with no executable: %q, explicit %v; want only %q", files, explicit, systemFile)
	}
	if cfg, _ := load(t, noFile); cfg.Prefix != "system." || cfg.File != systemFile {
		t.Errorf("prefix %q from %q; want system. from %q", cfg.Prefix, cfg.File, systemFile)
	}
	named := writeFile(t, "CRONLOCK_PREFIX=named.\n", 0o600)
	if cfg, _ := load(t, "CRONLOCK_CONFIG="+named); cfg.Prefix != "named." {
		t.Errorf("with CRONLOCK_CONFIG set: prefix %q, want named.", cfg.Prefix)
	}
}

// TestExecutableDir checks that golock finds its directory as cronlock finds its script's:
// argv[0] as invoked, looked up on PATH when it holds no slash, through one symlink.
func TestExecutableDir(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "real", "golock")
	links := filepath.Join(dir, "links")
	for _, d := range []string{filepath.Dir(bin), links} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(bin, filepath.Join(links, "abs")))
	must(os.Symlink("../real/golock", filepath.Join(links, "rel")))
	must(os.Symlink("abs", filepath.Join(links, "twice"))) // one link is followed, as by readlink
	must(os.WriteFile(filepath.Join(links, "golock"), []byte("not executable"), 0o644))
	exe, err := os.Executable()
	must(err)
	tests := []struct {
		argv0, path, want string
	}{
		{bin, "", filepath.Dir(bin)},
		{"golock", filepath.Dir(bin), filepath.Dir(bin)},
		{"golock", links + ":" + filepath.Dir(bin), filepath.Dir(bin)}, // links/golock is not executable
		{"abs", "/nonexistent:" + links, filepath.Dir(bin)},
		{filepath.Join(links, "abs"), "", filepath.Dir(bin)},
		{filepath.Join(links, "rel"), "", filepath.Dir(bin)},
		{filepath.Join(links, "twice"), "", links},
		{"not-on-path", links, filepath.Dir(exe)},
		{"", links, ""},
	}
	for _, tt := range tests {
		if got := executableDir(tt.argv0, tt.path); got != tt.want {
			t.Errorf("executableDir(%q, PATH=%q) = %q, want %q", tt.argv0, tt.path, got, tt.want)
		}
	}
}

// TestLoadSearchesBesideExecutable checks the search order: CRONLOCK_CONFIG when set and
// not empty, else cronlock.conf beside the executable (a regular file only).
func TestLoadSearchesBesideExecutable(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "golock")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	beside := filepath.Join(dir, "cronlock.conf")
	if err := os.WriteFile(beside, []byte("CRONLOCK_PREFIX=beside.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	named := writeFile(t, "CRONLOCK_PREFIX=named.\n", 0o600)
	for _, tt := range []struct {
		environ      []string
		prefix, file string
	}{
		{nil, "beside.", beside},
		{[]string{"CRONLOCK_CONFIG="}, "beside.", beside},
		{[]string{"CRONLOCK_CONFIG=" + named}, "named.", named},
	} {
		cfg, _, err := Load(tt.environ, bin)
		if err != nil {
			t.Errorf("Load(%q): %v", tt.environ, err)
		} else if cfg.Prefix != tt.prefix || cfg.File != tt.file {
			t.Errorf("Load(%q): prefix %q from %q; want %q from %q", tt.environ, cfg.Prefix, cfg.File, tt.prefix, tt.file)
		}
	}
	// A directory of that name is no config file; nor is there a system file here (see TestMain).
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, "cronlock.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err := Load(nil, filepath.Join(other, "golock")); err != nil {
		t.Errorf("Load beside a directory: %v", err)
	} else if cfg.File != "" {
		t.Errorf("Load beside a directory: file %q, want none", cfg.File)
	}
}
