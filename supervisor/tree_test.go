package supervisor_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golock/golock/internal/proctest"
	"github.com/golock/golock/supervisor"
)

func TestRunScriptWithoutShebang(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("echo \"$0:$1:$2\"\nexit 4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	job := supervisor.Job{Args: []string{script, "a b", "c"}, Stdout: &out}
	res, err := supervisor.Run(job)
	if err != nil || res.Code != 4 || out.String() != script+":a b:c\n" {
		t.Errorf("Run = %+v, %v, printed %q; want code 4 and the script's line", res, err, out.String())
	}

	// A binary for another machine is no script: bash refuses it (126), as golock does.
	binary := filepath.Join(dir, "binary")
	if err := os.WriteFile(binary, []byte("\x7fELF\x02\x01\x01\x00\x00\x00garbage\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err = supervisor.Run(supervisor.Job{Args: []string{binary}})
	if err == nil || res.Code != 126 || res.Started {
		t.Errorf("Run(binary) = %+v, %v; want 126, not started", res, err)
	}
}

// escapes is a job that starts processes out of its process group: a setsid'd shell and
// timeout(1), each trapping SIGTERM to record it in DIR/<name>.term; their pids go to
// DIR/<name>. It waits for them.
const escapes = `d=$1
setsid sh -c 'trap "echo TERM > \"$0/setsid.term\"; exit 0" TERM; echo $$ > "$0/setsid"; while :; do sleep 0.05; done' "$d" &
timeout 300 sh -c 'echo $$ > "$0/timeout-child"; exec sleep 300' "$d" &
echo $! > "$d/timeout"
wait`

// escaped returns the pids the escapes job in dir recorded.
func escaped(t *testing.T, dir string) []int {
	var pids []int
	for _, name := range []string{"setsid", "timeout", "timeout-child"} {
		pid := readPID(t, filepath.Join(dir, name))
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		pids = append(pids, pid)
	}
	return pids
}

// TestRunReachesEscapes: forwarded signals, a stop and the timeout reach the processes
// that left the job's group or session, and Run returns only once they are gone.
func TestRunReachesEscapes(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"signal", "stop", "timeout"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			job := sh(escapes)
			job.Args = append(job.Args, "job", dir)
			sigs, stop := make(chan os.Signal, 1), make(chan supervisor.Stop, 1)
			job.Signals, job.Stop = sigs, stop
			if how == "timeout" {
				job.Timeout = time.Second
			}
			c := runAsync(job)
			pids := escaped(t, dir)
			switch how {
			case "signal":
				sigs <- syscall.SIGTERM
			case "stop":
				stop <- supervisor.Stop{Kill: time.Now().Add(8 * time.Second)}
			}
			o := await(t, c, 10*time.Second)
			for _, pid := range pids {
				if !proctest.Gone(pid) {
					t.Errorf("process %d that left the job's group still alive when Run returned", pid)
				}
			}
			if how == "timeout" {
				if !o.res.TimedOut {
					t.Errorf("Run = %+v, want TimedOut", o.res)
				}
				return
			}
			// SIGTERM, not the SIGKILL of a stop 8 s later, ended them.
			if o.took > 5*time.Second {
				t.Errorf("Run took %v: SIGTERM did not end the escapes", o.took)
			}
			if got := waitFile(t, filepath.Join(dir, "setsid.term")); got != "TERM" {
				t.Errorf("the setsid'd process recorded %q, want TERM", got)
			}
		})
	}
}
