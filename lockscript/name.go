package lockscript

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// Name is the lock name for a command, as cronlock makes it: prefix + key, where key
// defaults to the hex MD5 of the arguments joined by spaces plus a newline (what
// `echo "$@" | md5sum` prints).
func Name(prefix, key string, args []string) string {
	if key == "" {
		sum := md5.Sum([]byte(strings.Join(args, " ") + "\n"))
		key = hex.EncodeToString(sum[:])
	}
	return prefix + key
}

// FenceKey is the key of name's fence counter. It hashes to name's Redis Cluster slot:
// "{name}.fence", or "name.fence" when name already holds a non-empty {hash tag}.
func FenceKey(name string) string {
	return sameSlot(name, ".fence")
}

// Channel is where release and reset announce that name is free, for waiting golocks.
func Channel(name string) string {
	return sameSlot(name, ".released")
}

func sameSlot(name, suffix string) string {
	if hasHashTag(name) {
		return name + suffix
	}
	return "{" + name + "}" + suffix
}

// hasHashTag reports whether Redis Cluster would hash only part of name: a "{" followed
// later by a "}" with at least one byte between them.
func hasHashTag(name string) bool {
	open := strings.IndexByte(name, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(name[open+1:], '}')
	return end > 0
}
