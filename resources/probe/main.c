/*
 * Splice Lab probe: runs one scenario's ops on a real kernel and reports, per op, what happened.
 * libc only, a few files (probe.h lists them); built with `cc -O2 -D_GNU_SOURCE *.c`; warning-free
 * with -Wall -Wextra; clean under ASan/UBSan (test/integration/probe.test.ts). Its TypeScript ends
 * are src/shared/probe/{program,output,markers,limits,header}.ts.
 *
 * USAGE
 *   probe --program FILE [--marker TRACE_MARKER] [--timeout-ms N] [--op-timeout-ms N] [--stats-file F] [--] DIR
 *   probe --batch FILE [--hold-ms N] [same options] [--] DIR    (many programs: BATCH below)
 *   probe --calibrate DIR
 *   probe --pattern fill:N|seq:N POS COUNT      (prints COUNT pattern bytes from POS, for the C/TS check)
 * DIR is the scratch directory: the probe creates its files there and removes them on every exit it
 * can see (normal end, error, SIGINT/SIGTERM/SIGHUP, timeout, stdout closed). SIGKILL leaves them:
 * the caller removes DIR. Children the probe forks die with it, SIGKILL included (PR_SET_PDEATHSIG). --timeout-ms bounds the whole run; --op-timeout-ms each op execution
 * (default 60000; a repeat re-arms it per iteration). --stats-file replaces /proc/fs/splice (tests).
 *
 * PROGRAM (written by compileProgram, src/shared/probe/program.ts). One item per line, tokens split
 * by spaces, `key=value` arguments, numbers in decimal bytes; '#' lines and blank lines are ignored.
 *   splicelab-program 1                      first line, the format version
 *   runs N                                   execute the whole scenario N times (fresh files each run)
 *   file I size=B pattern=fill:N|seq:N layout=one_write|per_page state=synced|dirty cached=0|1
 *   buffer I size=B kind=private|shared offset=B pattern=…
 *   pipe I size=B
 *   op PATH KIND args…                       a leaf op; PATH is reported verbatim ("ops[3]")
 *   repeat PATH times=N body=K               followed by its K body ops ("op ops[3].body[0] …")
 *   race PATH ops=2                          followed by its 2 ops ("op ops[3].ops[0] …"), run at once
 *   end                                      last line (a program without it is refused: truncated upload)
 * Leaf op arguments, by KIND:
 *   splice src=file:I:OFF|pipe:I:0 dst=pipe:I:0|file:I:OFF len=B
 *   vmsplice buffer=I offset=B len=B pipe=I gift=0|1
 *   tee from=I to=I len=B
 *   pwrite|write_other_process|odirect_write|mmap_store file=I offset=B len=B pattern=P
 *   punch_hole|fadvise_dontneed file=I offset=B len=B          zero_range file=I offset=B len=B keep_size=0|1
 *   mmap file=I fault=none|read          fsync file=I          munmap file=I | buffer=I          truncate file=I size=B
 *   buf_store buffer=I offset=B len=B pattern=P                madvise_dontneed buffer=I offset=B len=B
 *   fork store=child|parent buffer=I|file=I offset=B len=B pattern=P
 *   drain pipe=I len=B|all          close pipe=I end=read|write
 * Each kind's required and optional arguments are its row of op_kinds[] (ops.c); any other is refused.
 * Pattern bytes are taken at the absolute position in the file, or in the buffer (0 = its first byte).
 *
 * OUTPUT: one JSON line per item on stdout, flushed at once; shapes in src/shared/probe/output.ts
 * (hello, op, calibration, error, done). Diagnostics that are not JSON go to stderr.
 *
 * EXIT CODES (PROBE_EXIT in src/shared/vocabulary.ts, enum probe_exit in vocabulary.h): 0 every op
 * ran (an op's error is its outcome, not a failure); 2 bad command line or program; 3 setup failed
 * (scratch dir, file, buffer or pipe); 4 an op timed out; 5 internal failure (e.g. out of memory:
 * one error line, files removed); 128+N stopped by signal N.
 *
 * STOPPING: SIGINT, SIGTERM or SIGHUP (and stdout closing: SIGPIPE) ask the probe to stop. The op
 * under way finishes (a call blocked in the kernel returns EINTR; a forked child is killed; a repeat
 * stops after its current iteration) and its line is printed, so every op that ran has its line;
 * then the files are removed, an error line {"code":"signal"} says after how many op lines, and the
 * done line carries "signal":"SIGTERM" and exit 128+N (143 for SIGTERM, 130 for SIGINT).
 *
 * BATCH: FILE holds programs one after another, each ending at its `end` line. They run in order,
 * each in a process forked for it that does exactly what `--program` would (hello … done; its own
 * perf counters, files, buffers, pipes and children, all released when it ends) in DIR/s<I>, made for
 * it and removed after it with whatever it left. Each program's lines are bracketed by
 *   {"type":"begin","index":I}   …   {"type":"end","index":I,"exit":N}
 * where N is its exit status as a shell reports it (128+S when killed by signal S: a crash loses only
 * that program). --timeout-ms applies to each program; one still alive 5 s after it is killed. A stop
 * signal is passed on to the program under way, no program starts after it, and the batch exits
 * 128+S after that program's end line; otherwise it exits 0 (2: unreadable FILE). The batch holds one
 * perf counter per tracepoint while it runs, and with --hold-ms a detached process of its own keeps
 * them N ms after it exits (run_batch says why).
 *
 * TRACEFS: tracepoint ids come from <tracefs>/events/<sys>/<name>/id. When tracefs is not mounted
 * and the probe runs as root, it mounts it at /sys/kernel/tracing and says so in hello's notes
 * ("tracefs: was not mounted; …"); it stays mounted (its standard place, as the target facts do).
 *
 * SEMANTICS (the model predicts against these). The probe keeps a shadow of every file and buffer
 * (from the patterns and its own writes, stores, punches, truncates; copy-on-write for a private
 * buffer stored into by a forked child), and snapshots the source range whenever it puts data into a
 * pipe (splice file->pipe, vmsplice; tee duplicates the snapshot; a pipe is a FIFO of snapshotted
 * segments). A drain compares every byte read with its snapshot: changed ranges are relative to the
 * drain's output, merged, sorted, capped at MAX_RANGES with changedBytes exact; holds = zero (all 0),
 * current (equal to what the source's shadow holds now at that position), other. A splice pipe->file
 * reads back what it wrote (pread) into the file's shadow.
 * A store (mmap_store, buf_store, fork) returns 0 when done (as mmap, munmap, fork do); one that
 * faults reports errno "SIGBUS"/"SIGSEGV" (ret -1); a store
 * into a buffer or file that is not mapped is not attempted (the address may have been reused):
 * ret -1, errno ENXIO. A repeat reports each body op once (aggregated: iterations, ns and counts
 * summed, a histogram of distinct outcomes, `outcome` = the first that differed from the first
 * iteration's, else the first); the repeat itself has no line of its own (results.ts). A repeat cut
 * short by the time limit or a signal reports the iterations it ran.
 * `ns` is the time spent in the op's own system calls / stores, not in the probe's bookkeeping.
 * Each run of `runs N` starts from fresh files, buffers and pipes; op lines carry "run":I.
 * A race runs its first op in the probe and its second (punch_hole, zero_range or pwrite: the kinds
 * whose op_kinds[] row has a `shadow`) in a child forked for it, released together by a barrier in
 * shared memory, one of them held back by 0–40 µs that vary from run to run (run.c). The first op's
 * snapshots are of the shadows as they were when the race began; the second op's effect on them is
 * applied when both have ended. Each op has its own line (the race has none); the tracepoint counts
 * of the race's window, both tasks together, are on the first op's line.
 */
#include "probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct options {
	const char *program, *batch, *marker, *calibrate, *stats, *dir;
	uint64_t timeout_ms, hold_ms;
	const char *pattern[3];	/* --pattern SPEC POS COUNT */
};

static void usage(const char *why)
{
	emit_error("usage", NULL, "%s; usage: probe --program FILE|--batch FILE [--hold-ms N] [--marker PATH] [--timeout-ms N] [--op-timeout-ms N] [--] DIR | probe --calibrate DIR | probe --pattern fill:N|seq:N POS COUNT", why);
}

/* --timeout-ms, --op-timeout-ms or --hold-ms N: 0, or -1 after a usage line. */
static int time_option(const char *name, const char *val, struct options *o)
{
	int64_t v;
	if (parse_int(val, &v) || v < 1) {
		char why[128];
		snprintf(why, sizeof why, "%s needs a positive number of milliseconds", name);
		usage(why);
		return -1;
	}
	if (!strcmp(name, "--timeout-ms"))
		o->timeout_ms = (uint64_t)v;
	else if (!strcmp(name, "--hold-ms"))
		o->hold_ms = (uint64_t)v;
	else
		op_limit_ns = (uint64_t)v * 1000000ull;
	return 0;
}

/* One option with its value (argv[i + 1]); 0, or -1 after a usage line. */
static int option(const char *name, const char *val, struct options *o)
{
	if (!strcmp(name, "--program"))
		o->program = val;
	else if (!strcmp(name, "--batch"))
		o->batch = val;
	else if (!strcmp(name, "--marker"))
		o->marker = val;
	else if (!strcmp(name, "--stats-file"))
		o->stats = val;
	else if (!strcmp(name, "--calibrate"))
		o->calibrate = val;
	else if (!strcmp(name, "--timeout-ms") || !strcmp(name, "--op-timeout-ms") || !strcmp(name, "--hold-ms"))
		return time_option(name, val, o);
	else
		return 1;
	return 0;
}

/* The command line; 0, or -1 after a usage line. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--pattern") && i + 3 < argc) {
			memcpy(o->pattern, &argv[i + 1], sizeof o->pattern);
			return 0;
		}
		if (a[0] != '-')
			break;
		int r = i + 1 < argc ? option(a, argv[i + 1], o) : 1;
		if (r < 0)
			return -1;
		if (r > 0) {
			char why[256];
			snprintf(why, sizeof why, "unknown or incomplete option %s", a);
			usage(why);
			return -1;
		}
		i++;
	}
	if (o->calibrate)
		return 0;
	if (i != argc - 1 || !o->program == !o->batch) {
		usage(!o->program == !o->batch ? "one of --program FILE and --batch FILE is required" : "exactly one scratch directory expected");
		return -1;
	}
	o->dir = argv[i];
	return 0;
}

/* --pattern SPEC POS COUNT: the pattern's bytes, for the test that holds C and TypeScript to one function. */
static int print_pattern(const char *const spec[3])
{
	struct pattern p;
	int64_t pos, count;
	if (parse_pattern(spec[0], &p) || parse_int(spec[1], &pos) || parse_int(spec[2], &count)) {
		usage("--pattern needs fill:N|seq:N POS COUNT");
		return EXIT_USAGE;
	}
	for (int64_t k = 0; k < count; k++)
		printf("%u%c", pattern_byte(&p, (uint64_t)(pos + k)), k + 1 < count ? ' ' : '\n');
	return EXIT_OK;
}

static char *read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap + 1);
	while (s) {
		if (n == cap) {
			char *t = realloc(s, cap * 2 + 1);
			if (!t) {
				free(s);
				s = NULL;
				break;
			}
			s = t;
			cap *= 2;
		}
		ssize_t r = read(fd, s + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (s)
		s[n] = 0;
	return s;
}

/* Parses the program text `text` read from `from`; 0, or the exit code after an error line. */
static int load_program(char *text, const char *from)
{
	if (parse_program(text)) {
		emit_error("program", NULL, "bad program %s: %s", from, parse_error());
		return EXIT_USAGE;
	}
	return 0;
}

static void print_hello(void)
{
	struct sbuf b = {0};
	sb_printf(&b,
		  "{\"type\":\"hello\",\"protocol\":%d,\"pid\":%d,\"pageSize\":%ld,\"facts\":{\"spliceStats\":%s,\"perf\":%s,"
		  "\"traceMarker\":%s,\"hw\":%s,\"notes\":[",
		  PROBE_PROTOCOL, (int)probe_pid, page_size, stats_ok ? "true" : "false", perf_ok ? "true" : "false",
		  marker_ok ? "true" : "false", hw_ok ? "true" : "false");
	sb_notes(&b);
	sb_printf(&b, "]}}");
	emit(&b);
	free(b.s);
}

static void print_done(int code)
{
	struct sbuf b = {0};
	sb_printf(&b, "{\"type\":\"done\",\"ops\":%d,\"exit\":%d", ops_reported, code);
	if (code > 128)
		sb_printf(&b, ",\"signal\":\"%s\"", signal_name(code - 128));
	sb_printf(&b, "}");
	emit(&b);
	free(b.s);
}

/* The runs of the program, each on fresh files; the exit code. */
static int run_program(void)
{
	int code = 0;
	for (run_index = 0; run_index < prog.runs && !code; run_index++) {
		if (setup_run()) {
			teardown_run();
			return EXIT_SETUP;
		}
		code = run_ops();
		teardown_run();
		if (!code && stop_signal)
			code = 128 + stop_signal;
	}
	if (code > 128)
		emit_error("signal", NULL, "stopped by %s after %d op lines; files removed", signal_name(code - 128), ops_reported);
	return code;
}

/*
 * A caller may start us with 0, 1 or 2 closed (CI gives no standard input): the next open() would
 * then take that number, and a pipe or scratch file on fd 1 would receive our JSON lines, or one on
 * fd 0 would be skipped by the `fd > 0` checks of teardown. /dev/null fills the gaps first.
 */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			(void)open("/dev/null", fd ? O_WRONLY : O_RDONLY); /* lowest free number: this very fd */
}

/*
 * The program parsed into `prog`, run as its own probe would: facts, hello, the runs on fresh files
 * in `dir`, done. Returns the exit code.
 */
static int run_loaded(const struct options *o, const char *dir)
{
	scratch_dir = dir;
	setup_perf();
	setup_stats(o->stats);
	setup_marker(o->marker);
	print_hello();
	struct stat st;
	if (stat(scratch_dir, &st) || !S_ISDIR(st.st_mode)) {
		emit_error("scratch", NULL, "the scratch directory %s is not a directory: %s", scratch_dir, errno ? strerror(errno) : "not a directory");
		print_done(EXIT_SETUP);
		return EXIT_SETUP;
	}
	if (alloc_aggs()) {
		emit_error("internal", NULL, "out of memory");
		return EXIT_INTERNAL;
	}
	if (o->timeout_ms)
		deadline_ns = now_ns() + o->timeout_ms * 1000000ull;
	int code = run_program();
	print_done(code);
	free_aggs();
	bounce_free();
	return code;
}

/* ---- batches: many programs, one probe ---- */

/* How long past --timeout-ms a program's process may take before the batch kills it. */
#define BATCH_GRACE_MS 5000

/*
 * The next program of a batch, from *pos up to its `end` line (cut off after it, in place; the next
 * program starts on the following line), or all that is left when no `end` line comes (the
 * program's parser then refuses it as truncated). NULL when only blank lines are left.
 */
static char *next_program(char **pos)
{
	char *s = *pos + strspn(*pos, "\r\n");
	if (!*s)
		return NULL;
	for (char *line = s;;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 3 && !memcmp(line, "end", 3)) {
			*pos = nl ? nl + 1 : line + 3;
			if (nl)
				*nl = 0;
			return s;
		}
		if (!nl) {
			*pos = line + strlen(line);
			return s;
		}
		line = nl + 1;
	}
}

/* Removes what a program left in its directory (nothing, unless its process was killed), then the directory. */
static void remove_program_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/*
 * Waits for a program's process. A stop signal reaches it from on_stop (stop_forward); at the time
 * limit plus a grace (a process stuck where its own timers cannot end it) it is killed. Returns
 * the wait status, or -1.
 */
static int wait_program(pid_t pid, uint64_t timeout_ms)
{
	if (timeout_ms) {
		uint64_t ms = timeout_ms + BATCH_GRACE_MS;
		struct itimerval it = {{0, 0}, {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	int st = -1;
	for (;;) {
		pid_t r = waitpid(pid, &st, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR) {
			if (timed_out) {
				emit_error("timeout", NULL, "the program's process did not end within its time limit (+%d ms); killed", BATCH_GRACE_MS);
				kill(pid, SIGKILL);
				timed_out = 0;
			}
			continue;
		}
		st = -1;
		break;
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	timed_out = 0;
	return st;
}

static void print_begin(int index)
{
	struct sbuf b = {0};
	sb_printf(&b, "{\"type\":\"begin\",\"index\":%d}", index);
	emit(&b);
	free(b.s);
}

/* The program's end: its exit status as a shell gives it (128+N for a process killed by signal N). */
static void print_end(int index, int exit)
{
	struct sbuf b = {0};
	sb_printf(&b, "{\"type\":\"end\",\"index\":%d,\"exit\":%d}", index, exit);
	emit(&b);
	free(b.s);
}

/* A perf event's fd (perf_pin's), by what /proc says it is. */
static int is_perf_fd(int fd)
{
	char p[64], target[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, target, sizeof target - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	return !strcmp(target, "anon_inode:[perf_event]");
}

/*
 * --hold-ms: the batch's tracepoint counters outlive it by `ms` in a process of their own, so that
 * the next batch (explore runs them one after another, and a shrink many small ones) opens its own
 * while these are still held, and neither waits for the kernel's unregistering (perf_pin). The
 * holder keeps nothing else: stdio on /dev/null (the caller sees our end when we exit), its own
 * session (a stop of our process group is not its), no directory of a scratch mount, default
 * signals; it ends by itself.
 */
static void hold_counters(uint64_t ms)
{
	fflush(stdout);
	if (fork() != 0)
		return;
	setsid();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (chdir("/")) {
		/* "/" is always there */
	}
	/* Closed first: without /dev/null they stay closed, never our caller's pipe (its end would wait for us). */
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	if (open("/dev/null", O_RDWR) == 0) {
		dup2(0, 1);
		dup2(0, 2);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			int fd = atoi(e->d_name);
			if (fd > 2 && fd != dirfd(d) && !is_perf_fd(fd))
				close(fd);
		}
		closedir(d);
	}
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) && errno == EINTR) {
	}
	_exit(0);
}

/*
 * The programs of a batch file, in order, each in a process forked for it: the process is the
 * probe a `--program` run would be (its own counters, files, buffers, pipes and children, all gone
 * with it), in DIR/s<I>; a program that crashes takes only itself down. What makes this faster
 * than a probe per program is perf_pin: a tracepoint's last perf counter, when it closes, makes the
 * kernel wait for RCU (~300 ms here, most of a small program's life); held open here, the
 * programs' counters open and close without that wait. Exit: 0, or 128+N after a stop signal (no
 * program starts after it), 2 for an unreadable batch file, 5 when no process can be forked.
 */
static int run_batch(const struct options *o)
{
	char *text = read_file(o->batch);
	if (!text) {
		emit_error("program", NULL, "cannot read the batch %s: %s", o->batch, strerror(errno));
		return EXIT_USAGE;
	}
	char *pos = text, *program, from[4200], dir[4200];
	int code = 0, i;
	for (i = 0; !stop_signal && (program = next_program(&pos)); i++) {
		snprintf(from, sizeof from, "%s (program %d)", o->batch, i);
		snprintf(dir, sizeof dir, "%s/s%d", o->dir, i);
		if (mkdir(dir, 0755) && errno != EEXIST) {
			/* The program's own setup says why it cannot use the directory. */
		}
		perf_pin();
		print_begin(i);
		/* Parsed here, so that its process reads `prog` from pages it shares with us, not copies. */
		int bad = load_program(program, from);
		if (bad) {
			print_end(i, bad);
			remove_program_dir(dir);
			continue;
		}
		fflush(stdout);
		pid_t parent = getpid(), pid = fork();
		if (pid == 0) {
			probe_pid = getpid();
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(EXIT_INTERNAL);
			int c = run_loaded(o, dir);
			free(text);
			fflush(stdout);
			exit(c);
		}
		if (pid < 0) {
			emit_error("internal", NULL, "fork for program %d: %s", i, strerror(errno));
			print_end(i, EXIT_INTERNAL);
			code = EXIT_INTERNAL;
			break;
		}
		stop_forward = pid;
		if (stop_signal)
			kill(pid, stop_signal); /* came before stop_forward was set */
		int st = wait_program(pid, o->timeout_ms);
		stop_forward = 0;
		print_end(i, st < 0 ? EXIT_INTERNAL : WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : EXIT_INTERNAL);
		remove_program_dir(dir);
	}
	free(text);
	if (o->hold_ms && i > 0 && !stop_signal)
		hold_counters(o->hold_ms);
	return stop_signal ? 128 + stop_signal : code;
}

int main(int argc, char **argv)
{
	struct options o = {.stats = "/proc/fs/splice"};
	ensure_std_fds();
	page_size = sysconf(_SC_PAGESIZE);
	probe_pid = getpid();
	if (parse_args(argc, argv, &o))
		return EXIT_USAGE;
	if (o.pattern[0])
		return print_pattern(o.pattern);
	install_signals();
	if (o.calibrate)
		return calibrate(o.calibrate);
	if (o.batch)
		return run_batch(&o);
	char *text = read_file(o.program);
	if (!text) {
		emit_error("program", NULL, "cannot read the program %s: %s", o.program, strerror(errno));
		return EXIT_USAGE;
	}
	int code = load_program(text, o.program);
	free(text);
	return code ? code : run_loaded(&o, o.dir);
}
