package lockscript_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

func TestName(t *testing.T) {
	for _, tc := range []struct {
		prefix, key string
		args        []string
		want        string
	}{
		{"cronlock.", "", []string{"pwd"}, "cronlock.c6ad4d9c5b03d1b42aec7d14899614db"},
		{"cronlock.", "", []string{"ls", "-al"}, "cronlock.116a0615d30dbfdede6a4c955715af7d"},
		{"cronlock.", "nightly", []string{"ls", "-al"}, "cronlock.nightly"},
		{"", "", []string{"pwd"}, "c6ad4d9c5b03d1b42aec7d14899614db"},
		{"x:", "", []string{"pwd"}, "x:c6ad4d9c5b03d1b42aec7d14899614db"},
	} {
		if got := lockscript.Name(tc.prefix, tc.key, tc.args); got != tc.want {
			t.Errorf("Name(%q, %q, %q) = %q, want %q", tc.prefix, tc.key, tc.args, got, tc.want)
		}
	}
}

func TestFenceKey(t *testing.T) {
	for name, want := range map[string]string{
		"cronlock.c6ad4d9c5b03d1b42aec7d14899614db": "{cronlock.c6ad4d9c5b03d1b42aec7d14899614db}.fence",
		"cronlock.{web}backup":                      "cronlock.{web}backup.fence",
		"{x}":                                       "{x}.fence",
		"a{b":                                       "{a{b}.fence",
	} {
		if got := lockscript.FenceKey(name); got != want {
			t.Errorf("FenceKey(%q) = %q, want %q", name, got, want)
		}
	}
	// An empty tag is no tag: the name gets braces of its own.
	for _, name := range []string{"a{}b", "{}", "x}y"} {
		if got := lockscript.FenceKey(name); !strings.HasPrefix(got, "{") || !strings.HasSuffix(got, "}.fence") {
			t.Errorf("FenceKey(%q) = %q, want {...}.fence", name, got)
		}
	}
}

// TestFenceKeySameSlot asks a cluster-enabled redis-server (a plain one refuses CLUSTER
// KEYSLOT) whether the fence key and channel hash to the lock's slot, also for names that hold
// braces in every odd place.
func TestFenceKeySameSlot(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t, redistest.WithArgs("--cluster-enabled", "yes")).Client()
	names := []string{"cronlock.c6ad4d9c5b03d1b42aec7d14899614db", "cronlock.{web}backup", "a{}b", "{}", "}",
		"{", "}{", "x}y", "a{b", "a{b}c}d", "{a}{b}", "{}{a}", "a{}b{c}", "}}{{", "cronlock.{}", ""}
	for i := range 300 { // plus pseudo-random mixes of braces and other bytes
		var b strings.Builder
		for j := range 1 + i%9 {
			b.WriteByte("{}a.é#0"[(i*7+j*13+i*j)%7])
		}
		names = append(names, b.String())
	}
	pipe := c.Pipeline()
	type check struct {
		name          string
		lock, fence   *redis.IntCmd
		channel       *redis.IntCmd
		fenceKey, chn string
	}
	var checks []check
	for _, name := range names {
		fk, ch := lockscript.FenceKey(name), lockscript.Channel(name)
		checks = append(checks, check{name: name, fenceKey: fk, chn: ch,
			lock: pipe.ClusterKeySlot(t.Context(), name), fence: pipe.ClusterKeySlot(t.Context(), fk),
			channel: pipe.ClusterKeySlot(t.Context(), ch)})
	}
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	for _, ck := range checks {
		if ck.fence.Val() != ck.lock.Val() {
			t.Errorf("FenceKey(%q) = %q is in slot %d, the lock in %d", ck.name, ck.fenceKey, ck.fence.Val(), ck.lock.Val())
		}
		if ck.channel.Val() != ck.lock.Val() {
			t.Errorf("Channel(%q) = %q is in slot %d, the lock in %d", ck.name, ck.chn, ck.channel.Val(), ck.lock.Val())
		}
		if ck.fenceKey == ck.name || ck.chn == ck.name || ck.fenceKey == ck.chn {
			t.Errorf("%q: fence key %q and channel %q must differ from it and each other", ck.name, ck.fenceKey, ck.chn)
		}
	}
}
