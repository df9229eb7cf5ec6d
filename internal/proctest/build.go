package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds each Go package directory of pkgs with go build into one fresh temporary
// directory, and returns the binaries' paths in the same order and a function that
// removes them. go build's own errors go to stderr; the error names the package.
func Build(pkgs ...string) (bins []string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "golock-bin")
	if err != nil {
		return nil, nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	for _, pkg := range pkgs {
		abs, err := filepath.Abs(pkg)
		if err != nil {
			remove()
			return nil, nil, err
		}
		bin := filepath.Join(dir, filepath.Base(abs))
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			remove()
			return nil, nil, fmt.Errorf("cannot build %s: %w", pkg, err)
		}
		bins = append(bins, bin)
	}
	return bins, remove, nil
}
