// Command mkman renders golock-exporter.md into golock-exporter.1, the man page
// golock-exporter(1), in the working directory: go generate ./cmd/golock-exporter.
package main

import (
	"fmt"
	"os"

	"github.com/golock/golock/internal/manual/render"
)

func main() {
	src, err := os.ReadFile("golock-exporter.md")
	if err == nil {
		err = os.WriteFile("golock-exporter.1", render.Roff(string(src)), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkman:", err)
		os.Exit(1)
	}
}
