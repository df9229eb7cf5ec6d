package lockscript

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// List returns the name of every lock under prefix, found with SCAN (never KEYS) on every
// master of a cluster. Fence counters and last-run records are left out.
func List(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	return list(ctx, c, prefix, false)
}

// ListRecorded is List plus the locks that are free now but have a last run recorded,
// found by their last-run records: what a monitor must see of a job that runs now and
// then.
func ListRecorded(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	return list(ctx, c, prefix, true)
}

func list(ctx context.Context, c redis.UniversalClient, prefix string, recorded bool) ([]string, error) {
	var mu sync.Mutex // a cluster's masters are scanned at once
	seen := map[string]bool{}
	patterns := []string{escapeGlob(prefix) + "*"}
	if recorded { // {NAME}.last, for a NAME without a hash tag of its own
		patterns = append(patterns, "{"+escapeGlob(prefix)+"*}.last")
	}
	scan := func(ctx context.Context, node redis.Cmdable) error {
		for _, pattern := range patterns {
			iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				name, ok := iter.Val(), !isCompanion(iter.Val())
				if !ok && recorded {
					name, ok = lastRunOf(iter.Val())
				}
				if ok && strings.HasPrefix(name, prefix) {
					mu.Lock()
					seen[name] = true
					mu.Unlock()
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scan(ctx, node)
		})
	} else {
		err = scan(ctx, c)
	}
	if err != nil {
		return nil, fmt.Errorf("lockscript: list %s*: %w", prefix, err)
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// lastRunOf is the lock whose last-run record key is, when it is one.
func lastRunOf(key string) (string, bool) {
	base, ok := strings.CutSuffix(key, ".last")
	if !ok {
		return "", false
	}
	// {NAME}.last, else NAME.last for a NAME with a hash tag of its own.
	for _, name := range []string{strings.TrimSuffix(strings.TrimPrefix(base, "{"), "}"), base} {
		if name != "" && LastRunKey(name) == key {
			return name, true
		}
	}
	return "", false
}

// isCompanion reports whether key is a fence counter, last-run record, limit key, lock
// record of the string form (RecordKey) or slot (2 and up, of a CRONLOCK_LIMIT above 1) of
// some lock.
func isCompanion(key string) bool {
	for _, suffix := range []string{".fence", ".last", ".limit", ".record"} {
		if base, ok := strings.CutSuffix(key, suffix); ok && sameSlot(base, suffix) == key {
			return true
		}
	}
	if i := strings.LastIndex(key, ".slot"); i > 0 {
		if k, err := strconv.Atoi(key[i+len(".slot"):]); err == nil && k > 1 {
			suffix := key[i:]
			return sameSlot(key[:i], suffix) == key
		}
	}
	return false
}

// escapeGlob quotes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// StringForm returns the locks under prefix (as List finds them) held in cronlock's form:
// a string of digits, the unix second it expires. They are cronlock's, or golock's under
// Options.Mixed. It only reads: SCAN, then GET of each lock in one pipeline.
func StringForm(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	names, err := List(ctx, c, prefix)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	pipe := c.Pipeline()
	gets := make([]*redis.StringCmd, len(names))
	for i, name := range names {
		gets[i] = pipe.Get(ctx, name)
	}
	_, _ = pipe.Exec(ctx) // each GET's own error is read below: a hash answers WRONGTYPE
	var found []string
	for i, get := range gets {
		v, err := get.Result()
		switch {
		case err == nil && v != "" && strings.Trim(v, "0123456789") == "":
			found = append(found, names[i])
		case err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "WRONGTYPE"):
			return nil, fmt.Errorf("lockscript: read %s: %w", names[i], err)
		}
	}
	return found, nil
}
