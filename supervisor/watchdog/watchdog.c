/*
 * golock's watchdog: kills a job's process tree when the supervisor that started it dies,
 * even of SIGKILL. It does what the /bin/sh script in supervisor/watchdog.go does, as a
 * static program of a few kilobytes with no C library (raw system calls), so that starting
 * it on every run costs a fork and an exec of almost nothing, not a shell and its loader.
 *
 *   golock-watchdog      (standard input: the supervisor's pipe)
 *
 * It starts before the job, so that no moment of the job is unguarded. It reads lines on
 * standard input: first "=PGID", the job's process group, as soon as the job has started;
 * then "+PID START" and "-PID" for the members of the job's tree outside that group as they
 * come and go (START is the process's start time, field 22 of /proc/PID/stat), and "done"
 * when the job has ended, upon which it exits. If its input ends before "=PGID", no job
 * started and it exits. If its input ends without "done", the supervisor is gone: it stops every process
 * of the tree (the job's group, the members it was told of if they are still the same
 * processes, and every descendant of a stopped process: a stopped process forks no more,
 * and killing a parent first would hide its children among init's), looking through /proc
 * until no new one appears, then kills them all with SIGKILL and exits.
 *
 * Built by build (go generate ./supervisor) for amd64 and arm64; the binaries are embedded
 * in golock.
 */

typedef unsigned long u64;

#if defined(__x86_64__)
enum { SYS_read = 0, SYS_close = 3, SYS_getpid = 39, SYS_kill = 62, SYS_prctl = 157,
       SYS_getdents64 = 217, SYS_exit_group = 231, SYS_openat = 257 };
static long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}
__asm__(".text\n.global _start\n_start:\n\txor %ebp, %ebp\n\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n\tcall start\n\thlt\n");
#elif defined(__aarch64__)
enum { SYS_read = 63, SYS_close = 57, SYS_getpid = 172, SYS_kill = 129, SYS_prctl = 167,
       SYS_getdents64 = 61, SYS_exit_group = 94, SYS_openat = 56 };
static long sys3(long n, long a, long b, long c)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
}
__asm__(".text\n.global _start\n_start:\n\tmov x0, sp\n\tbl start\n");
#else
#error "the watchdog is built for amd64 and arm64; elsewhere golock uses its /bin/sh script"
#endif

enum { AT_FDCWD = -100, EINTR = 4, SIGKILL = 9, SIGSTOP = 19, PR_SET_NAME = 15 };

/* The compiler may call these for copies and clears. */
void *memset(void *d, int c, unsigned long n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memmove(void *d, const void *s, unsigned long n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	if (p < q)
		while (n--)
			*p++ = *q++;
	else
		while (n--)
			p[n] = q[n];
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n) { return memmove(d, s, n); }

static __attribute__((noreturn)) void quit(int code)
{
	for (;;)
		sys3(SYS_exit_group, code, 0, 0);
}

/* number parses the decimal number at *s, moving *s past it; 0 when there is none. */
static int number(const char **s, u64 *v)
{
	const char *p = *s;
	u64 n = 0;
	while (*p >= '0' && *p <= '9')
		n = n * 10 + (u64)(*p++ - '0');
	if (p == *s)
		return 0;
	*s = p;
	*v = n;
	return 1;
}

/* The members of the tree outside the job's group, as told. Beyond MAXKNOWN the rest are
 * still found through a stopped ancestor, as any descendant is. */
enum { MAXKNOWN = 4096 };
static struct { long pid; u64 start; } known[MAXKNOWN];
static int nknown;

/* The job's process group, once told; 0 before. */
static u64 pg;

/* line acts on one line of the supervisor's (without its newline). */
static void line(const char *l, const char *end)
{
	u64 pid, start;
	if (end - l == 4 && l[0] == 'd' && l[1] == 'o' && l[2] == 'n' && l[3] == 'e')
		quit(0);
	if (l == end)
		return;
	const char *p = l + 1;
	if (*l == '=' && !pg && number(&p, &pid) && p == end && pid >= 2) {
		pg = pid;
	} else if (*l == '+' && number(&p, &pid) && *p == ' ' && (p++, number(&p, &start)) && p == end) {
		if (nknown < MAXKNOWN) {
			known[nknown].pid = (long)pid;
			known[nknown].start = start;
			nknown++;
		}
	} else if (*l == '-' && number(&p, &pid) && p == end) {
		for (int i = 0; i < nknown;)
			if (known[i].pid == (long)pid)
				known[i] = known[--nknown];
			else
				i++;
	}
}

enum { MAXSTOPPED = 1 << 16 };
static long stopped[MAXSTOPPED];
static int nstopped;

static int wasStopped(long pid)
{
	for (int i = 0; i < nstopped; i++)
		if (stopped[i] == pid)
			return 1;
	return 0;
}

static int isKnown(long pid, u64 start)
{
	for (int i = 0; i < nknown; i++)
		if (known[i].pid == pid && known[i].start == start)
			return 1;
	return 0;
}

/* stat reads the state, parent, process group and start time of process name (a /proc
 * entry); 0 when it cannot (the process is gone). */
static int stat(const char *name, char *state, long *ppid, long *pgrp, u64 *start)
{
	static char path[64], buf[4096];
	char *w = path;
	for (const char *s = "/proc/"; *s;)
		*w++ = *s++;
	for (const char *s = name; *s && w < path + 40;)
		*w++ = *s++;
	for (const char *s = "/stat"; *s;)
		*w++ = *s++;
	*w = 0;
	long fd = sys3(SYS_openat, AT_FDCWD, (long)path, 0);
	if (fd < 0)
		return 0;
	long n = sys3(SYS_read, fd, (long)buf, sizeof buf - 1);
	sys3(SYS_close, fd, 0, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command name, in parentheses, may hold anything: fields start after the last ')'. */
	const char *p = 0;
	for (long i = 0; i < n; i++)
		if (buf[i] == ')')
			p = buf + i;
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	p += 2;
	*state = *p;
	u64 v[20];
	for (int f = 1; f < 20; f++) { /* fields 4 (ppid) to 22 (starttime) */
		while (*p && *p != ' ')
			p++;
		if (*p != ' ')
			return 0;
		p++;
		if (*p == '-') /* tty_pgrp may be -1 */
			p++;
		if (!number(&p, &v[f]))
			return 0;
	}
	*ppid = (long)v[1];
	*pgrp = (long)v[2];
	*start = v[19];
	return 1;
}

struct dirent64 {
	u64 ino;
	long off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* sweep stops every process of the tree not stopped yet; it reports whether it found one. */
static int sweep(long pg, long self)
{
	static char buf[16384];
	int found = 0;
	long fd = sys3(SYS_openat, AT_FDCWD, (long)"/proc", 0);
	if (fd < 0)
		return 0;
	for (;;) {
		long n = sys3(SYS_getdents64, fd, (long)buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->reclen;
			const char *p = d->name;
			u64 pid, start;
			long ppid, pgrp;
			char state;
			if (!number(&p, &pid) || *p || (long)pid == self || wasStopped((long)pid))
				continue;
			if (!stat(d->name, &state, &ppid, &pgrp, &start) || state == 'Z' || state == 'X')
				continue;
			if (pgrp == pg || isKnown((long)pid, start) || wasStopped(ppid)) {
				sys3(SYS_kill, (long)pid, SIGSTOP, 0);
				if (nstopped < MAXSTOPPED)
					stopped[nstopped++] = (long)pid;
				found = 1;
			}
		}
	}
	sys3(SYS_close, fd, 0, 0);
	return found;
}

void start(long *sp)
{
	if (sp[0] != 1) /* no argument: everything comes on the pipe */
		quit(2);
	/* Started from a memfd, it would be named after the descriptor: name it for ps. */
	sys3(SYS_prctl, PR_SET_NAME, (long)"golock-watchdog", 0);

	static char in[8192];
	long have = 0;
	for (;;) {
		long n = sys3(SYS_read, 0, (long)(in + have), (long)sizeof in - have);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break; /* the supervisor is gone */
		have += n;
		char *from = in, *end = in + have;
		for (char *q = from; q < end; q++)
			if (*q == '\n') {
				line(from, q);
				from = q + 1;
			}
		have = end - from;
		memmove(in, from, (unsigned long)have);
		if (have == (long)sizeof in)
			have = 0; /* no line is that long: drop it */
	}

	if (!pg)
		quit(0); /* no job started */
	long self = sys3(SYS_getpid, 0, 0, 0);
	for (int round = 0; round < 100 && sweep((long)pg, self); round++)
		;
	sys3(SYS_kill, -(long)pg, SIGKILL, 0);
	for (int i = 0; i < nstopped; i++)
		sys3(SYS_kill, stopped[i], SIGKILL, 0);
	quit(0);
}
