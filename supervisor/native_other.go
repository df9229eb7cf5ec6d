//go:build !amd64 && !arm64

package supervisor

// nativeProgram is empty: there is no native watchdog for this architecture, and the
// /bin/sh one runs (see watchdog.go).
var nativeProgram []byte
