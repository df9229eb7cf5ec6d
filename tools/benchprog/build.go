package main

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
)

// build prints one line saying which build of a binary is measured: its Go version,
// CGO_ENABLED, whether it is linked statically, its size, and the commit it was built from
// (from its build info, or else as given: builds with -buildvcs=false carry none).
func build(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: build BINARY [COMMIT]")
	}
	path := args[0]
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return err
	}
	set := map[string]string{}
	for _, s := range info.Settings {
		set[s.Key] = s.Value
	}
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	linking := "statically linked"
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			linking = "dynamically linked"
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	commit := "commit unknown"
	if len(args) == 2 {
		commit = args[1]
	}
	if rev := set["vcs.revision"]; rev != "" {
		commit = "commit " + rev[:min(len(rev), 12)]
		if set["vcs.modified"] == "true" {
			commit += " with uncommitted changes"
		}
	}
	cgo := set["CGO_ENABLED"]
	if cgo == "" {
		cgo = "?"
	}
	fmt.Printf("%s, CGO_ENABLED=%s, %s, %.1f MB, %s\n", info.GoVersion, cgo, linking,
		float64(st.Size())/(1<<20), commit)
	return nil
}
