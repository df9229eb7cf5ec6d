// Package scripts holds golock's Lua scripts, one atomic script per lock operation.
// Each file's head comment names its KEYS, ARGV and replies.
package scripts

import _ "embed"

var (
	//go:embed acquire.lua
	Acquire string
	//go:embed extend.lua
	Extend string
	//go:embed release.lua
	Release string
	//go:embed reset.lua
	Reset string
	//go:embed inspect.lua
	Inspect string
	//go:embed revoke.lua
	Revoke string
	//go:embed held.lua
	Held string
)
