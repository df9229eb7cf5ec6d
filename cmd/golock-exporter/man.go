package main

import (
	_ "embed"
	"strings"
)

//go:generate go run ./mkman

// manPage is golock-exporter(1) in roff, rendered from golock-exporter.md by go generate;
// its title line holds {{version}}. A test fails when it is stale.
//
//go:embed golock-exporter.1
var manPage string

// roff is the man page, its title naming version.
func roff(version string) string {
	return strings.Replace(manPage, "{{version}}", version, 1)
}
