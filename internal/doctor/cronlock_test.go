package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// TestCronlockFormNote: --doctor notes locks in cronlock's string form under the prefix,
// naming CRONLOCK_MIXED_FLEET, only while that is off; golock's hashes, its companion keys
// (numeric strings too) and keys under another prefix are no such lock.
func TestCronlockFormNote(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	conf := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	doctor := func(extra ...string) string {
		var out strings.Builder
		env := append([]string{"CRONLOCK_CONFIG=" + conf, "CRONLOCK_HOST=127.0.0.1",
			fmt.Sprintf("CRONLOCK_PORT=%d", srv.Port)}, extra...)
		Run(ctx, Options{Environ: env, Out: &out})
		return out.String()
	}
	opts := lockscript.Options{Owner: "o", Lease: time.Minute, Lifetime: time.Hour}
	for _, name := range []string{"cronlock.hash", "cronlock.{tag}x"} { // {tag}x: its fence key is cronlock.{tag}x.fence
		if _, err := lockscript.Acquire(ctx, c, name, opts); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "other.cron", strconv.FormatInt(time.Now().Unix()+100, 10), 0)
	c.Set(ctx, "cronlock.word", "hello", 0)
	if out := doctor(); strings.Contains(out, "string form") {
		t.Errorf("a note with no cronlock lock under the prefix:\n%s", out)
	}

	c.Set(ctx, "cronlock.cron", strconv.FormatInt(time.Now().Unix()+100, 10), 0)
	out := doctor()
	want := "note    1 lock(s) under cronlock. in cronlock's string form (cronlock.cron): cronlock runs beside golock, " +
		"and fails with WRONGTYPE on golock's locks; for a rolling migration set CRONLOCK_MIXED_FLEET=yes on every golock host"
	if !strings.Contains(out, want+"\n") {
		t.Errorf("no note of cronlock's lock; want %q in\n%s", want, out)
	}
	if out := doctor("CRONLOCK_MIXED_FLEET=yes"); strings.Contains(out, "string form") ||
		!strings.Contains(out, "using   CRONLOCK_MIXED_FLEET=yes (environment)") {
		t.Errorf("with CRONLOCK_MIXED_FLEET=yes:\n%s", out)
	}
}
