package config

import (
	"os"
	"path/filepath"
	"strings"
)

// systemFile is read when CRONLOCK_CONFIG is unset or empty, no cronlock.conf is beside
// the executable, and this file exists: /etc/cronlock.conf. A build may point it elsewhere
// with -ldflags "-X github.com/golock/golock/internal/config.systemFile=PATH", as the
// tests' golock is built, so that a test never reads the machine's /etc.
var systemFile = "/etc/cronlock.conf"

// SystemFile is the config file searched last: /etc/cronlock.conf, unless the build
// said otherwise.
func SystemFile() string { return systemFile }

// configPath is the config file to read, searched for as cronlock does: CRONLOCK_CONFIG
// when it is set and not empty (it must then exist), else cronlock.conf in the directory
// of the executable (argv0 as invoked, found on PATH when it holds no slash, through one
// symbolic link), else SystemFile; a searched file counts only when it is a regular file.
// path is "" when there is none.
func configPath(vars map[string]string, argv0 string) (path string, explicit bool) {
	tries, explicit := searchPath(vars, argv0)
	if explicit {
		return tries[0], true
	}
	for _, try := range tries {
		if fi, err := os.Stat(try); err == nil && fi.Mode().IsRegular() {
			return try, false
		}
	}
	return "", false
}

// SearchPath is where Load looks for the config file, in order, for environ (KEY=value
// strings) and argv0 as Load takes them: the first that is a regular file is read. explicit
// is true when CRONLOCK_CONFIG names the file: then it is the only one, and must exist.
func SearchPath(environ []string, argv0 string) (files []string, explicit bool) {
	return searchPath(Vars(environ), argv0)
}

func searchPath(vars map[string]string, argv0 string) (files []string, explicit bool) {
	if path := vars["CRONLOCK_CONFIG"]; path != "" {
		return []string{path}, true
	}
	if dir := executableDir(argv0, vars["PATH"]); dir != "" {
		files = append(files, filepath.Join(dir, "cronlock.conf"))
	}
	return append(files, systemFile), false
}

// executableDir is the directory cronlock would take for its own: that of argv0, or of
// the file its symbolic link names (one link, as cronlock's readlink). A relative link
// is taken from the link's own directory (cronlock would take it from the working
// directory, which under cron is $HOME). It is "" when argv0 is empty.
func executableDir(argv0, pathEnv string) string {
	if argv0 == "" {
		return ""
	}
	path := argv0
	if !strings.Contains(argv0, "/") {
		path = lookPath(argv0, pathEnv)
		if path == "" { // started with an argv[0] that is not on PATH
			exe, err := os.Executable()
			if err != nil {
				return ""
			}
			path = exe
		}
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, err := os.Readlink(path); err == nil {
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(path), target)
			}
			path = target
		}
	}
	return filepath.Dir(path)
}

// lookPath finds name on pathEnv as the shell that started golock did: the first
// executable regular file; an empty entry is the working directory. It is "" if none.
func lookPath(name, pathEnv string) string {
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return path
		}
	}
	return ""
}
