/*
 * One run of the program: fresh files, buffers and pipes (setup_run), the ops executed in order
 * with their markers, counters and time limits (run_ops), and everything removed (teardown_run).
 * Also the process-wide machinery the ops rely on: signals, timers, stores that may fault.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *scratch_dir;
long page_size;
pid_t probe_pid;
int run_index;
volatile sig_atomic_t stop_signal;
volatile sig_atomic_t stop_forward;
volatile sig_atomic_t timed_out;
uint64_t op_ns;
uint64_t deadline_ns;					  /* whole run (--timeout-ms), 0 none */
uint64_t op_limit_ns = DEFAULT_OP_TIMEOUT_MS * 1000000ull; /* per op execution (--op-timeout-ms) */

static sigjmp_buf guard_jmp;
static volatile sig_atomic_t guard_on;
static uint8_t *bounce;
static size_t bounce_cap;
static int files_created;
static struct agg *aggs;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- signals ---- */

static void on_stop(int sig)
{
	stop_signal = sig;
	if (stop_forward > 0)
		kill((pid_t)stop_forward, sig);
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void on_fault(int sig)
{
	if (guard_on) {
		guard_on = 0;
		siglongjmp(guard_jmp, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * SIGINT, SIGTERM and SIGHUP ask the probe to stop: the op under way finishes (a call blocked in the
 * kernel returns EINTR: no SA_RESTART), its line is printed, the files are removed, and the probe
 * exits 128 + N after an error line and a done line that name the signal.
 */
void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Copies into memory that may fault (a truncated mapping, an unmapped buffer): 0, or
 * ERR_SIGBUS/ERR_SIGSEGV. One page at a time, forward, so that a fault leaves exactly the pages
 * before the faulting one stored (memcpy may store a range's tail before its head); *stored says
 * how many bytes that is, when given.
 */
int guarded_copy(uint8_t *dst, const uint8_t *src, size_t n, size_t *stored)
{
	volatile size_t done = 0;
	int sig = sigsetjmp(guard_jmp, 1);
	if (stored)
		*stored = done;
	if (sig) {
		guard_on = 0;
		return sig == SIGBUS ? ERR_SIGBUS : ERR_SIGSEGV;
	}
	guard_on = 1;
	while (done < n) {
		size_t room = (size_t)page_size - ((uintptr_t)(dst + done) & ((uintptr_t)page_size - 1));
		size_t k = n - done < room ? n - done : room;
		memcpy(dst + done, src + done, k);
		done += k;
	}
	guard_on = 0;
	if (stored)
		*stored = done;
	return 0;
}

/* Reads one byte every `step` bytes of [p, p+n) (read faults): 0, or ERR_SIGBUS/ERR_SIGSEGV. */
int guarded_touch(const uint8_t *p, size_t n, size_t step)
{
	volatile uint8_t sink = 0;
	int sig = sigsetjmp(guard_jmp, 1);
	if (sig) {
		guard_on = 0;
		return sig == SIGBUS ? ERR_SIGBUS : ERR_SIGSEGV;
	}
	guard_on = 1;
	for (size_t off = 0; off < n; off += step)
		sink += p[off];
	guard_on = 0;
	(void)sink;
	return 0;
}

/* ---- time limits and children ---- */

static void arm_timer(void)
{
	uint64_t limit = op_limit_ns;
	if (deadline_ns) {
		uint64_t t = now_ns();
		uint64_t left = deadline_ns > t ? deadline_ns - t : 1000000;
		if (left < limit)
			limit = left;
	}
	struct itimerval it = {{0, 0}, {(time_t)(limit / 1000000000ull), (suseconds_t)((limit % 1000000000ull) / 1000)}};
	if (!it.it_value.tv_sec && !it.it_value.tv_usec)
		it.it_value.tv_usec = 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm_timer(void)
{
	struct itimerval it = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * Waits for a child. At the time limit it is killed (the op reports ETIMEDOUT); a stop request lets
 * it finish its op (a store, a write), as the probe finishes the op under way.
 * Returns the wait status or -1.
 */
int wait_child(pid_t pid)
{
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, 0);
		if (r == pid)
			return st;
		if (r < 0 && errno == EINTR) {
			if (timed_out)
				kill(pid, SIGKILL);
			continue;
		}
		return -1;
	}
}

/*
 * A forked child dies with the probe, however the probe ends (SIGKILL included): the parent-death
 * signal, and a check that the parent did not die before it was set. A stop signal sent to the
 * whole process group (Ctrl-C) is ignored: the child finishes its op and exits, as the probe does.
 */
void fork_child_init(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_INTERNAL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

/* ---- memory ---- */

uint8_t *bounce_get(size_t n)
{
	/* Never NULL, even for 0 bytes: memcpy/memset of 0 bytes from NULL is still undefined. */
	if (n > bounce_cap || !bounce) {
		free(bounce);
		bounce_cap = n < 65536 ? 65536 : n;
		bounce = malloc(bounce_cap);
		if (!bounce)
			out_of_memory("bounce buffer");
	}
	return bounce;
}

void bounce_free(void)
{
	free(bounce);
	bounce = NULL;
	bounce_cap = 0;
}

/*
 * Out of memory (a scenario whose files, buffers or pipes do not fit this machine's memory): one
 * error line written without allocating, the run's files removed, exit 5. A forked child just exits.
 */
void out_of_memory(const char *what)
{
	if (getpid() != probe_pid)
		_exit(EXIT_INTERNAL);
	static char line[256];
	int n = snprintf(line, sizeof line, "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"out of memory (%s)\"}\n", what);
	fflush(stdout);
	if (write(STDOUT_FILENO, line, (size_t)n) < 0) {
		/* nobody to tell */
	}
	for (int i = 0; i < files_created; i++)
		if (files[i].path[0])
			unlink(files[i].path);
	_exit(EXIT_INTERNAL);
}

int alloc_aggs(void)
{
	aggs = calloc(MAX_OPS, sizeof *aggs);
	return aggs ? 0 : -1;
}

void free_aggs(void)
{
	free(aggs);
	aggs = NULL;
}

/* ---- setup and teardown ---- */

static int write_all(int fd, const uint8_t *d, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, d + done, n - done);
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static int write_per_page(int fd, const uint8_t *d, size_t n)
{
	for (size_t off = 0; off < n; off += (size_t)page_size) {
		size_t m = n - off < (size_t)page_size ? n - off : (size_t)page_size;
		if (pwrite(fd, d + off, m, (off_t)off) != (ssize_t)m)
			return -1;
	}
	return 0;
}

/* The file's initial content, then its page-cache state: synced (fsync), uncached (fadvise). */
static int fill_file(const struct file_spec *fs, struct file_rt *f)
{
	size_t n = (size_t)fs->size;
	shadow_resize(&f->sh, n);
	pattern_fill(&fs->pat, 0, f->sh.d, n);
	/* One write() of the whole file: the folio sizes follow its length (docs/stock-rules.md §1). */
	errno = 0;
	if (n && (fs->one_write ? write_all(f->fd, f->sh.d, n) : write_per_page(f->fd, f->sh.d, n))) {
		emit_error("setup", NULL, "writing %s: %s", f->path, errno ? strerror(errno) : "short write");
		return -1;
	}
	if ((fs->synced || !fs->cached) && fsync(f->fd)) {
		emit_error("setup", NULL, "fsync %s: %s", f->path, strerror(errno));
		return -1;
	}
	int e = fs->cached ? 0 : posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (e) {
		emit_error("setup", NULL, "posix_fadvise(DONTNEED) %s: %s", f->path, strerror(e));
		return -1;
	}
	return 0;
}

static int setup_file(int i)
{
	struct file_rt *f = &files[i];
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s/splicelab-%d-r%d-f%d", scratch_dir, (int)probe_pid, run_index, i);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		int e = errno;
		f->path[0] = 0;
		emit_error("scratch", NULL, "cannot create files in the scratch directory %s: %s (%s)", scratch_dir, strerror(e),
			   errno_name(e) ? errno_name(e) : "?");
		return -1;
	}
	files_created = i + 1;
	return fill_file(&prog.files[i], f);
}

static int setup_buffer(int i)
{
	const struct buf_spec *bs = &prog.bufs[i];
	struct buf_rt *b = &bufs[i];
	memset(b, 0, sizeof *b);
	size_t need = (size_t)(bs->offset + bs->size);
	b->region_len = (need + (size_t)page_size - 1) / (size_t)page_size * (size_t)page_size;
	int flags = (bs->shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
	void *m = mmap(NULL, b->region_len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (m == MAP_FAILED) {
		emit_error("setup", NULL, "mmap of buffer %d (%zu bytes): %s", i, b->region_len, strerror(errno));
		return -1;
	}
	b->region = m;
	b->mapped = 1;
	b->addr = b->region + bs->offset;
	shadow_resize(&b->sh, (size_t)bs->size);
	pattern_fill(&bs->pat, 0, b->sh.d, (size_t)bs->size);
	memcpy(b->addr, b->sh.d, (size_t)bs->size);
	return 0;
}

static int setup_pipe(int i)
{
	struct pipe_rt *p = &pipes[i];
	int fds[2];
	memset(p, 0, sizeof *p);
	p->r = p->w = -1;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
		emit_error("setup", NULL, "pipe2: %s", strerror(errno));
		return -1;
	}
	p->r = fds[0];
	p->w = fds[1];
	if (fcntl(p->w, F_SETPIPE_SZ, (int)prog.pipes[i]) < 0) {
		emit_error("setup", NULL, "F_SETPIPE_SZ %" PRId64 " on pipe %d: %s (see /proc/sys/fs/pipe-max-size)", prog.pipes[i], i,
			   strerror(errno));
		return -1;
	}
	return 0;
}

int setup_run(void)
{
	for (int i = 0; i < prog.nfiles; i++)
		if (setup_file(i))
			return -1;
	for (int i = 0; i < prog.nbufs; i++)
		if (setup_buffer(i))
			return -1;
	for (int i = 0; i < prog.npipes; i++)
		if (setup_pipe(i))
			return -1;
	return 0;
}

void teardown_run(void)
{
	for (int i = 0; i < prog.npipes; i++) {
		struct pipe_rt *p = &pipes[i];
		/* > 0: a pipe never set up is all zeros, and fd 0 is never one of ours (ensure_std_fds). */
		if (p->r > 0)
			close(p->r);
		if (p->w > 0)
			close(p->w);
		while (p->n)
			seg_pop(p);
		free(p->q);
		memset(p, 0, sizeof *p);
	}
	for (int i = 0; i < prog.nbufs; i++) {
		struct buf_rt *b = &bufs[i];
		if (b->mapped && b->region)
			munmap(b->region, b->region_len);
		free(b->sh.d);
		memset(b, 0, sizeof *b);
	}
	for (int i = 0; i < files_created; i++) {
		struct file_rt *f = &files[i];
		if (f->map)
			munmap(f->map, f->map_len);
		if (f->fd > 0)
			close(f->fd);
		if (f->path[0] && getpid() == probe_pid)
			unlink(f->path);
		free(f->sh.d);
		memset(f, 0, sizeof *f);
	}
	files_created = 0;
}

/* ---- executing ops ---- */

/* One execution of a leaf op with its markers, counters and stats, added to `a`. */
static void exec_leaf(const struct op *op, struct agg *a)
{
	struct outcome o;
	int64_t s0[5], s1[5];
	int st = stats_ok && !read_stats(s0);
	marker(MARKER_BEGIN, op->path);
	op_ns = 0;
	perf_start();
	memset(&o, 0, sizeof o);
	errno = 0;
	op_kinds[op->kind].run(op, &o);
	perf_stop(&a->c);
	marker(MARKER_END, op->path);
	/* The time limit interrupted this op: report it as such (a drain reports what it read). */
	if (timed_out && o.err == EINTR && !o.has_drain) {
		o.ret = -1;
		o.err = ETIMEDOUT;
	}
	if (st && !read_stats(s1)) {
		a->c.have_stats = 1;
		for (int i = 0; i < 5; i++)
			a->c.stats[i] += s1[i] - s0[i];
	}
	a->ns += op_ns;
	agg_add(a, &o);
}

static void run_leaf_op(const struct op *op)
{
	memset(&aggs[0], 0, sizeof aggs[0]);
	arm_timer();
	exec_leaf(op, &aggs[0]);
	disarm_timer();
	report(op, &aggs[0], 0);
}

/* A repeat: its body ops `times` times (each execution under its own time limit), one line per body op. */
static void run_repeat(const struct op *rep)
{
	const struct op *body = rep + 1;
	int nb = rep->body;
	memset(aggs, 0, sizeof *aggs * (size_t)nb);
	for (int64_t it = 0; it < rep->times && !timed_out && !stop_signal; it++) {
		arm_timer();
		for (int j = 0; j < nb; j++)
			exec_leaf(&body[j], &aggs[j]);
	}
	disarm_timer();
	for (int j = 0; j < nb; j++)
		report(&body[j], &aggs[j], 1);
}

/* What a race's child reports back, in memory shared with it; the barrier's two flags. */
struct race_shm {
	int ready, go;
	uint64_t delay_ns;	/* the child waits this long after the barrier */
	int64_t ret;
	int err;
	uint64_t ns;
};

/* Waits `ns` without sleeping, yielding the CPU (on a busy machine the other task may need this one). */
static void spin_ns(uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	while (ns && now_ns() < end)
		sched_yield();
}

/*
 * How far apart a race's two ops start in run `run` of the program: from the second op 40 µs
 * before the first to 40 µs after, in 2 µs steps that vary from run to run (the stride of litmus
 * tools), so that each order has its chance whatever the two ops cost on this machine. > 0: the
 * child waits; < 0: the probe does.
 */
static int64_t race_skew_ns(int run)
{
	return ((int64_t)(((unsigned)run * 7919u) % 41u) - 20) * 2000;
}

/* The race's child: waits at the barrier, runs the second op, reports, exits (its shadows are its own). */
static void race_child(const struct op *op, struct race_shm *sh)
{
	fork_child_init(probe_pid);
	__atomic_store_n(&sh->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		sched_yield();
	spin_ns(sh->delay_ns);
	struct outcome o;
	memset(&o, 0, sizeof o);
	op_ns = 0;
	errno = 0;
	op_kinds[op->kind].run(op, &o);
	sh->ret = o.ret;
	sh->err = o.err;
	sh->ns = op_ns;
	_exit(0);
}

/*
 * A race: its first op runs here while its second runs in a child forked for it (another task for
 * the kernel, as docs/stock-rules/race.c), both released by one barrier. The first op's pipe
 * snapshots come from the shadows as they were when the race began (the child's changes to its
 * shadows stay in the child); the second op's effect on them is applied after both ended
 * (op_kind.shadow). The counters of the window count both tasks (the child inherits them) and are
 * reported with the first op; the second op's line has its own time and outcome.
 */
static void run_race(const struct op *race)
{
	static struct race_shm *sh;
	const struct op *a = race + 1, *b = race + 2;
	struct outcome oa, ob;
	memset(aggs, 0, sizeof *aggs * 2);
	memset(&oa, 0, sizeof oa);
	memset(&ob, 0, sizeof ob);
	if (!sh && (sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		sh = NULL;
	if (!sh) {
		oa.ret = ob.ret = -1;
		oa.err = ob.err = errno;
		goto out;
	}
	memset(sh, 0, sizeof *sh);
	int64_t skew = race_skew_ns(run_index);
	sh->delay_ns = skew > 0 ? (uint64_t)skew : 0;
	sh->ret = -1;
	sh->err = ECHILD;
	arm_timer();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		race_child(b, sh);
	if (pid < 0) {
		oa.ret = ob.ret = -1;
		oa.err = ob.err = errno;
		disarm_timer();
		goto out;
	}
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) && !timed_out)
		sched_yield();
	int64_t s0[5], s1[5];
	int st = stats_ok && !read_stats(s0);
	marker(MARKER_BEGIN, a->path);
	marker(MARKER_BEGIN, b->path);
	op_ns = 0;
	perf_start();
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	spin_ns(skew < 0 ? (uint64_t)-skew : 0);
	errno = 0;
	op_kinds[a->kind].run(a, &oa);
	int ws = wait_child(pid);
	perf_stop(&aggs[0].c);
	marker(MARKER_END, a->path);
	marker(MARKER_END, b->path);
	disarm_timer();
	if (timed_out && oa.err == EINTR && !oa.has_drain) {
		oa.ret = -1;
		oa.err = ETIMEDOUT;
	}
	if (st && !read_stats(s1)) {
		aggs[0].c.have_stats = 1;
		for (int i = 0; i < 5; i++)
			aggs[0].c.stats[i] = s1[i] - s0[i];
	}
	aggs[0].ns = op_ns;
	aggs[1].ns = sh->ns;
	if (ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
		ob.ret = sh->ret;
		ob.err = sh->ret < 0 ? sh->err : 0;
		op_kinds[b->kind].shadow(b, &ob);
	} else {
		ob.ret = -1;
		ob.err = timed_out ? ETIMEDOUT : ECHILD;
	}
out:
	agg_add(&aggs[0], &oa);
	agg_add(&aggs[1], &ob);
	report(a, &aggs[0], 0);
	report(b, &aggs[1], 0);
}

/* Runs the program's ops once. Returns 0, or the exit code to stop with. */
int run_ops(void)
{
	for (int i = 0; i < prog.nops; i++) {
		const struct op *op = &prog.ops[i];
		if (op->depth)
			continue;
		if (stop_signal)
			return 128 + stop_signal;
		if (op->kind == repeat_kind)
			run_repeat(op);
		else if (op->kind == race_kind)
			run_race(op);
		else
			run_leaf_op(op);
		if (timed_out) {
			emit_error("timeout", op->path, "%s did not finish within its time limit; the probe stopped", op->path);
			return EXIT_TIMEOUT;
		}
	}
	return stop_signal ? 128 + stop_signal : 0;
}
