package lockscript_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

func TestInspect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.Start(t).Client()

	st, err := lockscript.Inspect(ctx, c, "cronlock.free")
	if err != nil || st.Holder != nil || st.Last != nil || st.Name != "cronlock.free" {
		t.Fatalf("a free lock: %+v, %v", st, err)
	}

	l := acquire(t, c, "cronlock.inspected", options("a", time.Minute, time.Hour, 10*time.Second))
	time.Sleep(20 * time.Millisecond)
	st, err = lockscript.Inspect(ctx, c, l.Name)
	if err != nil {
		t.Fatal(err)
	}
	h := st.Holder
	if h == nil || h.Kind != lockscript.Golock || h.Owner != "a" || h.Host != l.Host || h.PID != l.PID || h.Fence != l.Fence ||
		h.Released || h.Age < 20*time.Millisecond || h.Age > 5*time.Second || h.TTL <= 55*time.Second {
		t.Errorf("held: %+v", h)
	}
	if st.Last != nil {
		t.Errorf("last run %+v before any release", st.Last)
	}

	// The release records the run: host, pid, fence, start, duration, exit code.
	time.Sleep(30 * time.Millisecond)
	if _, err := l.Release(ctx, lockscript.Outcome{Ran: true, Code: 7}); err != nil {
		t.Fatal(err)
	}
	st, err = lockscript.Inspect(ctx, c, l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Holder == nil || !st.Holder.Released {
		t.Errorf("after release within grace: %+v, want held for grace", st.Holder)
	}
	last := st.Last
	if last == nil || last.Host != l.Host || last.PID != l.PID || last.Fence != l.Fence || last.Code != 7 || !last.Ran ||
		!last.Started.Equal(l.Acquired) || last.Duration < 50*time.Millisecond || last.Duration > 5*time.Second {
		t.Errorf("last run %+v, want host %s pid %d fence %d exit 7 started %v", last, l.Host, l.PID, l.Fence, l.Acquired)
	}
	if ttl := pttl(t, c, lockscript.LastRunKey(l.Name)); ttl < lockscript.LastRunTTL-time.Minute {
		t.Errorf("last-run record TTL %v, want about %v", ttl, lockscript.LastRunTTL)
	}
	if !last.Success.IsZero() || st.Now.Before(last.Started.Add(last.Duration)) {
		t.Errorf("after a failed run: success %v (want none), Redis's now %v", last.Success, st.Now)
	}

	// The time of the last success is kept across a failed run after it; a record written
	// before golock kept it counts its run's end when that run succeeded.
	ok := acquire(t, c, "cronlock.succeeds", options("s", 0, time.Hour, 10*time.Second))
	if _, err := ok.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
		t.Fatal(err)
	}
	st, _ = lockscript.Inspect(ctx, c, ok.Name)
	success := st.Last.Success
	if success.IsZero() || !success.Equal(st.Last.Started.Add(st.Last.Duration)) {
		t.Errorf("after a success: %+v, want its end as the last success", st.Last)
	}
	failed := acquire(t, c, ok.Name, options("f", 0, time.Hour, 10*time.Second))
	if _, err := failed.Release(ctx, lockscript.Outcome{Ran: true, Code: 1}); err != nil {
		t.Fatal(err)
	}
	if st, _ = lockscript.Inspect(ctx, c, ok.Name); st.Last.Code != 1 || !st.Last.Success.Equal(success) {
		t.Errorf("after a failure: %+v, want exit 1 and the success of %v kept", st.Last, success)
	}
	c.HSet(ctx, lockscript.LastRunKey("cronlock.old"), "host", "h", "started_ms", "1000", "ended_ms", "3000",
		"exit", "0", "ran", "1")
	if st, _ = lockscript.Inspect(ctx, c, "cronlock.old"); !st.Last.Success.Equal(time.UnixMilli(3000)) {
		t.Errorf("an older record of a success: %+v, want its end as the last success", st.Last)
	}

	// A lock given back before its command was tried leaves the last run as it was.
	l2 := acquire(t, c, l.Name+".2", options("b", 0, time.Hour, 10*time.Second))
	if _, err := l2.Release(ctx, lockscript.NotTried); err != nil {
		t.Fatal(err)
	}
	if st, _ := lockscript.Inspect(ctx, c, l2.Name); st.Last != nil || st.Holder != nil {
		t.Errorf("after NotTried: %+v, want free with no last run", st)
	}

	// cronlock's string lock, and a foreign value.
	c.Set(ctx, "cronlock.legacy", time.Now().Add(time.Hour).Unix(), time.Hour)
	c.RPush(ctx, "cronlock.list", "x")
	for name, want := range map[string]struct {
		kind lockscript.Kind
		typ  string
	}{"cronlock.legacy": {lockscript.Cronlock, ""}, "cronlock.list": {lockscript.Foreign, "list"}} {
		st, err := lockscript.Inspect(ctx, c, name)
		if err != nil || st.Holder == nil || st.Holder.Kind != want.kind || st.Holder.Type != want.typ {
			t.Errorf("%s: %+v, %v; want kind %v, type %q", name, st.Holder, err, want.kind, want.typ)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.Start(t).Client()
	want := []string{"app.a", "app.b", "app.{tag}c"}
	for _, name := range want {
		l := acquire(t, c, name, options("o", time.Minute, time.Hour, 10*time.Second))
		if _, err := l.Release(ctx, lockscript.Outcome{Ran: true}); err != nil {
			t.Fatal(err) // leaves the lock held for grace, and fence and last-run keys beside it
		}
	}
	acquire(t, c, "other.x", options("o", time.Minute, time.Hour, 10*time.Second))
	c.Set(ctx, "app*", "a glob character in a key", 0)

	got, err := lockscript.List(ctx, c, "app.")
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List(app.) = %q, %v; want %q (no fence counters or last-run records)", got, err, want)
	}
	// A lock whose grace hold has expired is known by its last-run record.
	free := acquire(t, c, "app.free", options("o", 0, time.Hour, 10*time.Second))
	if _, err := free.Release(ctx, lockscript.Outcome{Ran: true, Code: 2}); err != nil {
		t.Fatal(err)
	}
	c.HSet(ctx, lockscript.LastRunKey("other.y"), "exit", "0")
	if got, err := lockscript.List(ctx, c, "app."); err != nil || slices.Contains(got, "app.free") {
		t.Errorf("List(app.) = %q, %v; want no free lock", got, err)
	}
	recorded := []string{"app.a", "app.b", "app.free", "app.{tag}c"}
	if got, err := lockscript.ListRecorded(ctx, c, "app."); err != nil || !slices.Equal(got, recorded) {
		t.Errorf("ListRecorded(app.) = %q, %v; want %q", got, err, recorded)
	}
	if got, err := lockscript.List(ctx, c, "app*"); err != nil || !slices.Equal(got, []string{"app*"}) {
		t.Errorf("List(app*) = %q, %v; want only the key named app* (the prefix is not a pattern)", got, err)
	}
}
