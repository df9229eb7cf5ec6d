// Package exporter serves the state of golock's locks to Prometheus: each scrape reads every
// lock under CRONLOCK_PREFIX from Redis afresh, and each master's eviction and persistence
// settings. It changes nothing in Redis. Scrapes that arrive while a read is under way
// share it, so that six Prometheus servers cost Redis, and the exporter's memory, one read.
package exporter

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
)

// inspectors is how many locks a scrape reads at once: the client's pool holds 4
// connections, as golock's does.
const inspectors = 4

// minTimeout is the least a scrape is given, however short Prometheus's own timeout.
const minTimeout = 100 * time.Millisecond

// Exporter serves /metrics: each scrape reads Redis afresh, bounded by timeout.
type Exporter struct {
	cfg     *config.Config
	client  redis.UniversalClient
	log     *slog.Logger
	timeout time.Duration

	load    func() (*config.Config, error) // reads the settings again before each read; nil: never
	loadErr error                          // why the last reading of the settings failed

	static prometheus.Gatherer // the exporter's own process, Go runtime and error count
	errors prometheus.Counter  // scrapes that could not read Redis

	mu      sync.Mutex // guards the fields below, and cfg and client where a read swaps them
	failing bool       // the last read could not read Redis: said once
	reading *reading   // the read under way, which a scrape arriving now shares
}

// reading is one read of Redis, shared by every scrape that arrives while it runs.
type reading struct {
	done chan struct{}       // closed when fams is set
	fams []*dto.MetricFamily // the locks' and Redis's metrics, gathered once
}

// New returns the handler of /metrics for the locks that cfg names, read through client;
// a scrape takes at most timeout.
func New(cfg *config.Config, client redis.UniversalClient, log *slog.Logger, timeout time.Duration) *Exporter {
	e := &Exporter{cfg: cfg, client: client, log: log, timeout: timeout,
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "golock_exporter_scrape_errors_total",
			Help: "Scrapes that could not read Redis (see golock_up and the exporter's log)."})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.errors, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	e.static = reg
	return e
}

// ServeHTTP is one scrape: the locks as Redis holds them now, read within the exporter's
// timeout, or Prometheus's scrape timeout when that is shorter. A read already under way
// is shared rather than started again.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	timeout := e.scrapeTimeout(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"))
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	fams := e.shared(ctx, timeout)
	// The shared families are served as they are, beside the exporter's own (whose names
	// differ): merging them with prometheus.Gatherers would hash every series again.
	promhttp.HandlerFor(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		own, err := e.static.Gather()
		return append(own, fams...), err
	}), promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelError), ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// scrapeTimeout is how long a scrape may read Redis: 90% of Prometheus's scrape timeout
// (header, in seconds), leaving a moment to write the answer, but at least minTimeout and
// at most the exporter's own timeout. A header that is no positive number (NaN, +Inf,
// garbage) or more than the exporter's timeout is the exporter's timeout.
func (e *Exporter) scrapeTimeout(header string) time.Duration {
	s, err := strconv.ParseFloat(header, 64)
	if err != nil || math.IsNaN(s) || s <= 0 || s*0.9 >= e.timeout.Seconds() {
		return e.timeout
	}
	return min(e.timeout, max(time.Duration(s*0.9*float64(time.Second)), minTimeout))
}

// shared returns the metrics of a new read bounded by timeout, or of the read under way;
// when ctx ends before the read under way, golock_up 0.
func (e *Exporter) shared(ctx context.Context, timeout time.Duration) []*dto.MetricFamily {
	e.mu.Lock()
	rd := e.reading
	joined := rd != nil
	if !joined {
		rd = &reading{done: make(chan struct{})}
		e.reading = rd
		// Not the request's context: a scrape that gives up must not end the others' read.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			fams := e.gather(ctx)
			e.mu.Lock()
			e.reading = nil
			e.mu.Unlock()
			rd.fams = fams
			close(rd.done)
		}()
	}
	e.mu.Unlock()
	if !joined { // its own read is bounded by this scrape's timeout
		<-rd.done
		return rd.fams
	}
	select {
	case <-rd.done:
		return rd.fams
	case <-ctx.Done():
		// This scrape's deadline is shorter than that of the read it joined.
		e.failed(errors.New("the read under way did not end within this scrape's timeout"))
		return e.gatherDown()
	}
}

// gather reads Redis once and gathers the metrics; what could not be gathered is logged
// and left out.
func (e *Exporter) gather(ctx context.Context) []*dto.MetricFamily {
	e.refresh()
	reg := prometheus.NewRegistry()
	reg.MustRegister(&scrape{e: e, ctx: ctx})
	fams, err := reg.Gather()
	if err != nil {
		e.log.Error("some metrics left out", "err", err)
	}
	return fams
}

// gatherDown is a scrape's answer when it could not read Redis: golock_up 0.
func (e *Exporter) gatherDown() []*dto.MetricFamily {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
	}))
	fams, _ := reg.Gather()
	return fams
}

// collectorFunc is an unchecked collector: it describes nothing.
type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// failed counts a scrape that could not read Redis, and says so once until one can again.
func (e *Exporter) failed(err error) {
	e.errors.Inc()
	e.mu.Lock()
	first := !e.failing
	e.failing = true
	cfg := e.cfg
	e.mu.Unlock()
	msg := "cannot read the locks at " + redisclient.Address(cfg) + redisclient.Hint(err)
	if first {
		e.log.Error(msg+"; golock_up is 0 until Redis answers", "err", err)
	} else {
		e.log.Debug(msg, "err", err)
	}
}

func (e *Exporter) readOK() {
	e.mu.Lock()
	was := e.failing
	e.failing = false
	cfg := e.cfg
	e.mu.Unlock()
	if was {
		e.log.Info("Redis answers again", "redis", redisclient.Address(cfg))
	}
}
