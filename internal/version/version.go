// Package version says which build of golock is running, for --version, the man page, the
// pings' User-Agent and the exporter.
package version

import (
	"runtime"
	"runtime/debug"
)

// stamp is set at build time: -ldflags "-X github.com/golock/golock/internal/version.stamp=1.2.3".
var stamp = "dev"

// String is the version stamped at build time, else the module's version (a tag with go
// install, or the pseudo-version go build makes from the VCS revision, +dirty when the tree
// had changes), else that revision itself, else "dev".
func String() string {
	if stamp != "dev" {
		return stamp
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return stamp
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
		return stamp
	}
	return rev[:min(12, len(rev))] + dirty
}

// Line is what --version prints: the program, its version and the Go that built it.
func Line(program string) string {
	return program + " " + String() + " (" + runtime.Version() + ")"
}
