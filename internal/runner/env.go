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

// childEnv is the job's environment: golock's, with what the config file passes to the job
// (its exports, and its assignments to variables of the environment, as under cronlock,
// which sources the file), then CRONLOCK_LOCK, CRONLOCK_OWNER and CRONLOCK_FENCE describing
// the lock it runs under. A verbose line names the file's variables, never their values.
func (j *job) childEnv(l *lockscript.Lock) []string {
	set := map[string]string{}
	var names []string
	for _, kv := range j.Config.JobEnv {
		k, v, _ := strings.Cut(kv, "=")
		set[k] = v
		names = append(names, k)
	}
	if len(names) > 0 {
		j.Log.Debug("config file sets "+strings.Join(names, ", ")+" for the job", "file", j.Config.File)
	}
	set["CRONLOCK_LOCK"] = l.Name
	set["CRONLOCK_OWNER"] = l.Owner
	set["CRONLOCK_FENCE"] = strconv.FormatInt(l.Fence, 10)
	env := make([]string, 0, len(j.Environ)+len(set))
	for _, kv := range j.Environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := set[k]; !replaced {
			env = append(env, kv)
		}
	}
	for _, k := range append(names, "CRONLOCK_LOCK", "CRONLOCK_OWNER", "CRONLOCK_FENCE") {
		if v, ok := set[k]; ok {
			env = append(env, k+"="+v)
			delete(set, k) // once, should the file set one of golock's three
		}
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
