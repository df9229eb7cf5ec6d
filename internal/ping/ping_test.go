package ping_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/ping"
)

// TestSend pings a real HTTP server on 127.0.0.1: the path, the run id beside a query the
// URL had already, basic auth from the URL, the User-Agent, and a non-2xx as an error.
func TestSend(t *testing.T) {
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r)
		if strings.HasSuffix(r.URL.Path, "/9") {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/p/slug?create=1"
	p, err := ping.New(u, "rid-1", 2*time.Second, "golock/test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Exit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Exit(ctx, 9); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v, want an error saying so", err)
	}
	want := []string{"/p/slug/start", "/p/slug", "/p/slug/9"}
	for i, r := range got {
		user, pw, _ := r.BasicAuth()
		if r.Method != "POST" || r.URL.Path != want[i] || r.URL.Query().Get("rid") != "rid-1" ||
			r.URL.Query().Get("create") != "1" || user != "user" || pw != "pw" || r.UserAgent() != "golock/test" {
			t.Errorf("ping %d: %s %s auth %s:%s agent %q; want POST %s?create=1&rid=rid-1 as user:pw", i, r.Method,
				r.URL, user, pw, r.UserAgent(), want[i])
		}
	}
	if len(got) != 3 {
		t.Errorf("%d pings, want 3", len(got))
	}
}

// TestTLSVerified: an https:// server whose certificate the system does not trust fails
// the ping (verification is on); a good one answers.
func TestTLSVerified(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	p, err := ping.New(srv.URL+"/x", "r", 2*time.Second, "golock/test")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, want a verification error", err)
	}
}
