package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golock/golock/internal/proctest"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// The main goroutine keeps the main thread, which the Go runtime never ends: so the
		// helper's locked goroutine runs on another thread, which ends with it.
		runtime.LockOSThread()
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: redis-server not found in PATH: these tests need a real Redis (apt-get install redis-server)")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// helperEnv makes TestHelperServers, run in a child copy of the test binary, start
// servers and write their pids to the file it names.
const helperEnv = "REDISTEST_HELPER_PIDFILE"

// TestServersDieWithTestBinary starts servers in a child test binary, the helper, and
// SIGKILLs it: the servers must die with it, as they would with a test run that timed out
// or was killed. They are started from a goroutine that ends its locked OS thread, which
// must not kill them early.
func TestServersDieWithTestBinary(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pids")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperServers$", "-test.timeout=1m")
	helper.Env = append(os.Environ(), helperEnv+"="+pidFile)
	helper.Stdout, helper.Stderr = os.Stderr, os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	var pids []int
	if !Poll(30*time.Second, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			pids = append(pids, pid)
		}
		return true
	}) {
		t.Fatal("the helper wrote no pids within 30s")
	}
	if len(pids) != 3 {
		t.Fatalf("the helper wrote pids %v, want 3", pids)
	}
	time.Sleep(200 * time.Millisecond) // time for an early parent-death signal to tell
	for _, pid := range pids {
		if proctest.Gone(pid) {
			t.Fatalf("server %d died with the thread that started it, before the test ended", pid)
		}
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	killed := time.Now()
	for _, pid := range pids {
		if !Poll(2*time.Second, func() bool { return proctest.Gone(pid) }) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("server %d still running 2s after the test binary was killed", pid)
		}
	}
	t.Logf("all gone %v after the kill", time.Since(killed).Round(time.Millisecond))
}

// TestHelperServers is the helper of TestServersDieWithTestBinary; run by go test, it does
// nothing. It starts a server and a replica from a goroutine locked to its OS thread, which
// then ends (and the Go runtime ends the thread with it), and a sentinel, writes the
// three pids and waits to be killed.
func TestHelperServers(t *testing.T) {
	pidFile := os.Getenv(helperEnv)
	if pidFile == "" {
		return
	}
	var srv, replica *Server
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		srv = Start(t)
		replica = StartReplica(t, srv)
	}()
	<-done
	sentinel := (&Sentinel{t: t, Master: srv, downAfter: time.Second}).startSentinel(1)
	pids := fmt.Sprintf("%d %d %d\n", srv.cmd.Process.Pid, replica.cmd.Process.Pid, sentinel.cmd.Process.Pid)
	if err := os.WriteFile(pidFile+".tmp", []byte(pids), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(pidFile+".tmp", pidFile); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute) // until killed
}
