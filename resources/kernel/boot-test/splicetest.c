// SPDX-License-Identifier: GPL-2.0
/*
 * Boot test of the steal-or-copy series, run as the init's payload in a throwaway guest:
 *   splicetest POLICY STRESS_ITERATIONS FS:DIR...
 * POLICY is what the kernel was booted with (stock, steal-or-copy or copy); each FS:DIR a directory
 * on a filesystem with a backing store (e.g. ext4:/mnt/ext4), tmpfs too if wanted. Prints one "ok"/"FAIL" line per check
 * and "splicetest: N checks, M failed" at the end; exit status 1 when any failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
#define NPAGES 16
#define LEN (NPAGES * PG)

static const char *policy;
static int checks, failed;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failed++;
	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(2);
}

struct stats {
	unsigned fcopied, fmoved, dcopied, vcopied, vstole;
};

/* Parses /proc/fs/splice; returns 0 when the file has the RFC's exact three lines. */
static int read_stats(struct stats *s)
{
	char buf[512];
	int fd = open("/proc/fs/splice", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "filemap: copied=%u moved=%u\ndirect : copied=%u\nvmsplice: copied=%u stole=%u\n",
		   &s->fcopied, &s->fmoved, &s->dcopied, &s->vcopied, &s->vstole) != 5)
		return -1;
	return 0;
}

static struct stats delta(const struct stats *a)
{
	struct stats b, d;

	if (read_stats(&b))
		die("/proc/fs/splice");
	d.fcopied = b.fcopied - a->fcopied;
	d.fmoved = b.fmoved - a->fmoved;
	d.dcopied = b.dcopied - a->dcopied;
	d.vcopied = b.vcopied - a->vcopied;
	d.vstole = b.vstole - a->vstole;
	return d;
}

static void fill(char *p, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(seed + i * 7 + i / PG);
}

/* Reads len bytes from the pipe and returns how many differ from want. */
static size_t drain_diff(int rfd, const char *want, size_t len)
{
	static char got[LEN * 4];
	size_t have = 0, diff = 0;

	while (have < len) {
		ssize_t n = read(rfd, got + have, len - have);

		if (n <= 0)
			break;
		have += n;
	}
	if (have != len)
		return len;
	for (size_t i = 0; i < len; i++)
		diff += got[i] != want[i];
	return diff;
}

/* Turns the splice events on (clearing the trace) or off. */
static void trace_events(int on)
{
	int fd = open("/sys/kernel/tracing/events/splice/enable", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, on ? "1" : "0", 1) != 1)
			die("events/splice/enable");
		close(fd);
	}
	if (on) {
		fd = open("/sys/kernel/tracing/trace", O_WRONLY | O_TRUNC);
		if (fd >= 0)
			close(fd);
	}
}

/* "stolen:12 partial:4": how many events of each reason the trace holds. */
static const char *trace_reasons(void)
{
	static char out[512];
	char names[24][32], line[512];
	int counts[24] = { 0 }, n = 0;
	FILE *f = fopen("/sys/kernel/tracing/trace", "r");

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *r = strstr(line, "reason="), *end;
		int k;

		if (!r || (!strstr(line, "splice_steal:") && !strstr(line, "splice_copy:")))
			continue;
		r += 7;
		end = r + strcspn(r, " \n");
		*end = 0;
		for (k = 0; k < n && strcmp(names[k], r); k++)
			;
		if (k == n && n < 24)
			snprintf(names[n++], sizeof(names[0]), "%s", r);
		if (k < 24)
			counts[k]++;
	}
	if (f)
		fclose(f);
	for (int k = 0; k < n; k++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s:%d", k ? " " : "", names[k], counts[k]);
	return out[0] ? out : "none";
}

static int stock(void)
{
	return !strcmp(policy, "stock");
}

static void make_file(const char *path, const char *data, int sync)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	if (fd < 0 || write(fd, data, LEN) != LEN)
		die(path);
	if (sync && fsync(fd))
		die("fsync");
	close(fd);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd < 0 || write(fd, "3", 1) != 1)
		die("drop_caches");
	close(fd);
}

/*
 * splice a whole file into a pipe, overwrite the file with pwrite, drain: the pipe must hold the
 * original bytes unless the policy is stock. state: "cold" (dropped caches), "warm" (read once),
 * "dirty" (never written back), "mapped" (the file is mmapped).
 */
static void file_case(const char *dir, const char *fs, const char *state)
{
	static char orig[LEN], newer[LEN];
	char path[256];
	int p[2], fd;
	struct stats s0, d;
	void *map = NULL;
	loff_t off = 0;
	size_t diff;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/f-%s", dir, state);
	fill(orig, LEN, 1);
	fill(newer, LEN, 99);
	make_file(path, orig, strcmp(state, "dirty") != 0);
	if (!strcmp(state, "cold"))
		drop_caches();
	fd = open(path, O_RDWR);
	if (fd < 0)
		die(path);
	if (!strcmp(state, "warm")) {
		static char tmp[LEN];

		if (pread(fd, tmp, LEN, 0) != LEN)
			die("pread");
	}
	if (!strcmp(state, "mapped")) {
		map = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			die("mmap");
	}
	if (pipe(p))
		die("pipe");
	read_stats(&s0);
	trace_events(1);
	n = splice(fd, &off, p[1], NULL, LEN, 0);
	trace_events(0);
	if (n != LEN)
		die("splice");
	if (pwrite(fd, newer, LEN, 0) != LEN)
		die("pwrite");
	diff = drain_diff(p[0], orig, LEN);
	d = delta(&s0);
	if (stock())
		check(diff > 0, "%s file %s: stock pipe sees the later pwrite (%zu bytes changed)", fs, state, diff);
	else
		check(diff == 0, "%s file %s: pipe drains the original bytes (%zu changed)", fs, state, diff);
	if (!strcmp(policy, "copy"))
		check(d.fcopied == NPAGES && d.fmoved == 0, "%s file %s: copy policy copied=%u moved=%u [%s]", fs, state, d.fcopied, d.fmoved, trace_reasons());
	else if (!strcmp(policy, "steal-or-copy")) {
		/*
		 * ext4 gives order-0 folios and no private data once clean, tmpfs always copies: their
		 * outcomes are exact. xfs may build large folios, btrfs may keep private data.
		 */
		int exact = !strcmp(fs, "ext4") || !strcmp(fs, "tmpfs");
		int want_steal = strcmp(fs, "tmpfs") && (!strcmp(state, "cold") || !strcmp(state, "warm"));

		check(d.fcopied + d.fmoved == NPAGES && (!exact || (want_steal ? d.fmoved == NPAGES : d.fcopied == NPAGES)),
		      "%s file %s: steal-or-copy moved=%u copied=%u%s [%s]", fs, state, d.fmoved, d.fcopied,
		      exact ? (want_steal ? " (want all moved)" : " (want all copied)") : "", trace_reasons());
	} else
		check(d.fcopied + d.fmoved == 0, "%s file %s: stock counts nothing", fs, state);
	if (map)
		munmap(map, LEN);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* splice from a file opened O_DIRECT: the pipe's pages are filled by the read itself ("direct"). */
static void file_direct(const char *dir, const char *fs)
{
	static char orig[LEN];
	char path[256];
	struct stats s0, d;
	int p[2], fd;
	loff_t off = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/f-direct", dir);
	fill(orig, LEN, 9);
	make_file(path, orig, 1);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		check(errno == EINVAL, "%s file O_DIRECT: not supported (%s)", fs, strerror(errno));
		return;
	}
	if (pipe(p))
		die("pipe");
	read_stats(&s0);
	n = splice(fd, &off, p[1], NULL, LEN, 0);
	d = delta(&s0);
	check(n == LEN && drain_diff(p[0], orig, LEN) == 0, "%s file O_DIRECT: spliced %zd, drains the file", fs, n);
	check(stock() ? d.dcopied == 0 : d.dcopied == NPAGES,
	      "%s file O_DIRECT: direct copied=%u (filemap copied=%u moved=%u)", fs, d.dcopied, d.fcopied, d.fmoved);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* The same page-cache data read again after a steal: the file still reads back intact. */
static void file_reload(const char *dir, const char *fs)
{
	static char orig[LEN], back[LEN];
	char path[256];
	int p[2], fd;
	loff_t off = 0;

	snprintf(path, sizeof(path), "%s/f-reload", dir);
	fill(orig, LEN, 5);
	make_file(path, orig, 1);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pipe(p))
		die("reload");
	if (splice(fd, &off, p[1], NULL, LEN, 0) != LEN)
		die("splice");
	check(drain_diff(p[0], orig, LEN) == 0, "%s file reload: pipe drains the file", fs);
	check(pread(fd, back, LEN, 0) == LEN && !memcmp(back, orig, LEN), "%s file reload: the file reads back intact after its pages left for the pipe", fs);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* vmsplice a private buffer, write to the buffer, drain. */
static void vm_case(int gift, int shared)
{
	static char orig[LEN];
	char *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = { 0 };
	struct stats s0, d;
	int p[2], zero = 1;
	size_t diff;

	if (buf == MAP_FAILED || pipe(p))
		die("vm_case");
	fill(orig, LEN, 3);
	memcpy(buf, orig, LEN);
	iov.iov_base = buf;
	iov.iov_len = LEN;
	read_stats(&s0);
	trace_events(1);
	if (vmsplice(p[1], &iov, 1, gift ? SPLICE_F_GIFT : 0) != LEN)
		die("vmsplice");
	trace_events(0);
	d = delta(&s0);
	for (int i = 0; i < LEN; i++)
		zero &= buf[i] == 0;
	memset(buf, 0x5a, LEN);
	diff = drain_diff(p[0], orig, LEN);
	if (stock())
		check(diff > 0, "vmsplice gift=%d shared=%d: stock pipe sees the later store (%zu changed)", gift, shared, diff);
	else
		check(diff == 0, "vmsplice gift=%d shared=%d: pipe drains the original bytes (%zu changed)", gift, shared, diff);
	if (!strcmp(policy, "steal-or-copy") && gift && !shared)
		check(d.vstole == NPAGES && zero, "vmsplice gift private: stole=%u copied=%u, buffer reads zeros after: %d [%s]", d.vstole, d.vcopied, zero, trace_reasons());
	else if (!stock())
		check(d.vcopied == NPAGES && d.vstole == 0 && !zero, "vmsplice gift=%d shared=%d: copied=%u stole=%u [%s]", gift, shared, d.vcopied, d.vstole, trace_reasons());
	munmap(buf, LEN);
	close(p[0]);
	close(p[1]);
}

/*
 * Many vmsplice calls over buffers of every kind: private or shared, gifted or not, whole or
 * partial pages, forked while in flight, unmapped at once. Each drain is checked; the kernel must
 * not oops. Returns the number of pages stolen.
 */
static unsigned stress(long iterations)
{
	static char want[LEN];
	struct stats s0, d;
	unsigned seed = 12345;
	long bad = 0;

	read_stats(&s0);
	for (long it = 0; it < iterations; it++) {
		int shared, gift, forked, unmap, partial, p[2];
		size_t off, len;
		struct iovec iov;
		pid_t child = -1;
		char *buf;

		seed = seed * 1103515245 + 12345;
		shared = (seed >> 8) % 4 == 0;
		gift = (seed >> 10) % 4 != 0;
		forked = (seed >> 12) % 8 == 0;
		unmap = (seed >> 14) % 4 == 0;
		partial = (seed >> 16) % 8 == 0;
		buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED || pipe(p))
			die("stress");
		fill(buf, LEN, (int)it);
		off = partial ? 100 : 0;
		len = partial ? LEN - 300 : LEN;
		memcpy(want, buf + off, len);
		if (forked) {
			child = fork();
			if (child == 0) {
				/*
				 * The child writes to its copy-on-write view of a private
				 * buffer and exits; a shared buffer it leaves alone (the
				 * parent would see the store, racing with the vmsplice).
				 */
				if (!shared)
					buf[0] ^= 1;
				_exit(0);
			}
		}
		iov.iov_base = buf + off;
		iov.iov_len = len;
		if (vmsplice(p[1], &iov, 1, gift ? SPLICE_F_GIFT : 0) != (ssize_t)len)
			die("stress vmsplice");
		if (unmap)
			munmap(buf, LEN);
		else
			memset(buf, 0xa5, LEN);
		if (stock()) {
			drain_diff(p[0], want, len);
		} else if (drain_diff(p[0], want, len)) {
			if (bad++ < 5)
				printf("     iteration %ld changed: shared=%d gift=%d forked=%d unmap=%d partial=%d\n",
				       it, shared, gift, forked, unmap, partial);
		}
		if (child > 0)
			waitpid(child, NULL, 0);
		if (!unmap)
			munmap(buf, LEN);
		close(p[0]);
		close(p[1]);
	}
	d = delta(&s0);
	check(stock() || bad == 0, "stress: %ld iterations, %ld drains changed, stole=%u copied=%u", iterations, bad, d.vstole, d.vcopied);
	return d.vstole;
}

struct racer {
	char *buf;
	volatile int stop;
	unsigned seed;
};

/* Stores into, and drops pages of, a buffer that the main thread is vmsplicing. */
static void *race_thread(void *arg)
{
	struct racer *r = arg;

	while (!r->stop) {
		unsigned k;

		r->seed = r->seed * 1103515245 + 12345;
		k = (r->seed >> 8) % NPAGES;
		if ((r->seed >> 4) % 3 == 0)
			madvise(r->buf + k * PG, PG, MADV_DONTNEED);
		else
			r->buf[k * PG + (r->seed >> 16) % PG] = (char)r->seed;
	}
	return NULL;
}

/*
 * Gifted vmsplices of a buffer another thread keeps writing to and dropping pages of: the steal's
 * PTE check and its put-back path race with faults and zaps. What drains is unpredictable; the
 * kernel must not oops and every call must return its full length.
 */
static void race(long iterations)
{
	struct stats s0, d;
	long short_calls = 0;

	read_stats(&s0);
	for (long it = 0; it < iterations; it++) {
		struct racer r = { .seed = (unsigned)it };
		struct iovec iov;
		pthread_t t;
		int p[2];
		static char sink[LEN];
		ssize_t n;

		r.buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r.buf == MAP_FAILED || pipe(p))
			die("race");
		fill(r.buf, LEN, (int)it);
		pthread_create(&t, NULL, race_thread, &r);
		iov.iov_base = r.buf;
		iov.iov_len = LEN;
		n = vmsplice(p[1], &iov, 1, SPLICE_F_GIFT);
		if (n != LEN)
			short_calls++;
		for (ssize_t got = 0; n > 0 && got < n;) {
			ssize_t m = read(p[0], sink, sizeof(sink));

			if (m <= 0)
				break;
			got += m;
		}
		r.stop = 1;
		pthread_join(t, NULL);
		munmap(r.buf, LEN);
		close(p[0]);
		close(p[1]);
	}
	d = delta(&s0);
	check(short_calls == 0, "race: %ld gifted vmsplices against stores and MADV_DONTNEED, %ld short, stole=%u copied=%u",
	      iterations, short_calls, d.vstole, d.vcopied);
}

static void tracepoints(const char *dir)
{
	static char data[LEN];
	char line[512];
	int p[2], fd, tfd, steals = 0, copies = 0;
	loff_t off = 0;
	FILE *f;

	tfd = open("/sys/kernel/tracing/events/splice/enable", O_WRONLY);
	if (tfd < 0) {
		check(0, "tracepoints: no events/splice in tracefs");
		return;
	}
	close(tfd);
	fill(data, LEN, 7);
	snprintf(line, sizeof(line), "%s/f-trace", dir);
	make_file(line, data, 1);
	fd = open(line, O_RDONLY);
	if (fd < 0 || pipe(p))
		die("trace");
	trace_events(1);
	if (splice(fd, &off, p[1], NULL, LEN, 0) != LEN)
		die("splice");
	trace_events(0);
	drain_diff(p[0], data, LEN);
	f = fopen("/sys/kernel/tracing/trace", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, "splice_steal: src=filemap"))
			steals++;
		if (strstr(line, "splice_copy: src=filemap"))
			copies++;
		if ((steals + copies) == 1 && (strstr(line, "splice_steal:") || strstr(line, "splice_copy:")))
			printf("     %s", line);
	}
	if (f)
		fclose(f);
	if (stock())
		check(steals + copies == 0, "tracepoints: stock emits none");
	else
		check(steals + copies == NPAGES, "tracepoints: %d steals + %d copies for %d pages", steals, copies, NPAGES);
	close(fd);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	struct stats s;
	long iterations;

	if (argc < 4) {
		fprintf(stderr, "usage: splicetest POLICY STRESS_ITERATIONS FS:DIR...\n");
		return 2;
	}
	policy = argv[1];
	iterations = atol(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	check(read_stats(&s) == 0, "/proc/fs/splice has the RFC's three lines");
	for (int a = 3; a < argc; a++) {
		char fs[32], *dir = strchr(argv[a], ':');

		if (!dir || dir - argv[a] >= (long)sizeof(fs))
			die("FS:DIR");
		snprintf(fs, sizeof(fs), "%.*s", (int)(dir - argv[a]), argv[a]);
		dir++;
		file_case(dir, fs, "cold");
		file_case(dir, fs, "warm");
		file_case(dir, fs, "dirty");
		file_case(dir, fs, "mapped");
		file_reload(dir, fs);
		file_direct(dir, fs);
		if (a == 3)
			tracepoints(dir);
	}
	vm_case(1, 0);
	vm_case(0, 0);
	vm_case(1, 1);
	stress(iterations);
	race(iterations / 5);
	printf("splicetest: %d checks, %d failed\n", checks, failed);
	return failed ? 1 : 0;
}
