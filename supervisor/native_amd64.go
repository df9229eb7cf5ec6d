package supervisor

import _ "embed"

// nativeProgram is the native watchdog for this architecture (see watchdog.go).
//
//go:embed watchdog/watchdog-amd64
var nativeProgram []byte
