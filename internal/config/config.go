// Package config reads golock's settings: CRONLOCK_* environment variables and a cronlock
// config file (whose assignments win, as in cronlock), checked so that any bad value stops
// the run before it starts.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"os/user"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/ping"
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
	// false stores and prints only its hash (see cmd/golock), for a line that holds secrets.
	RecordCmd bool `env:"CRONLOCK_RECORD_CMD" envDefault:"yes"`

	// Fleet policies, all off by default (see package policy).
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
	MaxLimit = 1000
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
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var warnings, overridden []string
	var fileProblem string
	if path, explicit := configPath(vars, argv0); path != "" {
		fileVars, problem, err := readFile(path, vars, explicit)
		if err != nil {
			return nil, nil, err
		}
		fileProblem = problem
		for k, v := range fileVars {
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
	case c.PingTimeout <= 0:
		return &Problem{"CRONLOCK_PING_TIMEOUT", "must be more than 0 seconds"}
	case c.PingURL != "" && pingErr(c.PingURL) != nil:
		return &Problem{"CRONLOCK_PING_URL", pingErr(c.PingURL).Error() + " (the value given is not shown)"}
	case c.Cluster && c.DB != 0:
		return &Problem{"CRONLOCK_DB", "must be 0 with CRONLOCK_CLUSTER (a cluster has only database 0)" + got("CRONLOCK_DB", strconv.Itoa(c.DB))}
	}
	return nil
}

// readFile reads the config file at path, expanding its values from environ, and says
// what is wrong with its permissions ("" when nothing is). explicit says CRONLOCK_CONFIG
// named the file; a file found by searching is named in its errors instead.
func readFile(path string, environ map[string]string, explicit bool) (map[string]string, string, error) {
	fail := func(msg string) error {
		if explicit {
			return &Problem{"CRONLOCK_CONFIG", msg}
		}
		return fmt.Errorf("%s (found by searching; CRONLOCK_CONFIG is not set)", msg)
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once
		}
		msg := fmt.Sprintf("cannot read config file %s: %v", path, err)
		if errors.Is(err, os.ErrPermission) {
			msg += "; make it readable to the users who run golock (chgrp a group of theirs, chmod 0640)" +
				" or set CRONLOCK_CONFIG to a file they can read"
		}
		return nil, "", fail(msg)
	}
	defer f.Close()
	vars, err := ParseFile(f, environ)
	var ferr *FileError
	switch {
	case errors.As(err, &ferr) && strings.HasPrefix(ferr.Var, "CRONLOCK_"):
		return nil, "", &Problem{ferr.Var, fmt.Sprintf("%s: line %d: %s", path, ferr.Line, ferr.Msg)}
	case err != nil:
		return nil, "", fail(fmt.Sprintf("config file %s: %v", path, err))
	}
	fi, err := f.Stat()
	if err != nil {
		return vars, "", nil
	}
	return vars, permissionProblem(path, fi, secretIn(vars)), nil
}

// FilePermissionProblem says what is wrong with the permissions of the config file at
// path, in one line with what to do: writable by its group or by every user (who could
// point golock at another Redis), or readable by every user while it holds a password.
// It is "" when nothing is, or the file cannot be read (a run says so). A file readable
// by its group is what the manual advises: owned by root and a group of the users whose
// crontabs run golock, mode 0640.
func FilePermissionProblem(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	vars, err := ParseFile(f, map[string]string{})
	if err != nil {
		return permissionProblem(path, fi, "")
	}
	return permissionProblem(path, fi, secretIn(vars))
}

// permissionProblem is FilePermissionProblem for a file already read; secret names the
// password it holds, "" when none.
func permissionProblem(path string, fi os.FileInfo, secret string) string {
	perm := fi.Mode().Perm()
	switch {
	case perm&0o002 != 0:
		return fmt.Sprintf("config file %s is writable by every user (mode %04o), who could point golock at "+
			"another Redis; chmod o-w %s", path, perm, path)
	case perm&0o020 != 0:
		return fmt.Sprintf("config file %s is writable by its group %s (mode %04o), who could point golock at "+
			"another Redis; chmod g-w %s", path, groupName(fi), perm, path)
	case secret != "" && perm&0o004 != 0:
		return fmt.Sprintf("config file %s holds %s and is readable by every user (mode %04o); chmod o-r %s "+
			"(0640, its group one of the users who run golock)", path, secret, perm, path)
	}
	return ""
}

// groupName is the name of the file's group, or its number when it has no name.
func groupName(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	if g, err := user.LookupGroupId(gid); err == nil {
		return g.Name
	}
	return gid
}

// secretIn names the variable of vars that holds a password, or is "" when none does.
func secretIn(vars map[string]string) string {
	for _, name := range []string{"CRONLOCK_AUTH", "CRONLOCK_SENTINEL_AUTH"} {
		if vars[name] != "" {
			return name
		}
	}
	if u, err := url.Parse(vars["CRONLOCK_URL"]); err == nil && u.User != nil {
		if _, set := u.User.Password(); set {
			return "a password in CRONLOCK_URL"
		}
	}
	return ""
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

var parsers = map[reflect.Type]env.ParserFunc{
	reflect.TypeFor[bool]():          func(v string) (any, error) { return ParseBool(v) },
	reflect.TypeFor[time.Duration](): func(v string) (any, error) { return ParseSeconds(v) },
	reflect.TypeFor[int](): func(v string) (any, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, &BadValue{"must be a whole number", v}
		}
		return n, nil
	},
}

// BadValue is a value a parser refused. Its message says what is allowed and leaves the
// value out: whoever names the variable decides whether it may be shown (see got).
type BadValue struct {
	Want  string // what is allowed
	Value string // what was given
}

func (e *BadValue) Error() string { return e.Want }

// ParseBool reads yes/no, true/false, 1/0 and on/off in any case. The error is a *BadValue.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "1", "on":
		return true, nil
	case "no", "false", "0", "off":
		return false, nil
	}
	return false, &BadValue{"must be yes or no (or true/false, 1/0, on/off)", v}
}

// ParseSeconds reads a number of seconds, fractions allowed, not negative. The error is a
// *BadValue.
func ParseSeconds(v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e9 {
		return 0, &BadValue{"must be a number of seconds, 0 or more (e.g. 30 or 0.5)", v}
	}
	return time.Duration(f * float64(time.Second)), nil
}

// explain turns the env package's error into a Problem naming the variable.
func explain(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name := f.Tag.Get("env")
			var bad *BadValue
			if errors.As(pe.Err, &bad) {
				return &Problem{name, bad.Want + got(name, bad.Value)}
			}
			return &Problem{name, pe.Err.Error()}
		}
	}
	return err
}

// got ends a message about a refused value: ", got "value"" when the value may be shown,
// else a note that it is not. A password pasted into the wrong variable (a config file's
// lines shifted by one, say) must not reach cron's mail, so a value is shown only when
//   - its variable never holds an address, a name or a credential: the durations, the
//     booleans, the counts, CRONLOCK_ON_LOST and CRONLOCK_LOG_FORMAT (see echoable), and
//   - it is short and plain: at most 16 letters, digits, spaces and ".+-_".
//
// Host, port, database, URL, user, password, sentinel and TLS values are never shown.
func got(name, value string) string {
	if !echoable()[name] || len(value) > 16 || strings.IndexFunc(value, notPlain) >= 0 {
		return " (the value given is not shown)"
	}
	return fmt.Sprintf(", got %q", value)
}

func notPlain(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" .+-_", r))
}

// echoable are the variables whose refused values got may show: every duration and
// boolean, and the few others that hold a count or a word from a fixed list.
var echoable = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{"CRONLOCK_MIN_REPLICAS": true, "CRONLOCK_RECONNECT_ATTEMPTS": true, "CRONLOCK_LIMIT": true,
		"CRONLOCK_ON_LOST": true, "CRONLOCK_LOG_FORMAT": true}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		switch f := t.Field(i); f.Type {
		case reflect.TypeFor[bool](), reflect.TypeFor[time.Duration]():
			m[f.Tag.Get("env")] = true
		}
	}
	return m
})

// pingErr says what is wrong with a ping URL, never showing it: its path is the check's
// secret.
func pingErr(raw string) error {
	_, err := ping.Check(raw)
	return err
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
