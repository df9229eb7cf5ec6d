package config

import (
	"strings"
	"testing"

	"github.com/golock/golock/internal/redistest"
)

func TestRedisOptions(t *testing.T) {
	certs := redistest.NewCerts(t)
	tests := []struct {
		name    string
		environ []string
		addr    string
		db      int
		user    string
		pass    string
		tls     bool
	}{
		{"defaults", nil, "localhost:6379", 0, "", "", false},
		{"host port db auth", []string{"CRONLOCK_HOST=redis.internal", "CRONLOCK_PORT=6380",
			"CRONLOCK_DB=2", "CRONLOCK_USERNAME=cron", "CRONLOCK_AUTH=pw"}, "redis.internal:6380", 2, "cron", "pw", false},
		{"ipv6 host", []string{"CRONLOCK_HOST=::1"}, "[::1]:6379", 0, "", "", false},
		{"unix socket url", []string{"CRONLOCK_URL=unix:///run/redis.sock?db=2"}, "/run/redis.sock", 2, "", "", false},
		{"tls", []string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + certs.CA}, "localhost:6379", 0, "", "", true},
		{"url overrides", []string{"CRONLOCK_HOST=ignored", "CRONLOCK_DB=5", "CRONLOCK_AUTH=ignored",
			"CRONLOCK_URL=redis://u:p@10.0.0.1:7000/3"}, "10.0.0.1:7000", 3, "u", "p", false},
		{"rediss url", []string{"CRONLOCK_URL=rediss://r.example:6390"}, "r.example:6390", 0, "", "", true},
		{"rediss url wins over tls no", []string{"CRONLOCK_TLS=no", "CRONLOCK_URL=rediss://r.example"}, "r.example:6379", 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := load(t, append([]string{noFile}, tt.environ...)...)
			o := cfg.Redis()
			if o.Addr != tt.addr || o.DB != tt.db || o.Username != tt.user || o.Password != tt.pass || (o.TLSConfig != nil) != tt.tls {
				t.Errorf("got addr %q db %d user %q pass %q tls %v; want %q %d %q %q %v",
					o.Addr, o.DB, o.Username, o.Password, o.TLSConfig != nil, tt.addr, tt.db, tt.user, tt.pass, tt.tls)
			}
		})
	}
	cfg, _ := load(t, noFile, "CRONLOCK_TLS=1", "CRONLOCK_TLS_CERT="+certs.ClientCert,
		"CRONLOCK_TLS_KEY="+certs.ClientKey, "CRONLOCK_TLS_SERVER_NAME=redis.internal", "CRONLOCK_TLS_SKIP_VERIFY=on")
	tc := cfg.Redis().TLSConfig
	if len(tc.Certificates) != 1 || tc.ServerName != "redis.internal" || !tc.InsecureSkipVerify || tc.MinVersion < 0x0303 {
		t.Errorf("TLS config %+v: want the client certificate, the server name, skip-verify and TLS 1.2+", tc)
	}
}

func TestRedisOptionsRejectBadSettings(t *testing.T) {
	certs := redistest.NewCerts(t)
	notPEM := writeFile(t, "not a certificate\n", 0o600)
	tests := []struct {
		environ []string
		names   string
	}{
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=/nonexistent/ca.pem"}, "CRONLOCK_TLS_CA_CERT"},
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + notPEM}, "CRONLOCK_TLS_CA_CERT"},
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CERT=" + certs.ClientCert}, "CRONLOCK_TLS_KEY"},
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_KEY=" + certs.ClientKey}, "CRONLOCK_TLS_CERT"},
		{[]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CERT=" + certs.ClientCert, "CRONLOCK_TLS_KEY=" + notPEM}, "CRONLOCK_TLS_CERT"},
		{[]string{"CRONLOCK_TLS=perhaps"}, "CRONLOCK_TLS"},
		{[]string{"CRONLOCK_TLS_SKIP_VERIFY=2"}, "CRONLOCK_TLS_SKIP_VERIFY"},
		{[]string{"CRONLOCK_URL=http://secretpw@host"}, "CRONLOCK_URL"},
		{[]string{"CRONLOCK_URL=redis://user:secretpw@host:notaport"}, "CRONLOCK_URL"},
		{[]string{"CRONLOCK_URL=redis://:secretpw@host/notadb"}, "CRONLOCK_URL"},
		{[]string{"CRONLOCK_URL=rediss://host", "CRONLOCK_TLS_CA_CERT=/nonexistent"}, "CRONLOCK_TLS_CA_CERT"},
		{[]string{"CRONLOCK_URL=redis://:secretpw@host:99999"}, "CRONLOCK_URL"},
		{[]string{"CRONLOCK_URL=redis://:secretpw@host:0"}, "CRONLOCK_URL"},
		{[]string{"CRONLOCK_HOST=redis://:secretpw@localhost"}, "CRONLOCK_HOST"},
		{[]string{"CRONLOCK_HOST=user:secretpw@localhost", "CRONLOCK_CLUSTER=yes"}, "CRONLOCK_HOST"},
		{[]string{"CRONLOCK_HOST=localhost:6380"}, "CRONLOCK_HOST"},
		{[]string{"CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_HOST=redis://:secretpw@s1"}, "CRONLOCK_SENTINEL_HOST"},
		{[]string{"CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_HOST=a:b:c"}, "CRONLOCK_SENTINEL_HOST"},
		{[]string{"CRONLOCK_CLUSTER=yes", "CRONLOCK_HOST=n1:7000,n2:x"}, "CRONLOCK_HOST"},
		{[]string{"CRONLOCK_TLS_CA_CERT=" + certs.CA}, "CRONLOCK_TLS_CA_CERT"},
		{[]string{"CRONLOCK_URL=redis://host", "CRONLOCK_TLS_CERT=" + certs.ClientCert, "CRONLOCK_TLS_KEY=" + certs.ClientKey}, "CRONLOCK_TLS_CERT"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.environ, " "), func(t *testing.T) {
			_, _, err := Load(append([]string{noFile}, tt.environ...), "")
			if err == nil {
				t.Fatal("Load accepted it")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.names+": ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s", msg, tt.names)
			}
			if strings.Contains(msg, "secretpw") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}

func TestSentinelAndClusterAddrs(t *testing.T) {
	cfg, _ := load(t, noFile, "CRONLOCK_USE_SENTINEL=yes", "CRONLOCK_SENTINEL_HOST=s1, s2:26380 ,::1,[::1]:26381",
		"CRONLOCK_SENTINEL_PORT=26390")
	want := []string{"s1:26390", "s2:26380", "[::1]:26390", "[::1]:26381"}
	if got := cfg.Addrs(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("sentinels %q, want %q", got, want)
	}
	cfg, _ = load(t, noFile, "CRONLOCK_CLUSTER=yes", "CRONLOCK_HOST=n1,n2:7001", "CRONLOCK_PORT=7000")
	if got := cfg.Addrs(); strings.Join(got, " ") != "n1:7000 n2:7001" {
		t.Errorf("cluster seeds %q", got)
	}
}
