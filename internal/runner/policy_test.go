package runner

import (
	"context"
	"testing"
	"time"
)

func TestSleepUpTo(t *testing.T) {
	const most = 200 * time.Millisecond
	var lo, hi time.Duration = most, 0
	for range 30 {
		start := time.Now()
		slept, ok := sleepUpTo(context.Background(), most)
		took := time.Since(start)
		if !ok || slept < 0 || slept >= most || took < slept {
			t.Fatalf("sleepUpTo slept %v (took %v, ok %v), want [0, %v)", slept, took, ok, most)
		}
		lo, hi = min(lo, slept), max(hi, slept)
	}
	t.Logf("measured: 30 splays of [0, 200ms): %v … %v", lo.Round(time.Millisecond), hi.Round(time.Millisecond))
	if hi-lo < most/4 {
		t.Errorf("splays %v … %v: not spread", lo, hi)
	}
	if slept, ok := sleepUpTo(context.Background(), 0); !ok || slept != 0 {
		t.Errorf("sleepUpTo(0) = %v, %v", slept, ok)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if _, ok := sleepUpTo(ctx, time.Hour); ok || time.Since(start) > time.Second {
		t.Errorf("a cancelled splay returned ok=%v after %v", ok, time.Since(start))
	}
}
