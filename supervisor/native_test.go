package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
)

// TestNativeWatchdogBuiltFromSource: the embedded watchdogs were built from watchdog.c as
// it is (go generate ./supervisor rebuilds them and the recorded sum).
func TestNativeWatchdogBuiltFromSource(t *testing.T) {
	src, err := os.ReadFile("watchdog/watchdog.c")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(src); hex.EncodeToString(sum[:]) != nativeSource {
		t.Error("watchdog/watchdog.c changed since the embedded watchdogs were built: run go generate ./supervisor")
	}
	if len(nativeProgram) == 0 {
		t.Error("no native watchdog embedded for this architecture")
	}
}
