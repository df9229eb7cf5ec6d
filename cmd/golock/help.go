package main

import (
	"fmt"
	"io"
)

// printHelp prints the manual for a terminal: --help.
func printHelp(stdout, _ io.Writer) int {
	fmt.Fprint(stdout, usage)
	return 0
}

// printMan prints the manual page golock(1) in roff: --man.
func printMan(stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "golock: --man: not built yet")
	return exitFailed
}

// versionLine is what --version prints.
func versionLine() string {
	return "golock " + version
}
