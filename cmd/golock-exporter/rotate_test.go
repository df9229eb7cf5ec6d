package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
)

// TestPasswordRotation follows the recipe in docs/operations.md: the password changes in
// Redis and in the config file, and both golock (which reads the file on every run) and the
// running exporter (which reads it again before every scrape) use the new one at once, the
// exporter without a restart.
func TestPasswordRotation(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithPassword("old-secret"))
	conf := filepath.Join(t.TempDir(), "cronlock.conf")
	write := func(pw string) {
		t.Helper()
		body := "CRONLOCK_HOST=127.0.0.1\nCRONLOCK_PORT=" + strconv.Itoa(srv.Port) + "\nCRONLOCK_AUTH=" + pw + "\nCRONLOCK_PREFIX=rot.\nCRONLOCK_GRACE=0\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("old-secret")
	env := golocktest.Env("CRONLOCK_CONFIG=" + conf)
	if code, out := golock(t, env, "true"); code != 0 {
		t.Fatalf("golock with the old password: exit %d: %s", code, out)
	}
	e := startExporter(t, env)
	if m, _ := e.scrape(t, 0); !metricIs(m, "golock_up", 1) {
		t.Fatal("golock_up is not 1 with the old password")
	}

	// Rotate: the server takes only the new password, and drops the connections made with
	// the old one; the config file says the new one.
	c := srv.Client()
	if err := c.ConfigSet(t.Context(), "requirepass", "new-secret").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(t.Context(), "client", "kill", "type", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	write("new-secret")
	if code, out := golock(t, env, "true"); code != 0 {
		t.Errorf("golock's next run after the rotation: exit %d, want 0: %s", code, out)
	}
	if m, _ := e.scrape(t, 0); !metricIs(m, "golock_up", 1) || !metricIs(m, "golock_locks", 1) {
		t.Errorf("the exporter's next scrape after the rotation: golock_up %v, locks %v; want 1 and 1 (its log:\n%s)",
			m["golock_up"], m["golock_locks"], e.log(t))
	}
}
