package redistest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Clock steps the wall clock of one redis-server, as an NTP step or a VM resume would:
// a small library preloaded into the server adds an offset, read from a file at every
// call, to CLOCK_REALTIME (gettimeofday, clock_gettime, time); the monotonic clock is left
// alone. It is built with the C compiler at the test's start; a missing compiler fails the
// test.
type Clock struct {
	file   string
	offset time.Duration
}

// clockShim is the preloaded library. It makes raw system calls only, so that it works
// before the C library (or jemalloc, which asks the time while it starts) is ready.
const clockShim = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long offset_us(void) {
	const char *path = getenv("REDISTEST_CLOCK_FILE");
	if (!path) return 0;
	int fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
	if (fd < 0) return 0;
	char buf[32];
	long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	syscall(SYS_close, fd);
	if (n <= 0) return 0;
	buf[n] = 0;
	long long v = 0;
	int neg = buf[0] == '-';
	for (char *p = buf + neg; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
	return neg ? -v : v;
}

static void shift(struct timespec *ts) {
	long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_us() * 1000LL;
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
	int r = syscall(SYS_clock_gettime, clk, ts);
	if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE)) shift(ts);
	return r;
}

int gettimeofday(struct timeval *tv, void *tz) {
	struct timespec ts;
	int r = syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	if (r != 0 || !tv) return r;
	shift(&ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t time(time_t *t) {
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	shift(&ts);
	if (t) *t = ts.tv_sec;
	return ts.tv_sec;
}
`

// WithClock starts the server with its wall clock under c's control (see NewClock).
func WithClock(c *Clock) Option {
	return func(s *Server) { s.env = append(s.env, "LD_PRELOAD="+c.lib(), "REDISTEST_CLOCK_FILE="+c.file) }
}

// NewClock builds the clock library for a server started WithClock.
func NewClock(t testing.TB) *Clock {
	t.Helper()
	dir := t.TempDir()
	c := &Clock{file: filepath.Join(dir, "offset")}
	src := filepath.Join(dir, "clockshim.c")
	if err := os.WriteFile(src, []byte(clockShim), 0o600); err != nil {
		t.Fatal(err)
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			t.Fatal("redistest: no C compiler (gcc) to build the clock library: apt-get install gcc")
		}
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", c.lib(), src).CombinedOutput(); err != nil {
		t.Fatalf("redistest: cannot build the clock library: %v\n%s", err, out)
	}
	c.Step(0)
	return c
}

func (c *Clock) lib() string { return filepath.Join(filepath.Dir(c.file), "clockshim.so") }

// Step moves the server's wall clock by d (forward when positive) at once.
func (c *Clock) Step(d time.Duration) {
	c.offset += d
	tmp := c.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(c.offset.Microseconds(), 10)), 0o600); err == nil {
		_ = os.Rename(tmp, c.file)
	}
}
