package lockscript

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is what Inspect finds at a lock: its holder, if any, and its last run.
type Status struct {
	Name   string
	Holder *Holder  // nil when the lock is free
	Record *Record  // golock's lock record; nil unless Holder.Kind is Golock
	Last   *LastRun // nil when no run has been recorded
	// Others are the holders of slots 2..N of a lock taken with a Limit above 1;
	// nil otherwise.
	Others []Slot
	Now    time.Time // Redis's clock when it was read
}

// Slot is one more holder of a lock taken with a Limit above 1.
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
	PID      int
	Fence    int64
	Started  time.Time     // acquisition, by Redis's clock
	Duration time.Duration // from acquisition to release
	Code     int           // exit code
	Ran      bool          // false: the command could not start (Code 126 or 127)
	Ended    Ending        // how the run ended
	// Command is the command line as recorded ("sha256:..." under CRONLOCK_RECORD_CMD=no);
	// "" in a record written before golock kept it.
	Command string
	// Success is when the last run that exited 0 ended, by Redis's clock; zero when none
	// is recorded. A record written before golock kept it says only whether the last run
	// succeeded: then Success is its end when it did, zero otherwise.
	Success time.Time
}

// Inspect reads who holds name and its last run, in one round trip (two for a lock taken
// with a Limit above 1: the first learns how many slots to read), changing nothing.
func Inspect(ctx context.Context, c redis.Scripter, name string) (Status, error) {
	reply, err := withSlots(ctx, script(inspect), c, name, func(slots []string) []string {
		return append([]string{name, LastRunKey(name), LimitKey(name), RecordKey(name)}, slots...)
	})
	if err != nil {
		return Status{}, fmt.Errorf("lockscript: inspect %s: %w", name, err)
	}
	var r struct {
		Type        string
		TTL         time.Duration
		Now         time.Time
		Value, Last []any
		Slots       []any
	}
	decode(reply, &r)
	st := Status{Name: name, Now: r.Now}
	value := pairs(r.Value)
	switch r.Type {
	case "none":
	case "hash":
		if value["owner"] == "" {
			st.Holder = &Holder{Kind: Foreign, Type: "hash", TTL: r.TTL} // not golock's
			break
		}
		h, rec := record(value, r.TTL, r.Now)
		st.Holder, st.Record = &h, &rec
	case "mixed": // golock's record, NAME in cronlock's string form
		h, rec := record(value, r.TTL, r.Now)
		st.Holder, st.Record = &h, &rec
	case "string":
		st.Holder = &Holder{Kind: Cronlock, TTL: r.TTL}
		if s, err := strconv.ParseInt(value[""], 10, 64); err != nil || s < 0 {
			st.Holder.Kind, st.Holder.Type = Foreign, "string"
		} else {
			st.Holder.Expires = time.Unix(s, 0)
		}
	default:
		st.Holder = &Holder{Kind: Foreign, Type: r.Type, TTL: r.TTL}
	}
	// A record that only says a reset came (no run has ended yet) is no last run.
	if last := pairs(r.Last); last["started_ms"] != "" {
		l := &LastRun{Host: last["host"], Ran: last["ran"] == "1", Command: last["cmd"]}
		l.PID, _ = strconv.Atoi(last["pid"])
		l.Fence, _ = strconv.ParseInt(last["fence"], 10, 64)
		l.Code, _ = strconv.Atoi(last["exit"])
		// A record written before golock said how a run ended tells it by the exit code.
		l.Ended = Outcome{Ran: l.Ran, Code: l.Code, Ended: Ending(last["ended"])}.ending()
		l.Started = msTime(last["started_ms"])
		l.Duration = msTime(last["ended_ms"]).Sub(l.Started)
		l.Success = msTime(last["success_ms"])
		if _, kept := last["success_ms"]; !kept && last["ended"] == "" && l.Ran && l.Code == 0 { // an older record
			l.Success = msTime(last["ended_ms"])
		}
		st.Last = l
	}
	for _, s := range r.Slots {
		var slot struct {
			TTL    time.Duration
			Fields []any
		}
		list, _ := s.([]any)
		decode(list, &slot)
		if f := pairs(slot.Fields); f["owner"] != "" {
			h, rec := record(f, slot.TTL, r.Now)
			st.Others = append(st.Others, Slot{Holder: h, Record: rec})
		}
	}
	if st.Holder == nil && len(st.Others) > 0 { // slot 1 is free, another is not
		first := st.Others[0]
		st.Holder, st.Record, st.Others = &first.Holder, &first.Record, st.Others[1:]
	}
	return st, nil
}

// record reads a golock lock record's fields; ttl is its key's, now Redis's clock.
func record(value map[string]string, ttl time.Duration, now time.Time) (Holder, Record) {
	h := Holder{Kind: Golock, Owner: value["owner"], Host: value["host"], TTL: ttl, Released: value["released_ms"] != ""}
	h.PID, _ = strconv.Atoi(value["pid"])
	h.Fence, _ = strconv.ParseInt(value["fence"], 10, 64)
	rec := Record{Command: value["cmd"], Acquired: msTime(value["acquired_ms"]),
		GraceEnds: msTime(value["grace_ms"]), Deadline: msTime(value["deadline_ms"]),
		Released: msTime(value["released_ms"])}
	if !rec.Acquired.IsZero() {
		h.Age = now.Sub(rec.Acquired)
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
