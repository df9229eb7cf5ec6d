// Package config reads golock's settings: CRONLOCK_* environment variables and a cronlock
// config file (whose assignments win, as in cronlock), checked so that any bad value stops
// the run before it starts.
package config

import (
	"fmt"
	"math"
	"net"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/golock/golock/lockscript"
	"github.com/redis/go-redis/v9"
)

// Config is every setting, with cronlock's names and defaults. Durations are given in
// seconds, fractions allowed.
type Config struct {
	Host     string `env:"CRONLOCK_HOST" envDefault:"localhost"`
	Port     int    `env:"CRONLOCK_PORT" envDefault:"6379"`
	DB       int    `env:"CRONLOCK_DB" envDefault:"0"`
	Username string `env:"CRONLOCK_USERNAME"`
	Auth     string `env:"CRONLOCK_AUTH"` // never printed
	// URL is a redis://, rediss:// or unix:// URL; when set it overrides Host, Port, DB,
	// Username, Auth and TLS.
	URL string `env:"CRONLOCK_URL"`

	// UseSentinel finds the master SentinelMaster through the sentinels at SentinelHost, a
	// comma-separated list of host[:port] (SentinelPort when a port is missing).
	UseSentinel    bool   `env:"CRONLOCK_USE_SENTINEL" envDefault:"no"`
	SentinelMaster string `env:"CRONLOCK_SENTINEL_MASTER" envDefault:"mymaster"`
	SentinelHost   string `env:"CRONLOCK_SENTINEL_HOST" envDefault:"localhost"`
	SentinelPort   int    `env:"CRONLOCK_SENTINEL_PORT" envDefault:"26379"`
	SentinelAuth   string `env:"CRONLOCK_SENTINEL_AUTH"` // never printed
	// Cluster uses the Redis Cluster client; Host is then a comma-separated list of
	// host[:port] seed nodes (Port when a port is missing).
	Cluster bool `env:"CRONLOCK_CLUSTER" envDefault:"no"`

	TLS           bool   `env:"CRONLOCK_TLS" envDefault:"no"`
	TLSSkipVerify bool   `env:"CRONLOCK_TLS_SKIP_VERIFY" envDefault:"no"`
	TLSCACert     string `env:"CRONLOCK_TLS_CA_CERT"`     // empty: the system's CAs
	TLSCert       string `env:"CRONLOCK_TLS_CERT"`        // client certificate, for mutual TLS
	TLSKey        string `env:"CRONLOCK_TLS_KEY"`         // its key
	TLSServerName string `env:"CRONLOCK_TLS_SERVER_NAME"` // empty: the host connected to

	MinReplicas       int           `env:"CRONLOCK_MIN_REPLICAS" envDefault:"0"`
	RedisTimeout      time.Duration `env:"CRONLOCK_REDIS_TIMEOUT" envDefault:"30"`
	ReconnectAttempts int           `env:"CRONLOCK_RECONNECT_ATTEMPTS" envDefault:"5"`
	ReconnectBackoff  time.Duration `env:"CRONLOCK_RECONNECT_BACKOFF" envDefault:"5"`

	Grace   time.Duration `env:"CRONLOCK_GRACE" envDefault:"40"`
	Release time.Duration `env:"CRONLOCK_RELEASE" envDefault:"86400"`
	Lease   time.Duration `env:"CRONLOCK_LEASE" envDefault:"30"`
	OnLost  string        `env:"CRONLOCK_ON_LOST" envDefault:"kill"`
	// KillGrace defaults to 5 seconds, or a third of Lease when that is less.
	KillGrace time.Duration `env:"CRONLOCK_KILL_GRACE"`
	Timeout   time.Duration `env:"CRONLOCK_TIMEOUT" envDefault:"0"` // zero: never
	Wait      time.Duration `env:"CRONLOCK_WAIT" envDefault:"0"`    // zero: do not wait

	Key       string `env:"CRONLOCK_KEY"` // empty: the MD5 of the command line
	Prefix    string `env:"CRONLOCK_PREFIX" envDefault:"cronlock."`
	Reset     bool   `env:"CRONLOCK_RESET" envDefault:"no"`
	Verbose   bool   `env:"CRONLOCK_VERBOSE" envDefault:"no"`
	LogFormat string `env:"CRONLOCK_LOG_FORMAT" envDefault:"text"`
	File      string `env:"CRONLOCK_CONFIG"` // the config file read, if any
	// RecordCmd stores the command line in the lock record and prints it in messages;
	// false stores and prints only "sha256:" and its hash, for a command line that holds secrets.
	RecordCmd bool `env:"CRONLOCK_RECORD_CMD" envDefault:"yes"`

	// Fleet policies, all off by default; the acquire script decides them (LockOptions).
	//
	// Limit is how many runs may hold the lock at once across the fleet.
	Limit int `env:"CRONLOCK_LIMIT" envDefault:"1"`
	// Interval allows at most one successful run per Interval across the fleet; zero: off.
	Interval time.Duration `env:"CRONLOCK_INTERVAL" envDefault:"0"`
	// Splay sleeps a random 0 to Splay before acquiring; zero: off.
	Splay time.Duration `env:"CRONLOCK_SPLAY" envDefault:"0"`
	// Replace revokes another golock run's hold and takes the lock once its job is gone.
	Replace bool `env:"CRONLOCK_REPLACE" envDefault:"no"`
	// LockDelay keeps a lock whose holder vanished without releasing it this much longer
	// than its lease; zero: off. A clean release is unaffected.
	LockDelay time.Duration `env:"CRONLOCK_LOCK_DELAY" envDefault:"0"`
	// MixedFleet keeps the lock in cronlock's string form, its record beside it, for a
	// rolling migration: cronlock hosts then skip a held lock quietly (exit 200).
	MixedFleet bool `env:"CRONLOCK_MIXED_FLEET" envDefault:"no"`

	// PingURL is a healthchecks.io-style check URL (http:// or https://): the run that
	// takes the lock pings URL/start before its job, URL when it exited 0, URL/<code>
	// otherwise; empty: no pings.
	PingURL string `env:"CRONLOCK_PING_URL"`
	// PingTimeout bounds each ping: a ping server that does not answer delays the job's
	// start, or golock's exit, by at most this long.
	PingTimeout time.Duration `env:"CRONLOCK_PING_TIMEOUT" envDefault:"2"`

	// Overridden names the CRONLOCK_ variables whose value in the environment the config
	// file replaced (the file wins, as in cronlock); nil when none.
	Overridden []string

	// JobEnv is what the config file passes to the job, as bash sourcing it would to a
	// command it runs: NAME=value for each variable the file assigns that is exported (by
	// the file, or already in the environment, as PATH or TZ) and differs from the
	// environment's, sorted by name; nil when none. Its values may be secrets: never printed.
	JobEnv []string

	// FileProblem is what is wrong with the config file's permissions (see
	// FilePermissionProblem), for a terminal or CRONLOCK_VERBOSE, not for cron's mail; ""
	// when nothing is, or no file was read.
	FileProblem string

	// NTPDate is cronlock's; accepted and ignored, as every time comes from Redis.
	NTPDate string `env:"CRONLOCK_NTPDATE"`

	redis *redis.Options // worked out by Load from the settings above
	addrs []string       // the sentinels or the cluster seeds, with ports
}

const (
	// MaxLimit is the largest CRONLOCK_LIMIT: each slot is a key every acquire reads.
	MaxLimit = lockscript.MaxLimit
	// MaxPingTimeout is the largest CRONLOCK_PING_TIMEOUT.
	MaxPingTimeout = 60 * time.Second
	// MaxInterval is the largest CRONLOCK_INTERVAL: the last-run record that remembers the
	// last successful run is kept 30 days.
	MaxInterval = 30 * 24 * time.Hour
)

// Problem is a bad setting: the variable and what is wrong with it.
type Problem struct {
	Var string
	Msg string
}

func (p *Problem) Error() string { return p.Var + ": " + p.Msg }

// Passed to the job by golock; a job that runs golock again hands them back.
var childVars = []string{"CRONLOCK_LOCK", "CRONLOCK_OWNER", "CRONLOCK_FENCE"}

// Load reads the settings from environ (KEY=value strings) and the config file, found as
// cronlock finds it (see configPath; argv0 is golock's os.Args[0], "" to search no
// executable's directory). As in cronlock, which sources the file after the environment,
// the file's assignments win. Warnings are lines to show the user; the error is a
// *Problem or a file error, one line each.
func Load(environ []string, argv0 string) (*Config, []string, error) {
	vars := Vars(environ)
	var warnings, overridden, jobEnv []string
	var fileProblem string
	if path, explicit := configPath(vars, argv0); path != "" {
		sourced, problem, err := readFile(path, vars, explicit)
		if err != nil {
			return nil, nil, err
		}
		fileProblem = problem
		jobEnv = sourced.jobEnv(vars)
		for k, v := range sourced.Vars {
			if old := vars[k]; old != "" && old != v && strings.HasPrefix(k, "CRONLOCK_") {
				overridden = append(overridden, k)
			}
			vars[k] = v
		}
		vars["CRONLOCK_CONFIG"] = path
	}
	warnings = append(warnings, unknownVars(vars)...)

	cfg := &Config{}
	err := env.ParseWithOptions(cfg, env.Options{Environment: vars, FuncMap: parsers})
	if err != nil {
		return nil, warnings, explain(err)
	}
	sort.Strings(overridden)
	cfg.Overridden = overridden
	cfg.JobEnv = jobEnv
	cfg.FileProblem = fileProblem
	if err := cfg.check(); err != nil {
		return cfg, warnings, err
	}
	if err := cfg.connection(); err != nil {
		return cfg, warnings, err
	}
	if err := cfg.relations(vars["CRONLOCK_KILL_GRACE"] != ""); err != nil {
		return cfg, warnings, err
	}
	return cfg, warnings, nil
}

func (c *Config) check() error {
	switch {
	case c.Port < 1 || c.Port > 65535:
		return &Problem{"CRONLOCK_PORT", "must be 1 to 65535" + got("CRONLOCK_PORT", strconv.Itoa(c.Port))}
	case c.DB < 0:
		return &Problem{"CRONLOCK_DB", "must be 0 or more" + got("CRONLOCK_DB", strconv.Itoa(c.DB))}
	case c.MinReplicas < 0:
		return &Problem{"CRONLOCK_MIN_REPLICAS", "must be 0 or more" + got("CRONLOCK_MIN_REPLICAS", strconv.Itoa(c.MinReplicas))}
	case c.ReconnectAttempts < 0:
		return &Problem{"CRONLOCK_RECONNECT_ATTEMPTS", "must be 0 or more" + got("CRONLOCK_RECONNECT_ATTEMPTS", strconv.Itoa(c.ReconnectAttempts))}
	case c.RedisTimeout <= 0:
		return &Problem{"CRONLOCK_REDIS_TIMEOUT", "must be more than 0 seconds"}
	case c.Release <= 0:
		return &Problem{"CRONLOCK_RELEASE", "must be more than 0 seconds"}
	case c.Grace > c.Release:
		return &Problem{"CRONLOCK_GRACE", fmt.Sprintf("must not exceed CRONLOCK_RELEASE (%v), got %v",
			secs(c.Release), secs(c.Grace))}
	case c.MixedFleet && c.Limit > 1:
		return &Problem{"CRONLOCK_MIXED_FLEET", "cannot be combined with CRONLOCK_LIMIT above 1: cronlock's lock has one holder"}
	case c.Limit < 1 || c.Limit > MaxLimit:
		return &Problem{"CRONLOCK_LIMIT", fmt.Sprintf("must be 1 to %d", MaxLimit) + got("CRONLOCK_LIMIT", strconv.Itoa(c.Limit))}
	case c.Interval > MaxInterval:
		return &Problem{"CRONLOCK_INTERVAL", fmt.Sprintf("must be at most %v (30 days, how long the last run is remembered), got %v",
			secs(MaxInterval), secs(c.Interval))}
	case c.OnLost != "kill" && c.OnLost != "keep":
		return &Problem{"CRONLOCK_ON_LOST", "must be kill or keep" + got("CRONLOCK_ON_LOST", c.OnLost)}
	case c.LogFormat != "text" && c.LogFormat != "json":
		return &Problem{"CRONLOCK_LOG_FORMAT", "must be text or json" + got("CRONLOCK_LOG_FORMAT", c.LogFormat)}
	case c.Prefix == "" && c.Key == "":
		return &Problem{"CRONLOCK_PREFIX", "must not be empty when CRONLOCK_KEY is empty"}
	case strings.ContainsAny(c.Host, "/@"):
		return &Problem{"CRONLOCK_HOST", "must be a host name or address, not a URL (use CRONLOCK_URL for redis:// URLs)" + got("CRONLOCK_HOST", c.Host)}
	case strings.ContainsAny(c.Host, " \t\r\n") || c.Host == "":
		return &Problem{"CRONLOCK_HOST", "must be a host name or address, without spaces" + got("CRONLOCK_HOST", c.Host)}
	case !c.Cluster && strings.Contains(c.Host, ":") && net.ParseIP(c.Host) == nil:
		return &Problem{"CRONLOCK_HOST", "must be a host name or address without a port (the port is CRONLOCK_PORT)" + got("CRONLOCK_HOST", c.Host)}
	case strings.ContainsAny(c.SentinelHost, "/@"):
		return &Problem{"CRONLOCK_SENTINEL_HOST", "must be a comma-separated list of host[:port], not a URL" + got("CRONLOCK_SENTINEL_HOST", c.SentinelHost)}
	case strings.Contains(c.Host, ",") && !c.Cluster:
		return &Problem{"CRONLOCK_HOST", "must be one host (a list needs CRONLOCK_CLUSTER=yes)" + got("CRONLOCK_HOST", c.Host)}
	case c.SentinelPort < 1 || c.SentinelPort > 65535:
		return &Problem{"CRONLOCK_SENTINEL_PORT", "must be 1 to 65535" + got("CRONLOCK_SENTINEL_PORT", strconv.Itoa(c.SentinelPort))}
	case c.UseSentinel && c.Cluster:
		return &Problem{"CRONLOCK_CLUSTER", "cannot be combined with CRONLOCK_USE_SENTINEL: choose one"}
	case c.URL != "" && (c.UseSentinel || c.Cluster):
		return &Problem{"CRONLOCK_URL", "cannot be combined with CRONLOCK_USE_SENTINEL or CRONLOCK_CLUSTER: use CRONLOCK_HOST or CRONLOCK_SENTINEL_HOST"}
	case c.PingTimeout <= 0 || c.PingTimeout > MaxPingTimeout:
		return &Problem{"CRONLOCK_PING_TIMEOUT", fmt.Sprintf("must be more than 0 and at most %v seconds (a ping delays the job's start and golock's exit by as much)",
			MaxPingTimeout.Seconds()) + got("CRONLOCK_PING_TIMEOUT", strconv.FormatFloat(c.PingTimeout.Seconds(), 'f', -1, 64))}
	case c.PingURL != "" && pingErr(c.PingURL) != nil:
		return &Problem{"CRONLOCK_PING_URL", pingErr(c.PingURL).Error() + " (the value given is not shown)"}
	case c.Cluster && c.DB != 0:
		return &Problem{"CRONLOCK_DB", "must be 0 with CRONLOCK_CLUSTER (a cluster has only database 0)" + got("CRONLOCK_DB", strconv.Itoa(c.DB))}
	}
	return nil
}

// Known is every CRONLOCK_ variable golock reads or accepts.
func Known() []string {
	var names []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("env"); name != "" {
			names = append(names, name)
		}
	}
	return append(names, childVars...)
}

// unknownVars warns of each CRONLOCK_ variable golock does not know, naming the closest
// known one, so that a typo does not pass silently.
func unknownVars(vars map[string]string) []string {
	known := Known()
	var warnings []string
	for name := range vars {
		if !strings.HasPrefix(name, "CRONLOCK_") || slices.Contains(known, name) {
			continue
		}
		best, bestDist := "", math.MaxInt
		for _, k := range known {
			if d := distance(name, k); d < bestDist {
				best, bestDist = k, d
			}
		}
		warnings = append(warnings, fmt.Sprintf("unknown variable %s ignored; did you mean %s?", name, best))
	}
	sort.Strings(warnings)
	return warnings
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// LockOptions are the lock settings and fleet policies of c, for lockscript.Acquire; the
// run fills in who it is (Owner, Host, PID, Command).
func (c *Config) LockOptions() lockscript.Options {
	return lockscript.Options{
		Grace:       c.Grace,
		Lifetime:    c.Release,
		Lease:       c.Lease,
		Limit:       c.Limit,
		Interval:    c.Interval,
		Delay:       c.LockDelay,
		Keep:        c.OnLost == "keep",
		MinReplicas: c.MinReplicas,
		ReplicaWait: c.RedisTimeout,
		Mixed:       c.MixedFleet,
	}
}

// Vars reads environ's KEY=value strings as a map; a later KEY wins, as in the environment.
func Vars(environ []string) map[string]string {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars
}
