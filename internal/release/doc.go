// Package release holds no code: its test runs tools/release for this machine's
// architecture and checks what an operator would install, the static binary and the
// Debian package, without installing anything.
package release
