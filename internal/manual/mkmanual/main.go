// Command mkmanual renders golock.md into golock.1 (roff) and golock.txt (plain text,
// manual.Width columns) in the working directory: go generate ./internal/manual.
package main

import (
	"fmt"
	"os"

	"github.com/golock/golock/internal/manual"
	"github.com/golock/golock/internal/manual/render"
)

func main() {
	src, err := os.ReadFile("golock.md")
	if err == nil {
		err = os.WriteFile("golock.1", render.Roff(string(src)), 0o644)
	}
	if err == nil {
		err = os.WriteFile("golock.txt", []byte(render.Text(string(src), manual.Width)), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkmanual:", err)
		os.Exit(1)
	}
}
