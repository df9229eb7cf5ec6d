package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/golock/golock/internal/config"
)

// commandLine is the command line as golock records it in the lock and prints it in
// messages: the arguments joined by spaces or, with CRONLOCK_RECORD_CMD=no, only
// "sha256:" and the hex SHA-256 of that line plus a newline, which is what
// `echo "COMMAND ARGS" | sha256sum` prints, so that a secret among the arguments stays out
// of Redis and out of cron's mail while the record can still be matched to its crontab line.
func commandLine(cfg *config.Config, args []string) string {
	line := strings.Join(args, " ")
	if cfg.RecordCmd {
		return line
	}
	sum := sha256.Sum256([]byte(line + "\n"))
	return "sha256:" + hex.EncodeToString(sum[:])
}
