package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/golock/golock/internal/manual"
)

// printHelp prints the manual for a terminal: --help.
func printHelp(stdout io.Writer) int {
	fmt.Fprint(stdout, manual.Text())
	return 0
}

// printMan prints the man page golock(1) in roff: --man.
func printMan(stdout io.Writer) int {
	fmt.Fprint(stdout, manual.Roff(buildVersion()))
	return 0
}

// versionLine is what --version prints: golock's version and the Go that built it.
func versionLine() string {
	return fmt.Sprintf("golock %s (%s)", buildVersion(), runtime.Version())
}

// buildVersion is the version stamped at build time (-ldflags "-X main.version=..."), else
// the module's version (a tag with go install, or the pseudo-version go build makes from
// the VCS revision, +dirty when the tree had changes), else that revision itself, else
// "dev".
func buildVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return version
	}
	return rev[:min(12, len(rev))] + dirty
}
