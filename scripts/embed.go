// Package scripts holds golock's Lua scripts, one atomic script per lock operation. Each
// file's head comment names its KEYS, ARGV and replies.
package scripts

import (
	"embed"
	"strings"
)

//go:embed *.lua
var files embed.FS

// All returns every script's source by name: acquire.lua is "acquire".
func All() map[string]string {
	entries, _ := files.ReadDir(".")
	all := make(map[string]string, len(entries))
	for _, e := range entries {
		src, _ := files.ReadFile(e.Name())
		all[strings.TrimSuffix(e.Name(), ".lua")] = string(src)
	}
	return all
}
