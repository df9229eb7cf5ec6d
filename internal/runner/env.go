package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/lockscript"
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

// childEnv is the job's environment: golock's, plus CRONLOCK_LOCK, CRONLOCK_OWNER and
// CRONLOCK_FENCE describing the lock it runs under.
func childEnv(environ []string, l *lockscript.Lock) []string {
	set := map[string]string{
		"CRONLOCK_LOCK":  l.Name,
		"CRONLOCK_OWNER": l.Owner,
		"CRONLOCK_FENCE": strconv.FormatInt(l.Fence, 10),
	}
	env := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			env = append(env, kv)
		}
	}
	for _, k := range []string{"CRONLOCK_LOCK", "CRONLOCK_OWNER", "CRONLOCK_FENCE"} {
		env = append(env, k+"="+set[k])
	}
	return env
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
