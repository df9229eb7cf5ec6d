package exporter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
)

// The metrics. Every time is Redis's clock; ages and TTLs are as Redis saw them.
var (
	descUp = prometheus.NewDesc("golock_up",
		"1 when this scrape read every lock from Redis, 0 when Redis could not be read.", nil, nil)
	descScrapeSeconds = prometheus.NewDesc("golock_scrape_duration_seconds",
		"How long this scrape took to read Redis.", nil, nil)
	descLocks = prometheus.NewDesc("golock_locks",
		"Locks under CRONLOCK_PREFIX: held, or free with a last run recorded.", nil, nil)
	descHeld = prometheus.NewDesc("golock_lock_held",
		"1 when the lock is held (a job runs, its grace hold, a cronlock lock or a foreign value), else 0.", lockLabel, nil)
	descHolders = prometheus.NewDesc("golock_lock_holders",
		"How many hold the lock now.", lockLabel, nil)
	descState = prometheus.NewDesc("golock_lock_state",
		"1 for the lock's state: free, held (its job runs), released (job ended, held for grace), cronlock or foreign.",
		[]string{"lock", "state"}, nil)
	descInfo = prometheus.NewDesc("golock_lock_info",
		"1 for every lock, naming its command line as its holder, or else its last run, recorded it.",
		[]string{"lock", "command"}, nil)
	descHolder = prometheus.NewDesc("golock_lock_holder_info",
		"How many of the lock's holders run command on host (1, or up to CRONLOCK_LIMIT).", []string{"lock", "host", "command"}, nil)
	descAge = prometheus.NewDesc("golock_lock_holder_age_seconds",
		"Since the holder took the lock (the longest-held, with several holders).", lockLabel, nil)
	descTTL = prometheus.NewDesc("golock_lock_ttl_seconds",
		"What is left of the held lock's TTL (its lease; the first slot's, with several holders); -1 when the key has no expiry.", lockLabel, nil)
	descFence = prometheus.NewDesc("golock_lock_fence",
		"The holder's fencing token (of the first slot, with several holders).", lockLabel, nil)
	descLastStart = prometheus.NewDesc("golock_lock_last_run_start_timestamp_seconds",
		"When the last run took the lock (unix time).", lockLabel, nil)
	descLastEnd = prometheus.NewDesc("golock_lock_last_run_end_timestamp_seconds",
		"When the last run released the lock (unix time).", lockLabel, nil)
	descLastDuration = prometheus.NewDesc("golock_lock_last_run_duration_seconds",
		"How long the last run held the lock, from acquisition to release.", lockLabel, nil)
	descLastExit = prometheus.NewDesc("golock_lock_last_run_exit_code",
		"The last run's exit code (126 or 127: it could not start).", lockLabel, nil)
	descLastFence = prometheus.NewDesc("golock_lock_last_run_fence",
		"The last run's fencing token.", lockLabel, nil)
	descLastInfo = prometheus.NewDesc("golock_lock_last_run_info",
		"1, naming the host of the last run.", []string{"lock", "host"}, nil)
	descLastSuccess = prometheus.NewDesc("golock_lock_last_success_timestamp_seconds",
		"When the last run that exited 0 ended (unix time); 0 when the lock has a last run but no success is recorded.", lockLabel, nil)
	descEvicts = prometheus.NewDesc("golock_redis_evicts_locks",
		"1 when the master may evict a held lock (a maxmemory-policy other than noeviction, with a memory limit).",
		nodeLabel, nil)
	descPolicy = prometheus.NewDesc("golock_redis_maxmemory_policy_info",
		"1, naming the master's maxmemory-policy.", []string{"node", "policy"}, nil)
	descMaxMemory = prometheus.NewDesc("golock_redis_maxmemory_bytes",
		"The master's maxmemory; 0: no limit.", nodeLabel, nil)
	descPersistent = prometheus.NewDesc("golock_redis_persistent",
		"1 when a restart of the master keeps the locks (AOF, or RDB save points), 0 when it empties it.", nodeLabel, nil)
	descAOF = prometheus.NewDesc("golock_redis_aof_enabled",
		"1 when the master's append-only file is on.", nodeLabel, nil)

	lockLabel = []string{"lock"}
	nodeLabel = []string{"node"}
	allDescs  = []*prometheus.Desc{descUp, descScrapeSeconds, descLocks, descHeld, descHolders, descState, descInfo, descHolder,
		descAge, descTTL, descFence, descLastStart, descLastEnd, descLastDuration, descLastExit, descLastFence,
		descLastInfo, descLastSuccess, descEvicts, descPolicy, descMaxMemory, descPersistent, descAOF}
	states = []string{"free", "held", "released", "cronlock", "foreign"}
)

// scrape is a collector for one scrape: it reads Redis when gathered.
type scrape struct {
	e   *Exporter
	ctx context.Context
}

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	sts, err := s.e.read(s.ctx)

	for _, st := range sts {
		lockMetrics(ch, st, commandOf(st))
	}
	if err == nil {
		err = s.e.safety(s.ctx, ch)
	}
	up := 1.0
	if err != nil {
		up = 0
		s.e.failed(err)
	} else {
		s.e.readOK()
	}
	send(ch, descUp, up)
	send(ch, descLocks, float64(len(sts)))
	send(ch, descScrapeSeconds, time.Since(start).Seconds())
}

// commandOf is the lock's command line as Redis records it: its holder's, else its last
// run's; "" when neither says (a record written before golock kept it).
func commandOf(st lockscript.Status) string {
	if st.Record != nil && st.Record.Command != "" {
		return st.Record.Command
	}
	if st.Last != nil {
		return st.Last.Command
	}
	return ""
}

// read inspects every lock under the prefix, a few at once. On an error it returns what
// it read before it.
func (e *Exporter) read(ctx context.Context) ([]lockscript.Status, error) {
	names, err := lockscript.ListRecorded(ctx, e.client, e.cfg.Prefix)
	if err != nil {
		return nil, err
	}
	sts := make([]lockscript.Status, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(inspectors, len(names)) {
		wg.Go(func() {
			for i := range next {
				sts[i], errs[i] = lockscript.Inspect(ctx, e.client, names[i])
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	read := sts[:0]
	for i, st := range sts {
		if errs[i] == nil {
			read = append(read, st)
		}
	}
	return read, errors.Join(errs...)
}

// lockMetrics are one lock's metrics, from what Inspect read: the same facts as
// golock --status --json.
// command is the lock's command line when known: see golock_lock_info.
func lockMetrics(ch chan<- prometheus.Metric, st lockscript.Status, command string) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		send(ch, d, v, append([]string{st.Name}, labels...)...)
	}
	gauge(descInfo, 1, command)
	state, holders := "free", 0.0
	if h := st.Holder; h != nil {
		holders = float64(1 + len(st.Others)) // CRONLOCK_LIMIT above 1: the other slots' holders
		gauge(descTTL, ttl(h.TTL))
		switch h.Kind {
		case lockscript.Golock:
			state = "held"
			if h.Released {
				state = "released"
			}
			type runner struct{ host, command string }
			hosts, oldest := map[runner]int{{h.Host, st.Record.Command}: 1}, h.Age
			for _, o := range st.Others {
				hosts[runner{o.Holder.Host, o.Record.Command}]++
				oldest = max(oldest, o.Holder.Age)
			}
			for r, n := range hosts {
				gauge(descHolder, float64(n), r.host, r.command)
			}
			gauge(descAge, oldest.Seconds())
			gauge(descFence, float64(h.Fence))
		case lockscript.Cronlock:
			state = "cronlock"
		default:
			state = "foreign"
		}
	}
	gauge(descHeld, b2f(holders > 0))
	gauge(descHolders, holders)
	for _, s := range states {
		gauge(descState, b2f(s == state), s)
	}
	if l := st.Last; l != nil {
		gauge(descLastStart, unix(l.Started))
		gauge(descLastEnd, unix(l.Started.Add(l.Duration)))
		gauge(descLastDuration, l.Duration.Seconds())
		gauge(descLastExit, float64(l.Code))
		gauge(descLastFence, float64(l.Fence))
		gauge(descLastInfo, 1, l.Host)
		// 0 for never, so that "no success for longer than D" holds for a job that has
		// only ever failed.
		success := 0.0
		if !l.Success.IsZero() {
			success = unix(l.Success)
		}
		gauge(descLastSuccess, success)
	}
}

// safety reads each master's eviction and persistence settings. A master that refuses
// INFO or CONFIG (a managed Redis) has its unknown gauges left out, and is no error.
func (e *Exporter) safety(ctx context.Context, ch chan<- prometheus.Metric) error {
	type master struct {
		node string
		s    redisclient.Safety
		err  error
	}
	var masters []*master
	switch c := e.client.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			m := &master{node: node.Options().Addr}
			m.s, m.err = redisclient.ReadSafety(ctx, node)
			mu.Lock()
			defer mu.Unlock()
			masters = append(masters, m)
			return nil
		})
		if err != nil {
			return err
		}
	case *redis.Client:
		m := &master{node: redisclient.Address(e.cfg)}
		m.s, m.err = redisclient.ReadSafety(ctx, c)
		masters = append(masters, m)
	}
	sort.Slice(masters, func(i, j int) bool { return masters[i].node < masters[j].node })
	for _, m := range masters {
		if m.err != nil {
			if ctx.Err() != nil {
				return m.err
			}
			e.log.Debug("INFO refused: eviction and persistence unknown", "node", m.node, "err", m.err)
			continue
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			send(ch, d, v, append([]string{m.node}, labels...)...)
		}
		gauge(descAOF, b2f(m.s.AOF))
		if persistent, known := m.s.Persistent(); known {
			gauge(descPersistent, b2f(persistent))
		}
		if m.s.Policy != "" {
			gauge(descEvicts, b2f(m.s.Evicts()))
			gauge(descPolicy, 1, m.s.Policy)
			gauge(descMaxMemory, float64(m.s.MaxMemory))
		}
	}
	return nil
}

// send sends one gauge, its label values made valid UTF-8 (see labelValue). It never
// panics: a metric the client library refuses is left out, and the scrape goes on.
func send(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	for i, l := range labels {
		labels[i] = labelValue(l)
	}
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, fmt.Errorf("labels %q: %w", labels, err))
	}
	ch <- m
}

// labelValue is s as a Prometheus label value, which must be UTF-8. A valid s is itself.
// Otherwise (a lock named in a Latin-1 crontab) each byte that is not UTF-8 is written
// \xNN and each backslash \\, so that printf '%b' VALUE gives back the bytes:
// "cronlock.caf\xe9" for the name cronlock.caf followed by byte 0xE9.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// ttl is a key's TTL in seconds; -1 when it has none (Redis's own answer).
func ttl(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds()
}

func unix(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
