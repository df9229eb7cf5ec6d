// Package scripts holds golock's Lua scripts, one atomic script per lock operation. Each
// file's head comment names its KEYS, ARGV and replies.
package scripts

import (
	"embed"
	"strings"
)

//go:embed *.lua
var files embed.FS

// Names returns every script's name: acquire.lua is "acquire".
func Names() []string {
	entries, _ := files.ReadDir(".")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".lua"))
	}
	return names
}

// Source returns the source of the named script, or "" if there is none. Only that one is
// read: a run uses two of them, and reading is copying.
func Source(name string) string {
	src, err := files.ReadFile(name + ".lua")
	if err != nil {
		return ""
	}
	return string(src)
}
