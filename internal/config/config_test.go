package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noFile is an empty CRONLOCK_CONFIG: with Load's argv0 "", only the system file is
// searched for, and in these tests it is a path where no file is (see TestMain).
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
		Prefix: "cronlock.", Reset: false, Verbose: false, LogFormat: "text", RecordCmd: true, Limit: 1,
		PingTimeout:    2 * time.Second,
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

// TestFilePermissionProblem checks what a config file's permissions are reported as: a
// password readable by every user, a file writable by its group or every user. A file
// readable by its group (0640, as advised for non-root crontabs) is no problem. The report
// goes to Config.FileProblem, for a terminal or CRONLOCK_VERBOSE, never to the warnings
// that cron would mail.
func TestFilePermissionProblem(t *testing.T) {
	const secret = "hunter2-secret"
	for _, tt := range []struct {
		text string
		perm os.FileMode
		want string // in the problem; "" for none
	}{
		{"CRONLOCK_AUTH=" + secret + "\n", 0o644, "holds CRONLOCK_AUTH and is readable by every user (mode 0644); chmod o-r"},
		{"CRONLOCK_AUTH=" + secret + "\n", 0o604, "readable by every user (mode 0604)"},
		{"CRONLOCK_SENTINEL_AUTH=" + secret + "\n", 0o644, "holds CRONLOCK_SENTINEL_AUTH"},
		{"CRONLOCK_URL=redis://:" + secret + "@redis.internal\n", 0o644, "holds a password in CRONLOCK_URL"},
		{"CRONLOCK_AUTH=" + secret + "\n", 0o640, ""},
		{"CRONLOCK_AUTH=" + secret + "\n", 0o600, ""},
		{"CRONLOCK_AUTH=" + secret + "\n", 0o400, ""},
		{"CRONLOCK_HOST=h\n", 0o644, ""}, // nothing secret to read
		{"CRONLOCK_HOST=h\n", 0o664, "is writable by its group "},
		{"CRONLOCK_HOST=h\n", 0o646, "is writable by every user (mode 0646)"},
		{"CRONLOCK_AUTH=" + secret + "\n", 0o666, "is writable by every user"},
	} {
		path := writeFile(t, tt.text, tt.perm)
		cfg, warnings, err := Load([]string{"CRONLOCK_CONFIG=" + path}, "")
		if err != nil {
			t.Fatalf("mode %04o: %v", tt.perm, err)
		}
		if len(warnings) != 0 {
			t.Errorf("mode %04o: warnings %q, want none (cron would mail them)", tt.perm, warnings)
		}
		direct := FilePermissionProblem(path)
		switch {
		case cfg.FileProblem != direct:
			t.Errorf("mode %04o: Load's %q, FilePermissionProblem's %q", tt.perm, cfg.FileProblem, direct)
		case tt.want == "" && direct != "":
			t.Errorf("mode %04o, %q: %q, want no problem", tt.perm, tt.text, direct)
		case tt.want != "" && (!strings.Contains(direct, tt.want) || !strings.Contains(direct, path)):
			t.Errorf("mode %04o, %q: %q, want it to name the file and hold %q", tt.perm, tt.text, direct, tt.want)
		case strings.Contains(direct, secret) || strings.Contains(direct, "\n"):
			t.Errorf("mode %04o: %q shows the password or is not one line", tt.perm, direct)
		}
	}
	if got := FilePermissionProblem(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("a missing file: %q, want nothing", got)
	}
}

// writeUnreadable writes a config file that its owner, not root, cannot read.
func writeUnreadable(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("CRONLOCK_HOST=h\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o000); err != nil {
		t.Fatal(err)
	}
}

// runAsNobody runs the test named test again in a copy of the test binary as the user
// nobody, for whom GOLOCK_TEST_DIR holds golock and an unreadable cronlock.conf.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "golock-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "golock")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	writeUnreadable(t, filepath.Join(dir, "cronlock.conf"))
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v")
	cmd.Env = []string{"GOLOCK_TEST_DIR=" + dir, "PATH=/usr/bin:/bin"}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Errorf("as nobody: %v\n%s", err, out)
	}
}

// TestSearchedFileUnreadable checks that a config file found by searching, not named by
// CRONLOCK_CONFIG, that this user cannot read is named in the error, which does not blame
// CRONLOCK_CONFIG; one named by CRONLOCK_CONFIG is that variable's error.
func TestSearchedFileUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads any file: drop to nobody for the read, in a child process.
		runAsNobody(t, "TestSearchedFileUnreadable")
		return
	}
	dir := os.Getenv("GOLOCK_TEST_DIR")
	if dir == "" {
		dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "golock"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
		writeUnreadable(t, filepath.Join(dir, "cronlock.conf"))
	}
	conf := filepath.Join(dir, "cronlock.conf")
	_, _, err := Load([]string{"CRONLOCK_CONFIG="}, filepath.Join(dir, "golock"))
	var p *Problem
	switch {
	case err == nil:
		t.Fatalf("Load of an unreadable %s: no error", conf)
	case errors.As(err, &p) || strings.HasPrefix(err.Error(), "CRONLOCK_CONFIG"):
		t.Errorf("error %q blames CRONLOCK_CONFIG, which is not set", err)
	case !strings.Contains(err.Error(), "cannot read config file "+conf+": permission denied") ||
		!strings.Contains(err.Error(), "chmod 0640") || !strings.Contains(err.Error(), "found by searching"):
		t.Errorf("error %q, want it to name %s, the cause and what to do", err, conf)
	}
	_, _, err = Load([]string{"CRONLOCK_CONFIG=" + conf}, "")
	if err == nil || !strings.HasPrefix(err.Error(), "CRONLOCK_CONFIG: cannot read config file "+conf) {
		t.Errorf("CRONLOCK_CONFIG naming an unreadable file: %v", err)
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
