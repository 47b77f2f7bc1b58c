/*
 * Facts about the target the probe measures with: tracefs (tracepoint ids), perf tracepoint and
 * hardware counters per op, the RFC's /proc/fs/splice statistics, trace_marker. Each one that is
 * missing is said in a note of the hello line, with the reason.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_NOTES 8
#define TRACEFS "/sys/kernel/tracing"

const char *const tracepoints[NTRACEPOINTS] = TRACEPOINT_NAMES;
static const char *const optional_tracepoints[NOPTIONAL_TRACEPOINTS] = OPTIONAL_TRACEPOINT_NAMES;

int perf_ok, hw_ok, stats_ok, marker_ok;
/* Counters of TRACEPOINTS, then of OPTIONAL_TRACEPOINTS (-1 where the kernel has none). */
static int tp_fd[NALL_TRACEPOINTS];
static int hw_fd[2] = {-1, -1};
static int stats_fd = -1;
static int marker_fd = -1;
static char notes[MAX_NOTES][512];
static int nnotes;

void note(const char *fmt, ...)
{
	if (nnotes >= MAX_NOTES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(notes[nnotes++], sizeof notes[0], fmt, ap);
	va_end(ap);
}

/* The notes as the elements of a JSON list. */
void sb_notes(struct sbuf *b)
{
	for (int k = 0; k < nnotes; k++) {
		if (k)
			sb_printf(b, ",");
		sb_json_str(b, notes[k]);
	}
}

static long perf_open(struct perf_event_attr *a)
{
	return syscall(SYS_perf_event_open, a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/*
 * A fresh boot may not have tracefs mounted: as root, mount it at its standard place and say so.
 * It stays mounted there, as the target facts leave it.
 */
static const char *mount_tracefs(void)
{
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
		note("tracefs: not mounted, and mounting it at " TRACEFS " failed: %s", strerror(errno));
		return NULL;
	}
	note("tracefs: was not mounted; the probe mounted it at " TRACEFS " (mount -t tracefs nodev " TRACEFS ")");
	return access(TRACEFS "/events", R_OK | X_OK) == 0 ? TRACEFS : NULL;
}

/* The tracefs root whose events/ this user can read, or NULL (with a note saying why). */
static const char *tracefs_root(void)
{
	static const char *const roots[] = {TRACEFS, "/sys/kernel/debug/tracing"};
	char p[512];
	int denied = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/events", roots[i]);
		if (access(p, R_OK | X_OK) == 0)
			return roots[i];
		if (errno == EACCES)
			denied = 1;
	}
	if (!denied && geteuid() == 0 && access(TRACEFS, F_OK) == 0) {
		const char *root = mount_tracefs();
		if (root)
			return root;
	}
	if (denied)
		note("perf: tracefs events are not readable by this user (uid %d): tracepoint ids unknown, no per-op counts", (int)getuid());
	else
		note("perf: no tracefs events directory (is tracefs mounted at " TRACEFS "?): tracepoint ids unknown, no per-op counts");
	return NULL;
}

/* The tracepoint's id; a missing one is noted unless `optional` (a kernel without it is not a fault). */
static int read_tracepoint_id(const char *root, const char *tp, unsigned long long *id, int optional)
{
	char p[512];
	const char *colon = strchr(tp, ':');
	snprintf(p, sizeof p, "%s/events/%.*s/%s/id", root, (int)(colon - tp), tp, colon + 1);
	FILE *f = fopen(p, "r");
	int ok = f && fscanf(f, "%llu", id) == 1;
	int e = errno;
	if (f)
		fclose(f);
	if (!ok && !(optional && e == ENOENT))
		note("perf: cannot read %s: %s", p, strerror(e));
	return ok ? 0 : -1;
}

/* The name of counter i: TRACEPOINTS, then OPTIONAL_TRACEPOINTS. */
const char *tracepoint_name(int i)
{
	return i < NTRACEPOINTS ? tracepoints[i] : optional_tracepoints[i - NTRACEPOINTS];
}

/* Whether counter i counts: every one of TRACEPOINTS when perf works, an optional one where the kernel has it. */
int tracepoint_counted(int i)
{
	return perf_ok && tp_fd[i] >= 0;
}

static void note_perf_refused(const char *tp, int e)
{
	int par = -9;
	FILE *pf = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (pf) {
		if (fscanf(pf, "%d", &par) != 1)
			par = -9;
		fclose(pf);
	}
	note("perf: perf_event_open(%s) failed: %s (%s), perf_event_paranoid=%d", tp, strerror(e),
	     errno_name(e) ? errno_name(e) : "?", par);
}

/*
 * The fix kernel's splice:splice_steal / splice_copy (one event per page stolen or copied), each
 * where the kernel has it: their per-op counts sit beside the /proc/fs/splice deltas, counted for
 * this process tree alone (the file's counters are global).
 */
static void open_optional_tracepoints(const char *root)
{
	for (int i = NTRACEPOINTS; i < NALL_TRACEPOINTS; i++) {
		unsigned long long id;
		if (read_tracepoint_id(root, tracepoint_name(i), &id, 1))
			continue;
		struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof a, .config = id, .disabled = 1, .inherit = 1};
		long fd = perf_open(&a);
		if (fd < 0)
			note_perf_refused(tracepoint_name(i), errno);
		else
			tp_fd[i] = (int)fd;
	}
}

/* Opens one counter per tracepoint (inherited by forked children); all or none. */
static void open_tracepoints(const char *root)
{
	int opened = 0;
	for (int i = 0; i < NTRACEPOINTS; i++) {
		unsigned long long id;
		if (read_tracepoint_id(root, tracepoints[i], &id, 0))
			break;
		struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof a, .config = id, .disabled = 1, .inherit = 1};
		long fd = perf_open(&a);
		if (fd < 0) {
			note_perf_refused(tracepoints[i], errno);
			break;
		}
		tp_fd[i] = (int)fd;
		opened++;
	}
	if (opened == NTRACEPOINTS) {
		perf_ok = 1;
		open_optional_tracepoints(root);
		return;
	}
	for (int i = 0; i < NTRACEPOINTS; i++)
		if (tp_fd[i] >= 0) {
			close(tp_fd[i]);
			tp_fd[i] = -1;
		}
}

static void open_hw_counters(void)
{
	for (int i = 0; i < 2; i++) {
		struct perf_event_attr a = {
			.type = PERF_TYPE_HARDWARE,
			.size = sizeof a,
			.config = i ? PERF_COUNT_HW_INSTRUCTIONS : PERF_COUNT_HW_CPU_CYCLES,
			.disabled = 1,
			.inherit = 1,
		};
		long fd = perf_open(&a);
		if (fd < 0) {
			note("hw: no hardware counters (perf_event_open cycles/instructions: %s)", strerror(errno));
			if (hw_fd[0] >= 0)
				close(hw_fd[0]);
			hw_fd[0] = -1;
			return;
		}
		hw_fd[i] = (int)fd;
	}
	hw_ok = 1;
}

void setup_perf(void)
{
	for (int i = 0; i < NALL_TRACEPOINTS; i++)
		tp_fd[i] = -1;
	const char *root = tracefs_root();
	if (root)
		open_tracepoints(root);
	open_hw_counters();
}

/*
 * A batch (main.c) holds one counter per tracepoint for as long as it runs, never enabled: when a
 * tracepoint's last perf counter closes the kernel unregisters it and waits for RCU (~300 ms here,
 * most of a small program's life), and with these held its programs' own counters open and close
 * without that wait. Silent and best effort: each program's setup_perf says what is missing.
 */
void perf_pin(void)
{
	static int held[NALL_TRACEPOINTS];
	const char *root = access(TRACEFS "/events", R_OK | X_OK) == 0 ? TRACEFS
			   : access("/sys/kernel/debug/tracing/events", R_OK | X_OK) == 0 ? "/sys/kernel/debug/tracing"
											  : NULL;
	for (int i = 0; root && i < NALL_TRACEPOINTS; i++) {
		unsigned long long id;
		int keep = nnotes;
		int skip = held[i] || read_tracepoint_id(root, tracepoint_name(i), &id, 1);
		nnotes = keep;
		if (skip)
			continue;
		struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof a, .config = id, .disabled = 1};
		held[i] = perf_open(&a) >= 0;
	}
}

static uint64_t counter_read(int fd)
{
	uint64_t v = 0;
	if (fd >= 0 && read(fd, &v, sizeof v) != (ssize_t)sizeof v)
		v = 0;
	return v;
}

/*
 * Values at perf_start, subtracted at perf_stop: a read includes what forked children counted
 * before they exited (their inherited counters fold into the parent's child count), and
 * PERF_EVENT_IOC_RESET does not clear that part, so a reset alone would carry a child's events
 * into every later op.
 */
static uint64_t tp_base[NALL_TRACEPOINTS], hw_base[2];

/* Resets the counter and takes its value as the base; returns the base. */
static uint64_t counters_reset_enable(int fd)
{
	if (fd < 0)
		return 0;
	ioctl(fd, PERF_EVENT_IOC_RESET, 0);
	uint64_t base = counter_read(fd);
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	return base;
}

static uint64_t since(uint64_t v, uint64_t base)
{
	return v >= base ? v - base : 0;
}

void perf_start(void)
{
	for (int i = 0; i < NALL_TRACEPOINTS; i++)
		tp_base[i] = counters_reset_enable(tp_fd[i]);
	for (int i = 0; i < 2; i++)
		hw_base[i] = counters_reset_enable(hw_fd[i]);
}

/* Stops the counters and adds what they counted to c. */
void perf_stop(struct counters *c)
{
	for (int i = 0; i < 2; i++)
		if (hw_fd[i] >= 0)
			ioctl(hw_fd[i], PERF_EVENT_IOC_DISABLE, 0);
	for (int i = 0; i < NALL_TRACEPOINTS; i++)
		if (tp_fd[i] >= 0)
			ioctl(tp_fd[i], PERF_EVENT_IOC_DISABLE, 0);
	for (int i = 0; i < NALL_TRACEPOINTS; i++)
		c->tp[i] += since(counter_read(tp_fd[i]), tp_base[i]);
	c->cycles += since(counter_read(hw_fd[0]), hw_base[0]);
	c->instructions += since(counter_read(hw_fd[1]), hw_base[1]);
}

/* /proc/fs/splice (RFC patch 4): "filemap: copied=N moved=N / direct : copied=N / vmsplice: copied=N stole=N". */
int read_stats(int64_t out[5])
{
	char buf[512];
	if (stats_fd < 0 || lseek(stats_fd, 0, SEEK_SET) < 0)
		return -1;
	ssize_t n = read(stats_fd, buf, sizeof buf - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	long long a, b, c, d, e;
	const char *f = strstr(buf, "filemap"), *dd = strstr(buf, "direct"), *v = strstr(buf, "vmsplice");
	if (!f || !dd || !v || sscanf(f, "filemap: copied=%lld moved=%lld", &a, &b) != 2 ||
	    sscanf(dd, "direct : copied=%lld", &c) != 1 || sscanf(v, "vmsplice: copied=%lld stole=%lld", &d, &e) != 2)
		return -1;
	out[0] = a, out[1] = b, out[2] = c, out[3] = d, out[4] = e;
	return 0;
}

void setup_stats(const char *path)
{
	int64_t s[5];
	stats_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (stats_fd < 0) {
		note("stats: no %s (%s): a kernel without the RFC's statistics", path, strerror(errno));
	} else if (read_stats(s)) {
		note("stats: %s exists but its format is not the RFC's", path);
		close(stats_fd);
		stats_fd = -1;
	}
	stats_ok = stats_fd >= 0;
}

void setup_marker(const char *path)
{
	if (!path) {
		note("marker: no --marker given: ops are not bracketed in a trace");
		return;
	}
	marker_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (marker_fd < 0)
		note("marker: cannot open %s: %s", path, strerror(errno));
	marker_ok = marker_fd >= 0;
}

void marker(const char *phase, const char *path)
{
	if (marker_fd < 0)
		return;
	char m[128];
	int n = snprintf(m, sizeof m, "%s %s", phase, path);
	if (write(marker_fd, m, (size_t)n) < 0) {
		/* A full or closed trace buffer must not stop the probe. */
	}
}
