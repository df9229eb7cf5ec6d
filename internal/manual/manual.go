// Package manual is golock's manual: golock.md, one markdown source that --help prints for
// a terminal (golock.txt) and --man prints as the man page golock(1) (golock.1), so that
// no copy can drift. Both are rendered from it at build time by go generate (see
// ./render) and embedded; a test fails when they are stale. Nothing here runs on a normal
// golock run: the embedded files are static data.
package manual

import (
	_ "embed"
	"strings"
)

//go:generate go run ./mkmanual

// Width is the width of the lines of Text.
const Width = 80

// versionMark stands for golock's version in the source's title line.
const versionMark = "{{version}}"

var (
	//go:embed golock.txt
	text string
	//go:embed golock.1
	roff string
)

// Text is the manual for a terminal, in lines of at most Width columns.
func Text() string { return text }

// Roff is the man page golock(1) in roff, its title naming version.
func Roff(version string) string {
	return strings.Replace(roff, versionMark, version, 1)
}

//go:embed golock.md
var source string

// Usage is the synopsis golock prints when it is given nothing to do, or a wrong option:
// the manual's SYNOPSIS, each line after the first starting "       ".
func Usage() string {
	_, rest, _ := strings.Cut(source, "\n# SYNOPSIS\n")
	body, _, _ := strings.Cut(rest, "\n#")
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(body), "\n") {
		prefix := "usage: "
		if i > 0 {
			prefix = "       "
		}
		b.WriteString(prefix + strings.TrimSpace(line) + "\n")
	}
	return b.String()
}
