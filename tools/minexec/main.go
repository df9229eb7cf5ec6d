// Command minexec runs its command as a child, passing stdin, stdout and stderr through,
// and exits with the child's code. It is the floor that tools/bench measures golock
// against: what any Go wrapper pays to start, fork and exec a job, wait, and exit.
//
//	minexec COMMAND [ARG...]
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: minexec COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "minexec:", err)
		os.Exit(127)
	}
}
