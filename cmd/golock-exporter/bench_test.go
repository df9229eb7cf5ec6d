package main

import (
	"bufio"
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
		var size, alloc int64
		for b.Loop() {
			before := e.allocated(b)
			size = e.fetch(b)
			alloc += e.allocated(b) - before
		}
		b.ReportMetric(float64(size), "B/answer")
		b.ReportMetric(float64(alloc)/float64(b.N)/(1<<20), "MiB-alloc/scrape")
		b.ReportMetric(e.peakRSS(b), "MiB-peak-RSS")
	})
	b.Run("six-at-once", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					if n := e.fetch(b); n < locks*100 {
						b.Errorf("a scrape of six came back with %d bytes", n)
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(e.peakRSS(b), "MiB-peak-RSS")
	})
}

// fetch is one scrape, read to its end; it returns the answer's size.
func (e *process) fetch(b *testing.B) int64 {
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Get(e.url)
	if err != nil {
		b.Error(err)
		return 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Errorf("scrape: HTTP %d, %v", resp.StatusCode, err)
	}
	return n
}

// allocated is the exporter's go_memstats_alloc_bytes_total, read from a scrape of its
// own: bytes allocated since it started.
func (e *process) allocated(b *testing.B) int64 {
	resp, err := http.Get(e.url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_alloc_bytes_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return int64(f)
		}
	}
	b.Fatal("no go_memstats_alloc_bytes_total in the answer")
	return 0
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
