package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// TestTLS runs golock against a redis-server that speaks only TLS and wants a client
// certificate, and checks that every way of failing verification fails closed: 201, the
// job not run.
func TestTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithTLS(true), redistest.WithPassword("tlspw"))
	certs := srv.Certs()
	other := redistest.NewCerts(t) // a CA that did not sign the server's certificate
	c := srv.Client()
	host := fmt.Sprintf("CRONLOCK_PORT=%d", srv.Port)
	base := []string{"CRONLOCK_HOST=127.0.0.1", host, "CRONLOCK_AUTH=tlspw", "CRONLOCK_RECONNECT_ATTEMPTS=0",
		"CRONLOCK_REDIS_TIMEOUT=5", "CRONLOCK_GRACE=0"}
	client := []string{"CRONLOCK_TLS_CERT=" + certs.ClientCert, "CRONLOCK_TLS_KEY=" + certs.ClientKey}
	url := fmt.Sprintf("CRONLOCK_URL=rediss://:tlspw@127.0.0.1:%d/4", srv.Port)

	tests := []struct {
		name string
		env  []string
		code int
		db   int
	}{
		{"verified mutual TLS", append([]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + certs.CA}, client...), 0, 0},
		{"server name checked", append([]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + certs.CA,
			"CRONLOCK_TLS_SERVER_NAME=localhost"}, client...), 0, 0},
		{"rediss URL", append([]string{url, "CRONLOCK_TLS_CA_CERT=" + certs.CA}, client...), 0, 4},
		{"skip verify", append([]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_SKIP_VERIFY=yes"}, client...), 0, 0},
		{"unknown CA", append([]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + other.CA}, client...), 201, 0},
		{"system CAs", append([]string{"CRONLOCK_TLS=yes"}, client...), 201, 0},
		{"wrong server name", append([]string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + certs.CA,
			"CRONLOCK_TLS_SERVER_NAME=redis.example.com"}, client...), 201, 0},
		{"no client certificate", []string{"CRONLOCK_TLS=yes", "CRONLOCK_TLS_CA_CERT=" + certs.CA}, 201, 0},
		{"plain text to a TLS port", nil, 201, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := cliPath(t, "ran")
			key := "tls-" + strings.ReplaceAll(tt.name, " ", "-")
			env := golocktest.Env(append(append(append([]string{}, base...), "CRONLOCK_KEY="+key), tt.env...)...)
			r := golocktest.Run(t, env, "touch", marker)
			cliWantCode(t, r, tt.code)
			if ran := cliExists(marker); ran != (tt.code == 0) {
				t.Errorf("job ran: %v, want %v; stderr: %s", ran, tt.code == 0, r.Stderr)
			}
			if strings.Contains(r.Stderr, "tlspw") {
				t.Errorf("stderr shows the password: %s", r.Stderr)
			}
			if tt.code == 0 {
				if r.Stderr != "" {
					t.Errorf("stderr %q, want nothing", r.Stderr)
				}
				// The run's fence counter is in the database it used.
				ctx := context.Background()
				conn := c.Conn()
				defer conn.Close()
				if err := conn.Select(ctx, tt.db).Err(); err != nil {
					t.Fatal(err)
				}
				fence := lockscript.FenceKey(lockscript.Name("cronlock.", key, nil))
				if n, err := conn.Exists(ctx, fence).Result(); err != nil || n != 1 {
					t.Errorf("%s in db %d: exists=%d err=%v, want 1", fence, tt.db, n, err)
				}
			} else if len(cliLines(r.Stderr)) != 1 {
				t.Errorf("stderr %q, want one line", r.Stderr)
			}
		})
	}
}
