package supervisor

import _ "embed"

// nativeProgram is the native watchdog for this architecture (see watchdog.go).
//
//go:embed watchdog/watchdog-arm64
var nativeProgram []byte
