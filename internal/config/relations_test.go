package config

import (
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
)

// refusal is settings Load must refuse: one line that starts with the first variable named
// and names every other one too.
type refusal struct {
	name    string
	environ []string
	names   []string // the variables the line must name, the first one leading it
	says    string   // what the line must say is allowed
}

func checkRefusals(t *testing.T, tests []refusal) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Load(append([]string{noFile}, tt.environ...), "")
			if err == nil {
				t.Fatalf("Load(%q) accepted it: %+v", tt.environ, cfg)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.names[0]+": ") || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q: want one line starting %s", msg, tt.names[0])
			}
			for _, name := range tt.names[1:] {
				if !strings.Contains(msg, name) {
					t.Errorf("error %q does not name %s", msg, name)
				}
			}
			if !strings.Contains(msg, tt.says) {
				t.Errorf("error %q does not say %q", msg, tt.says)
			}
		})
	}
}

func TestRelationsRefused(t *testing.T) {
	const lease, kill, release = "CRONLOCK_LEASE", "CRONLOCK_KILL_GRACE", "CRONLOCK_RELEASE"
	checkRefusals(t, []refusal{
		// KILL_GRACE at ⅔ LEASE or more: the kill point came before the first renewal.
		{"kill grace two thirds", []string{"CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=2"}, []string{kill, lease}, "less than half of CRONLOCK_LEASE=3s (1.5s), got 2s"},
		// Half the lease: the renewal at LEASE/3, bounded by LEASE/6, ends at the kill point.
		{"kill grace half", []string{"CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=1.5"}, []string{kill, lease}, "less than half"},
		{"kill grace half of default lease", []string{"CRONLOCK_KILL_GRACE=15"}, []string{kill, lease}, "less than half of CRONLOCK_LEASE=30s"},
		{"kill grace zero", []string{"CRONLOCK_KILL_GRACE=0"}, []string{kill, lease}, "at least 0.2s"},
		{"kill grace below the margin", []string{"CRONLOCK_LEASE=1.5", "CRONLOCK_KILL_GRACE=0.1"}, []string{kill, lease}, "at least 0.2s"},
		{"lease too short for the default", []string{"CRONLOCK_LEASE=0.5"}, []string{lease, kill}, "at least 0.6s"},
		{"lease too short for any kill grace", []string{"CRONLOCK_LEASE=0.4", "CRONLOCK_KILL_GRACE=0.2"}, []string{lease, kill}, "more than 0.4s"},
		{"release equal to kill grace", []string{"CRONLOCK_RELEASE=5", "CRONLOCK_GRACE=0"}, []string{release, kill}, "more than CRONLOCK_KILL_GRACE (5s)"},
		{"release below kill grace", []string{"CRONLOCK_RELEASE=1", "CRONLOCK_GRACE=0", "CRONLOCK_LEASE=6", "CRONLOCK_KILL_GRACE=2"}, []string{release, kill}, "got 1s"},
		// ON_LOST=keep changes none of it: KILL_GRACE still decides whether a job starts.
		{"keep release below kill grace", []string{"CRONLOCK_ON_LOST=keep", "CRONLOCK_RELEASE=0.3", "CRONLOCK_GRACE=0"}, []string{release, kill}, "more than"},
	})
}

func TestRelationsAccepted(t *testing.T) {
	tests := []struct {
		environ []string
		kill    time.Duration
	}{
		{nil, 5 * time.Second},
		{[]string{"CRONLOCK_LEASE=0.6"}, 200 * time.Millisecond},                             // the default's smallest lease
		{[]string{"CRONLOCK_LEASE=0.41", "CRONLOCK_KILL_GRACE=0.2"}, 200 * time.Millisecond}, // the smallest of all
		{[]string{"CRONLOCK_LEASE=1.5", "CRONLOCK_KILL_GRACE=0.5"}, 500 * time.Millisecond},  // the fault tests'
		{[]string{"CRONLOCK_LEASE=3", "CRONLOCK_KILL_GRACE=1.49"}, 1490 * time.Millisecond},
		{[]string{"CRONLOCK_RELEASE=5.001", "CRONLOCK_GRACE=0"}, 5 * time.Second}, // just enough lock left to start
		{[]string{"CRONLOCK_RELEASE=1", "CRONLOCK_GRACE=1", "CRONLOCK_LEASE=0.9"}, 300 * time.Millisecond},
		{[]string{"CRONLOCK_TIMEOUT=100000", "CRONLOCK_WAIT=0.001", "CRONLOCK_REDIS_TIMEOUT=600"}, 5 * time.Second},
	}
	for _, tt := range tests {
		cfg, _ := load(t, append([]string{noFile}, tt.environ...)...)
		if cfg.KillGrace != tt.kill {
			t.Errorf("%q: KillGrace = %v, want %v", tt.environ, cfg.KillGrace, tt.kill)
		}
	}
}

func TestTLSContradictionsRefused(t *testing.T) {
	certs := redistest.NewCerts(t)
	const tls, url = "CRONLOCK_TLS", "CRONLOCK_URL"
	checkRefusals(t, []refusal{
		{"tls with a redis url", []string{"CRONLOCK_TLS=yes", "CRONLOCK_URL=redis://:secretpw@r.example"}, []string{tls, url}, "use a rediss:// URL"},
		{"tls with a unix url", []string{"CRONLOCK_TLS=yes", "CRONLOCK_URL=unix:///run/redis.sock"}, []string{tls, url}, "unix:// URL, which is plain text"},
		{"ca with a redis url", []string{"CRONLOCK_URL=redis://r.example", "CRONLOCK_TLS_CA_CERT=" + certs.CA}, []string{"CRONLOCK_TLS_CA_CERT", url}, "redis:// URL, so there would be no TLS"},
		{"ca with tls no", []string{"CRONLOCK_TLS=no", "CRONLOCK_TLS_CA_CERT=" + certs.CA}, []string{"CRONLOCK_TLS_CA_CERT", "CRONLOCK_TLS=no"}, "set CRONLOCK_TLS=yes"},
		{"key without tls", []string{"CRONLOCK_TLS_KEY=" + certs.ClientKey}, []string{"CRONLOCK_TLS_KEY", "CRONLOCK_TLS=no"}, "set CRONLOCK_TLS=yes"},
		{"server name with a unix url", []string{"CRONLOCK_URL=unix:///run/redis.sock", "CRONLOCK_TLS_SERVER_NAME=r"}, []string{"CRONLOCK_TLS_SERVER_NAME", url}, "no TLS"},
		{"skip verify without tls", []string{"CRONLOCK_TLS_SKIP_VERIFY=yes"}, []string{"CRONLOCK_TLS_SKIP_VERIFY", "CRONLOCK_TLS=no"}, "no TLS"},
		{"url database below zero", []string{"CRONLOCK_URL=redis://:secretpw@r.example/-1"}, []string{url}, "0 or more"},
		{"unix url database below zero", []string{"CRONLOCK_URL=unix:///run/redis.sock?db=-1"}, []string{url}, "0 or more"},
	})
}

// TestRefusedSecretsNotShown: a password typed into the wrong variable never appears in
// the line that refuses it, while a harmless typo in a word or a number still does.
func TestRefusedSecretsNotShown(t *testing.T) {
	const pw = "Hunter2pw" // short and plain: only the variable decides it is not shown
	for _, v := range []string{"CRONLOCK_PORT", "CRONLOCK_DB", "CRONLOCK_SENTINEL_PORT", "CRONLOCK_HOST",
		"CRONLOCK_SENTINEL_HOST"} {
		for _, value := range []string{pw, pw + " x", "redis://:" + pw + "@h", "h:" + pw, "h," + pw + ":1"} {
			env := []string{noFile, v + "=" + value, "CRONLOCK_USE_SENTINEL=yes"}
			_, _, err := Load(env, "")
			if err == nil {
				continue // e.g. a host name that happens to be valid
			}
			if msg := err.Error(); strings.Contains(msg, pw) || !strings.HasPrefix(msg, v+": ") {
				t.Errorf("%s=%q: error %q shows the value or names another variable", v, value, msg)
			}
		}
	}
	// Values too long or too odd for any variable are not shown either.
	for _, v := range []string{"CRONLOCK_GRACE", "CRONLOCK_ON_LOST", "CRONLOCK_TLS", "CRONLOCK_MIN_REPLICAS"} {
		for _, value := range []string{"s3cret/" + pw, pw + pw, "p@" + pw} {
			_, _, err := Load([]string{noFile, v + "=" + value}, "")
			if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "not shown") {
				t.Errorf("%s=%q: error %v shows the value", v, value, err)
			}
		}
	}
	// A TLS file that cannot be read is named by its variable, not by its path.
	_, _, err := Load([]string{noFile, "CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=/" + pw}, "")
	if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing CA file: error %v", err)
	}
	shown := []struct{ env, want string }{
		{"CRONLOCK_ON_LOST=Kill ", `got "Kill "`},
		{"CRONLOCK_GRACE=30s", `got "30s"`},
		{"CRONLOCK_VERBOSE=maybe", `got "maybe"`},
		{"CRONLOCK_RECONNECT_ATTEMPTS=-1", `got "-1"`},
		{"CRONLOCK_PORT=99999", "1 to 65535 (the value given is not shown)"},
	}
	for _, tt := range shown {
		_, _, err := Load([]string{noFile, tt.env}, "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to say %s", tt.env, err, tt.want)
		}
	}
}

func TestRecordCmd(t *testing.T) {
	for env, want := range map[string]bool{"": true, "CRONLOCK_RECORD_CMD=no": false, "CRONLOCK_RECORD_CMD=YES": true} {
		cfg, _ := load(t, noFile, env)
		if cfg.RecordCmd != want {
			t.Errorf("%q: RecordCmd = %v, want %v", env, cfg.RecordCmd, want)
		}
	}
}
