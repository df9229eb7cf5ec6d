package redisbench

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// memoryLocks is how many locks BenchmarkMemoryPerLock takes.
const memoryLocks = 10_000

// BenchmarkMemoryPerLock takes memoryLocks locks with lockscript as golock runs would
// (CRONLOCK_GRACE=0, so that a release deletes the lock and leaves its record), and reports
// Redis's used_memory and keys per lock while they are held and once they are released.
// Each iteration starts from an empty Redis (FLUSHALL).
func BenchmarkMemoryPerLock(b *testing.B) {
	srv := redistest.Start(b)
	cfg := golockConfig(b, srv.Env(), "CRONLOCK_GRACE=0")
	client := redisclient.Connect(cfg)
	b.Cleanup(func() { client.Close() })
	admin := srv.Client()
	ctx := context.Background()
	var held, released, heldKeys, releasedKeys float64
	iterations := 0
	for b.Loop() {
		if err := admin.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		empty := readStats(b, admin)
		locks := make([]*lockscript.Lock, memoryLocks)
		each(b, memoryLocks, func(i int) (err error) {
			locks[i], err = lockscript.Acquire(ctx, client, "redisbench.memory."+strconv.Itoa(i), runOptions(cfg))
			return err
		})
		taken := readStats(b, admin)
		each(b, memoryLocks, func(i int) error {
			_, err := locks[i].Release(ctx, lockscript.Outcome{Ran: true, Code: 0})
			return err
		})
		left := readStats(b, admin)
		held += float64(taken.mem-empty.mem) / memoryLocks
		released += float64(left.mem-empty.mem) / memoryLocks
		heldKeys += float64(taken.keys-empty.keys) / memoryLocks
		releasedKeys += float64(left.keys-empty.keys) / memoryLocks
		iterations++
	}
	n := float64(iterations)
	b.ReportMetric(held/n, "B/held-lock")
	b.ReportMetric(released/n, "B/released-lock")
	b.ReportMetric(heldKeys/n, "keys/held-lock")
	b.ReportMetric(releasedKeys/n, "keys/released-lock")
}

// each calls f(i) for i from 0 to n-1 on the workers goroutines, and fails the benchmark
// with the first error once all are done.
func each(tb testing.TB, n int, f func(i int) error) {
	tb.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}
