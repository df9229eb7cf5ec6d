package lockscript

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is what Inspect finds at a lock: its holder, if any, and its last run.
type Status struct {
	Name   string
	Holder *Holder  // nil when the lock is free
	Record *Record  // golock's lock record; nil unless Holder.Kind is "golock"
	Last   *LastRun // nil when no run has been recorded
	// Others are the holders of slots 2..N of a lock taken with CRONLOCK_LIMIT above 1;
	// nil otherwise.
	Others []Slot
	Now    time.Time // Redis's clock when it was read
}

// Slot is one more holder of a lock taken with CRONLOCK_LIMIT above 1.
type Slot struct {
	Holder Holder
	Record Record
}

// Record is what a golock lock record says beyond its Holder. Times are Redis's clock.
type Record struct {
	// Command is the command line as recorded: "sha256:" and its hash when the holder ran
	// with CRONLOCK_RECORD_CMD=no.
	Command   string
	Acquired  time.Time
	GraceEnds time.Time // the lock is held at least until then
	Deadline  time.Time // CRONLOCK_RELEASE after acquisition: the lock lapses then
	Released  time.Time // when the job ended, holding the lock for grace; zero while it runs
}

// LastRun is the record release leaves of a lock's last run.
type LastRun struct {
	Host     string
	PID      string
	Fence    int64
	Started  time.Time     // acquisition, by Redis's clock
	Duration time.Duration // from acquisition to release
	Code     int           // exit code
	Ran      bool          // false: the command could not start (Code 126 or 127)
	// Success is when the last run that exited 0 ended, by Redis's clock; zero when none
	// is recorded. A record written before golock kept it says only whether the last run
	// succeeded: then Success is its end when it did, zero otherwise.
	Success time.Time
}

// Inspect reads who holds name and its last run, in one round trip (two for a lock taken
// with CRONLOCK_LIMIT above 1: the first learns how many slots to read), changing nothing.
func Inspect(ctx context.Context, c redis.Scripter, name string) (Status, error) {
	r, err := withSlots(ctx, inspectScript(), c, name, func(slots []string) []string {
		return append([]string{name, LastRunKey(name), LimitKey(name)}, slots...)
	})
	if err != nil {
		return Status{}, fmt.Errorf("lockscript: inspect %s: %w", name, err)
	}
	nowMS := r.int(2)
	st := Status{Name: name, Now: time.UnixMilli(nowMS)}
	value := fields(r, 3)
	switch kind := r.str(0); kind {
	case "none":
	case "hash":
		if value["owner"] == "" {
			st.Holder = &Holder{Kind: "hash", TTL: r.dur(1)} // not golock's
			break
		}
		h, rec := record(value, r.dur(1), nowMS)
		st.Holder, st.Record = &h, &rec
	case "string":
		st.Holder = &Holder{Kind: "cronlock", TTL: r.dur(1)}
		if s, err := strconv.ParseInt(value[""], 10, 64); err != nil || s < 0 {
			st.Holder.Kind = "string"
		} else {
			st.Holder.Expires = time.Unix(s, 0)
		}
	default:
		st.Holder = &Holder{Kind: kind, TTL: r.dur(1)}
	}
	if last := fields(r, 4); len(last) > 0 {
		l := &LastRun{Host: last["host"], PID: last["pid"], Ran: last["ran"] == "1"}
		l.Fence, _ = strconv.ParseInt(last["fence"], 10, 64)
		l.Code, _ = strconv.Atoi(last["exit"])
		l.Started = msTime(last["started_ms"])
		l.Duration = msTime(last["ended_ms"]).Sub(l.Started)
		l.Success = msTime(last["success_ms"])
		if _, kept := last["success_ms"]; !kept && l.Ran && l.Code == 0 {
			l.Success = msTime(last["ended_ms"])
		}
		st.Last = l
	}
	if len(r) > 5 {
		slots, _ := r[5].([]any)
		for _, s := range slots {
			sr := answer(asList(s))
			if f := fields(sr, 1); f["owner"] != "" {
				h, rec := record(f, sr.dur(0), nowMS)
				st.Others = append(st.Others, Slot{Holder: h, Record: rec})
			}
		}
		if st.Holder == nil && len(st.Others) > 0 { // slot 1 is free, another is not
			first := st.Others[0]
			st.Holder, st.Record, st.Others = &first.Holder, &first.Record, st.Others[1:]
		}
	}
	return st, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// record reads a golock lock record's fields; ttl is its key's, nowMS Redis's clock.
func record(value map[string]string, ttl time.Duration, nowMS int64) (Holder, Record) {
	h := Holder{Kind: "golock", Owner: value["owner"], Host: value["host"], PID: value["pid"],
		TTL: ttl, Released: value["released_ms"] != ""}
	h.Fence, _ = strconv.ParseInt(value["fence"], 10, 64)
	rec := Record{Command: value["cmd"], Acquired: msTime(value["acquired_ms"]),
		GraceEnds: msTime(value["grace_ms"]), Deadline: msTime(value["deadline_ms"]),
		Released: msTime(value["released_ms"])}
	if !rec.Acquired.IsZero() {
		h.Age = time.Duration(nowMS-rec.Acquired.UnixMilli()) * time.Millisecond
	}
	return h, rec
}

// msTime reads unix milliseconds; "" or a bad number is the zero time.
func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// fields reads element i of r, a flat field/value list, as a map; a list of one string
// (a string lock's value) reads as {"": value}.
func fields(r answer, i int) map[string]string {
	m := map[string]string{}
	if i >= len(r) {
		return m
	}
	list, _ := r[i].([]any)
	if len(list) == 1 {
		m[""] = answer(list).str(0)
		return m
	}
	for j := 0; j+1 < len(list); j += 2 {
		kv := answer(list[j : j+2])
		m[kv.str(0)] = kv.str(1)
	}
	return m
}

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

// isCompanion reports whether key is a fence counter, last-run record, limit key or slot
// (2 and up, of a CRONLOCK_LIMIT above 1) of some lock.
func isCompanion(key string) bool {
	for _, suffix := range []string{".fence", ".last", ".limit"} {
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
