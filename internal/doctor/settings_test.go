package doctor

import (
	"strings"
	"testing"
)

// TestMaskURL: a URL's password is shown as ***, whatever it holds; the rest is kept.
func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@redis.internal:6380/2":     "redis://:***@redis.internal:6380/2",
		"rediss://app:p%40ss%3Aw0rd@10.0.0.1:6380":  "rediss://app:***@10.0.0.1:6380",
		"redis://app@redis.internal":                "redis://app@redis.internal",
		"redis://redis.internal:6379/0":             "redis://redis.internal:6379/0",
		"unix://:s3cret@/run/redis/redis.sock?db=1": "unix://:***@/run/redis/redis.sock?db=1",
		"redis://user:pw@host%zz":                   "***", // not a URL: it may hold a password
	} {
		got := maskURL(in)
		if got != want {
			t.Errorf("maskURL(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{"s3cret", "p%40ss", "p@ss", ":pw@"} {
			if strings.Contains(got, secret) {
				t.Errorf("maskURL(%q) = %q shows the password", in, got)
			}
		}
	}
}

// TestMaskPingURL: only a ping URL's scheme and host are shown.
func TestMaskPingURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hc-ping.com/0f5c7a36-secret":        "https://hc-ping.com/***",
		"http://u:secret@127.0.0.1:8000/ping/secret": "http://127.0.0.1:8000/***",
		"%zz-secret": "***",
	} {
		if got := maskPingURL(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("maskPingURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHuman(t *testing.T) {
	for b, want := range map[int64]string{0: "0 (no limit)", 100 << 20: "100mb", 1 << 30: "1gb", 1536: "1536", 3 << 10: "3kb"} {
		if got := human(b); got != want {
			t.Errorf("human(%d) = %q, want %q", b, got, want)
		}
	}
}
