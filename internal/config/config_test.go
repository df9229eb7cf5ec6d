package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// noFile is an empty CRONLOCK_CONFIG: with Load's argv0 "", only /etc/cronlock.conf is
// searched for, and the test machine has none.
const noFile = "CRONLOCK_CONFIG="

// writeFile writes a config file with mode perm in a fresh directory and returns its path.
func writeFile(t *testing.T, text string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // WriteFile's mode is cut by the umask
		t.Fatal(err)
	}
	return path
}

// load is Load that fails the test on an error.
func load(t *testing.T, environ ...string) (*Config, []string) {
	t.Helper()
	cfg, warnings, err := Load(environ, "")
	if err != nil {
		t.Fatalf("Load(%q): %v", environ, err)
	}
	return cfg, warnings
}

func TestLoadRejectsBadSettings(t *testing.T) {
	badFile := writeFile(t, "CRONLOCK_HOST=redis.example\nCRONLOCK_PORT = 6380\nthis is not a setting\n", 0o600)
	badValue := writeFile(t, "CRONLOCK_HOST=two words\n", 0o600)
	const seconds = "must be a number of seconds, 0 or more"
	type badSetting struct {
		name    string
		environ []string
		varName string // the variable the error must name
		allowed string // what the error must say is allowed
	}
	tests := []badSetting{
		{"port zero", []string{"CRONLOCK_PORT=0"}, "CRONLOCK_PORT", "1 to 65535"},
		{"port too big", []string{"CRONLOCK_PORT=65536"}, "CRONLOCK_PORT", "1 to 65535"},
		{"port not a number", []string{"CRONLOCK_PORT=abc"}, "CRONLOCK_PORT", "whole number"},
		{"port fraction", []string{"CRONLOCK_PORT=6379.5"}, "CRONLOCK_PORT", "whole number"},
		{"db negative", []string{"CRONLOCK_DB=-1"}, "CRONLOCK_DB", "0 or more"},
		{"db not a number", []string{"CRONLOCK_DB=x"}, "CRONLOCK_DB", "whole number"},
		{"grace over release", []string{"CRONLOCK_GRACE=100", "CRONLOCK_RELEASE=50"}, "CRONLOCK_GRACE", "must not exceed CRONLOCK_RELEASE"},
		{"lease zero", []string{"CRONLOCK_LEASE=0"}, "CRONLOCK_LEASE", "at least 0.6s"},
		{"lease below a millisecond", []string{"CRONLOCK_LEASE=0.000000002"}, "CRONLOCK_LEASE", "at least 0.6s"},
		{"lease zero with kill grace", []string{"CRONLOCK_LEASE=0", "CRONLOCK_KILL_GRACE=1"}, "CRONLOCK_LEASE", "more than 0.4s"},
		{"kill grace equal to lease", []string{"CRONLOCK_LEASE=10", "CRONLOCK_KILL_GRACE=10"}, "CRONLOCK_KILL_GRACE", "less than half of CRONLOCK_LEASE=10s"},
		{"kill grace over default lease", []string{"CRONLOCK_KILL_GRACE=31"}, "CRONLOCK_KILL_GRACE", "less than half of CRONLOCK_LEASE=30s"},
		{"redis timeout zero", []string{"CRONLOCK_REDIS_TIMEOUT=0"}, "CRONLOCK_REDIS_TIMEOUT", "more than 0"},
		{"release zero", []string{"CRONLOCK_RELEASE=0", "CRONLOCK_GRACE=0"}, "CRONLOCK_RELEASE", "more than 0"},
		{"reconnect attempts negative", []string{"CRONLOCK_RECONNECT_ATTEMPTS=-1"}, "CRONLOCK_RECONNECT_ATTEMPTS", "0 or more"},
		{"reconnect attempts garbage", []string{"CRONLOCK_RECONNECT_ATTEMPTS=five"}, "CRONLOCK_RECONNECT_ATTEMPTS", "whole number"},
		{"min replicas negative", []string{"CRONLOCK_MIN_REPLICAS=-1"}, "CRONLOCK_MIN_REPLICAS", "0 or more"},
		{"reset maybe", []string{"CRONLOCK_RESET=maybe"}, "CRONLOCK_RESET", "yes or no"},
		{"verbose maybe", []string{"CRONLOCK_VERBOSE=maybe"}, "CRONLOCK_VERBOSE", "yes or no"},
		{"on lost explode", []string{"CRONLOCK_ON_LOST=explode"}, "CRONLOCK_ON_LOST", "kill or keep"},
		{"log format xml", []string{"CRONLOCK_LOG_FORMAT=xml"}, "CRONLOCK_LOG_FORMAT", "text or json"},
		{"host with a space", []string{"CRONLOCK_HOST=a b"}, "CRONLOCK_HOST", "host name or address"},
		{"config file missing", []string{"CRONLOCK_CONFIG=" + filepath.Join(t.TempDir(), "absent.conf")}, "CRONLOCK_CONFIG", "cannot read"},
		{"config file a directory", []string{"CRONLOCK_CONFIG=" + t.TempDir()}, "CRONLOCK_CONFIG", "is a directory"},
		{"config file bad line", []string{"CRONLOCK_CONFIG=" + badFile}, "CRONLOCK_CONFIG", "line 2: runs a command"},
		{"config file bad value", []string{"CRONLOCK_CONFIG=" + badValue}, "CRONLOCK_HOST", "line 1: runs a command"},
		{"config file command substitution", []string{"CRONLOCK_CONFIG=" + writeFile(t, "CRONLOCK_PREFIX=\"lock.$(hostname).\"\n", 0o600)}, "CRONLOCK_PREFIX", "command substitution $(...) cannot be evaluated"},
		{"bad value from the file", []string{"CRONLOCK_CONFIG=" + writeFile(t, "CRONLOCK_PORT=99999\n", 0o600)}, "CRONLOCK_PORT", "1 to 65535"},
	}
	// Every duration refuses negatives, NaN, infinities and garbage alike.
	for _, v := range []string{"REDIS_TIMEOUT", "RECONNECT_BACKOFF", "GRACE", "RELEASE", "LEASE", "KILL_GRACE", "TIMEOUT", "WAIT"} {
		for _, bad := range []string{"-1", "-0.5", "NaN", "Inf", "-Inf", "+Inf", "1e300", "30s", "ten", "1,5"} {
			tests = append(tests, badSetting{strings.ToLower(v) + " " + bad,
				[]string{"CRONLOCK_" + v + "=" + bad}, "CRONLOCK_" + v, seconds})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Load(append([]string{noFile}, tt.environ...), "")
			if err == nil {
				t.Fatalf("Load(%q) = %+v, want an error naming %s", tt.environ, cfg, tt.varName)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.varName+": ") {
				t.Errorf("error %q does not start with %s", msg, tt.varName)
			}
			if !strings.Contains(msg, tt.allowed) {
				t.Errorf("error %q does not say %q", msg, tt.allowed)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q is not one line", msg)
			}
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, warnings := load(t, noFile, "PATH=/usr/bin", "HOME=/root")
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	want := Config{
		Host: "localhost", Port: 6379, DB: 0,
		MinReplicas: 0, RedisTimeout: 30 * time.Second, ReconnectAttempts: 5, ReconnectBackoff: 5 * time.Second,
		Grace: 40 * time.Second, Release: 86400 * time.Second, Lease: 30 * time.Second,
		OnLost: "kill", KillGrace: 5 * time.Second, Timeout: 0, Wait: 0,
		Prefix: "cronlock.", Reset: false, Verbose: false, LogFormat: "text", RecordCmd: true,
		SentinelMaster: "mymaster", SentinelHost: "localhost", SentinelPort: 26379,
	}
	got := *cfg
	got.redis, got.addrs = nil, nil // worked out from the rest; TestRedisOptions covers them
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadKillGraceDefault(t *testing.T) {
	tests := []struct {
		environ []string
		want    time.Duration
	}{
		{nil, 5 * time.Second},                                                             // LEASE 30: 5 s
		{[]string{"CRONLOCK_LEASE=15"}, 5 * time.Second},                                   // LEASE/3 == 5 s
		{[]string{"CRONLOCK_LEASE=6"}, 2 * time.Second},                                    // LEASE/3 is less
		{[]string{"CRONLOCK_LEASE=0.9"}, 300 * time.Millisecond},                           // fractions
		{[]string{"CRONLOCK_LEASE=6", "CRONLOCK_KILL_GRACE="}, 2 * time.Second},            // empty is unset
		{[]string{"CRONLOCK_LEASE=6", "CRONLOCK_KILL_GRACE=2.9"}, 2900 * time.Millisecond}, // set by the user
		{[]string{"CRONLOCK_LEASE=0.6"}, 200 * time.Millisecond},                           // the shortest lease with the default
		{[]string{"CRONLOCK_LEASE=60", "CRONLOCK_KILL_GRACE=20"}, 20 * time.Second},        // may exceed 5 s
	}
	for _, tt := range tests {
		cfg, _ := load(t, append([]string{noFile}, tt.environ...)...)
		if cfg.KillGrace != tt.want {
			t.Errorf("%q: KillGrace = %v, want %v", tt.environ, cfg.KillGrace, tt.want)
		}
	}
}

func TestLoadBooleans(t *testing.T) {
	for _, v := range []string{"yes", "YES", "Yes", "true", "TRUE", "True", "1", "on", "ON", "On", " yes "} {
		cfg, _ := load(t, noFile, "CRONLOCK_RESET="+v, "CRONLOCK_VERBOSE="+v)
		if !cfg.Reset || !cfg.Verbose {
			t.Errorf("%q: Reset=%v Verbose=%v, want true", v, cfg.Reset, cfg.Verbose)
		}
	}
	for _, v := range []string{"no", "NO", "No", "false", "FALSE", "False", "0", "off", "OFF", "Off", ""} {
		cfg, _ := load(t, noFile, "CRONLOCK_RESET="+v, "CRONLOCK_VERBOSE="+v)
		if cfg.Reset || cfg.Verbose {
			t.Errorf("%q: Reset=%v Verbose=%v, want false", v, cfg.Reset, cfg.Verbose)
		}
	}
}

func TestLoadDurations(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"0.5", 500 * time.Millisecond},
		{".25", 250 * time.Millisecond},
		{"0", 0},
		{"2", 2 * time.Second},
		{" 3 ", 3 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"0.001", time.Millisecond},
		{"1e3", 1000 * time.Second},
		{"86400", 24 * time.Hour},
	}
	for _, tt := range tests {
		cfg, _ := load(t, noFile, "CRONLOCK_TIMEOUT="+tt.value, "CRONLOCK_WAIT="+tt.value,
			"CRONLOCK_RECONNECT_BACKOFF="+tt.value, "CRONLOCK_GRACE="+tt.value)
		for name, got := range map[string]time.Duration{"TIMEOUT": cfg.Timeout, "WAIT": cfg.Wait,
			"RECONNECT_BACKOFF": cfg.ReconnectBackoff, "GRACE": cfg.Grace} {
			if got != tt.want {
				t.Errorf("CRONLOCK_%s=%q: got %v, want %v", name, tt.value, got, tt.want)
			}
		}
	}
}

func TestLoadFile(t *testing.T) {
	path := writeFile(t, `# /etc/cronlock.conf, as cronlock users write it
export CRONLOCK_HOST=redis.internal
CRONLOCK_PORT="6380"

	CRONLOCK_DB='2'   # the cron database
CRONLOCK_GRACE=0.5 # half a second
export CRONLOCK_PREFIX="jobs:"
CRONLOCK_VERBOSE=on
OTHER_SHELL_VARIABLE=ignored
`, 0o644)
	cfg, warnings := load(t, "CRONLOCK_CONFIG="+path)
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if cfg.Host != "redis.internal" || cfg.Port != 6380 || cfg.DB != 2 || cfg.Grace != 500*time.Millisecond ||
		cfg.Prefix != "jobs:" || !cfg.Verbose || cfg.File != path {
		t.Errorf("from the file: got %+v", *cfg)
	}
}

// TestLoadFileWinsOverEnvironment checks cronlock's precedence: it sources the file after
// the environment, so the file's assignments win, and the environment fills the rest.
func TestLoadFileWinsOverEnvironment(t *testing.T) {
	path := writeFile(t, "CRONLOCK_HOST=filehost\nCRONLOCK_PORT=1234\nCRONLOCK_DB=7\nCRONLOCK_GRACE=9\n"+
		"CRONLOCK_PREFIX=\"${CRONLOCK_PREFIX:-none.}file.\"\nCRONLOCK_LEASE=\n", 0o600)
	cfg, _ := load(t, "CRONLOCK_CONFIG="+path, "CRONLOCK_HOST=envhost", "CRONLOCK_DB=7",
		"CRONLOCK_GRACE=", "CRONLOCK_PREFIX=env.", "CRONLOCK_TIMEOUT=3", "CRONLOCK_LEASE=12")
	if cfg.Host != "filehost" || cfg.DB != 7 || cfg.Port != 1234 || cfg.Grace != 9*time.Second {
		t.Errorf("the file did not win: host %q db %d port %d grace %v", cfg.Host, cfg.DB, cfg.Port, cfg.Grace)
	}
	if cfg.Prefix != "env.file." || cfg.Timeout != 3*time.Second {
		t.Errorf("the environment is not seen: prefix %q timeout %v", cfg.Prefix, cfg.Timeout)
	}
	if cfg.Lease != 30*time.Second { // the file emptied it: the default, as in cronlock
		t.Errorf("lease = %v, want the default 30s", cfg.Lease)
	}
	// The variables whose environment value the file replaced, for a verbose line each;
	// not DB (the same value) nor GRACE (empty in the environment).
	want := []string{"CRONLOCK_HOST", "CRONLOCK_LEASE", "CRONLOCK_PREFIX"}
	if !reflect.DeepEqual(cfg.Overridden, want) {
		t.Errorf("Overridden = %q, want %q", cfg.Overridden, want)
	}
	// A bad value in the file is not mended by a good one in the environment.
	path = writeFile(t, "CRONLOCK_PORT=0\n", 0o600)
	if _, _, err := Load([]string{"CRONLOCK_CONFIG=" + path, "CRONLOCK_PORT=6390"}, ""); err == nil ||
		!strings.HasPrefix(err.Error(), "CRONLOCK_PORT: ") {
		t.Errorf("Load: %v, want an error naming CRONLOCK_PORT", err)
	}
}

func TestLoadWarnsOfReadableAuthFile(t *testing.T) {
	const secret = "hunter2-secret"
	for _, tt := range []struct {
		perm os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o604, true}, {0o600, false}, {0o400, false}} {
		path := writeFile(t, "CRONLOCK_AUTH="+secret+"\n", tt.perm)
		cfg, warnings := load(t, "CRONLOCK_CONFIG="+path)
		if cfg.Auth != secret {
			t.Errorf("mode %04o: Auth not read from the file", tt.perm)
		}
		if got := len(warnings) == 1 && strings.Contains(warnings[0], "CRONLOCK_AUTH") &&
			strings.Contains(warnings[0], path); got != tt.warn || len(warnings) > 1 {
			t.Errorf("mode %04o: warnings %q, want a warning: %v", tt.perm, warnings, tt.warn)
		}
		for _, w := range warnings {
			if strings.Contains(w, secret) {
				t.Errorf("warning %q shows the password", w)
			}
		}
	}
	// A readable file without a password is no concern.
	path := writeFile(t, "CRONLOCK_HOST=h\n", 0o644)
	if _, warnings := load(t, "CRONLOCK_CONFIG="+path); len(warnings) != 0 {
		t.Errorf("warnings %q for a file without CRONLOCK_AUTH", warnings)
	}
}

func TestLoadWarnsOfUnknownVariables(t *testing.T) {
	tests := []struct {
		typo, closest string
	}{
		{"CRONLOCK_GRACEE", "CRONLOCK_GRACE"},
		{"CRONLOCK_HSOT", "CRONLOCK_HOST"},
		{"CRONLOCK_TIMEOUTS", "CRONLOCK_TIMEOUT"},
		{"CRONLOCK_RECONECT_ATTEMPTS", "CRONLOCK_RECONNECT_ATTEMPTS"},
		{"CRONLOCK_VERBSE", "CRONLOCK_VERBOSE"},
	}
	for _, tt := range tests {
		_, warnings := load(t, noFile, tt.typo+"=1")
		if len(warnings) != 1 {
			t.Errorf("%s: warnings %q, want exactly one", tt.typo, warnings)
			continue
		}
		if w := warnings[0]; !strings.Contains(w, tt.typo) || !strings.Contains(w, tt.closest+"?") {
			t.Errorf("%s: warning %q does not name it and %s", tt.typo, w, tt.closest)
		}
	}
	// From a file, too.
	path := writeFile(t, "CRONLOCK_HSOT=redis\n", 0o600)
	if _, warnings := load(t, "CRONLOCK_CONFIG="+path); len(warnings) != 1 || !strings.Contains(warnings[0], "CRONLOCK_HOST?") {
		t.Errorf("typo in a file: warnings %q", warnings)
	}
	// Known and accepted: cronlock's NTPDATE and what golock gives its child.
	_, warnings := load(t, noFile, "CRONLOCK_NTPDATE=yes", "CRONLOCK_LOCK=cronlock.x", "CRONLOCK_OWNER=u",
		"CRONLOCK_FENCE=12", "CRONLOCK_CONFIG=", "NOT_CRONLOCK_HSOT=1", "cronlock_host=lower")
	if len(warnings) != 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
}
