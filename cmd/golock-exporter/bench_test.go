package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// BenchmarkScrape30000Locks scrapes 30,000 locks (half held now, every one with a last
// run) from a real golock-exporter process and redis-server, one scrape at a time and six
// at once. Beside the time per scrape it reports the answer's size, what the exporter
// allocated per scrape (its go_memstats_alloc_bytes_total, before and after) and the
// exporter's peak RSS (VmHWM):
//
//	go test -run '^$' -bench Scrape30000 -benchtime 5x ./cmd/golock-exporter/
func BenchmarkScrape30000Locks(b *testing.B) {
	const locks = 30000
	srv := redistest.Start(b)
	start := time.Now()
	seed(b, srv.Client(), "bench.", locks)
	b.Logf("seeded %d locks in %v", locks, time.Since(start).Round(time.Millisecond))
	e := startExporter(b, golocktest.Env(append(srv.Env(), "CRONLOCK_PREFIX=bench.")...), "--timeout", "60")

	b.Run("one", func(b *testing.B) {
		_, before := e.fetch(b)
		var size, after int64
		for b.Loop() {
			size, after = e.fetch(b)
		}
		b.ReportMetric(float64(size), "B/answer")
		// What the exporter allocated from one scrape's reading of its counter to the next.
		b.ReportMetric(float64(after-before)/float64(b.N)/(1<<20), "MiB-alloc/scrape")
		b.ReportMetric(e.peakRSS(b), "MiB-peak-RSS")
	})
	b.Run("six-at-once", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					if n, _ := e.fetch(b); n < locks*100 {
						b.Errorf("a scrape of six came back with %d bytes", n)
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(e.peakRSS(b), "MiB-peak-RSS")
	})
}

// fetch is one scrape, read to its end; it returns the answer's size and the exporter's
// go_memstats_alloc_bytes_total in it: the bytes it had allocated since it started.
func (e *process) fetch(b *testing.B) (size, allocated int64) {
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Get(e.url)
	if err != nil {
		b.Error(err)
		return 0, 0
	}
	defer resp.Body.Close()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		size += int64(len(line))
		if v, ok := bytes.CutPrefix(line, []byte("go_memstats_alloc_bytes_total ")); ok {
			f, _ := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			allocated = int64(f)
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			b.Errorf("scrape: %v", err)
			break
		}
	}
	if resp.StatusCode != 200 || allocated == 0 {
		b.Errorf("scrape: HTTP %d, go_memstats_alloc_bytes_total %d", resp.StatusCode, allocated)
	}
	return size, allocated
}

// peakRSS is the exporter's peak resident memory so far, in MiB (VmHWM).
func (e *process) peakRSS(b *testing.B) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in " + string(status))
	return 0
}
