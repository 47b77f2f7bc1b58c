/*
 * Kernel experiments for the scenario inputs that depend on mount/mkfs options and on the newer
 * ops: O_DIRECT under btrfs nodatasum, partial-block zeroing with ext4 1 KiB blocks, zero_range
 * with and without FALLOC_FL_KEEP_SIZE past the end of file, and an mmap that read-faults its pages.
 *
 *   gcc -O2 -Wall -o /tmp/inputs docs/stock-rules/inputs.c
 *   /tmp/inputs <scratch dir on the filesystem under test> [experiment-name-substring]
 *
 * One line per experiment: name, bytes drained, bytes changed (against what the pipe got), the
 * page-cache additions/deletions of this process during the splice, the mutation and the drain
 * (perf tracepoint PMU), and extra facts (file size, which pages are cached: mincore).
 * Run by docs/stock-rules/run-inputs.sh on tmpfs, ext4 (4 KiB and 1 KiB blocks), xfs and btrfs
 * (with and without nodatasum).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/perf_event.h>

#define PG 4096
#define die(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", strerror(errno)); exit(2); } while (0)

static const char *dir, *filter;
static int tp_fd[2] = {-1, -1};

static void tp_open(void) {
	const char *names[2] = {"mm_filemap_add_to_page_cache", "mm_filemap_delete_from_page_cache"};
	for (int i = 0; i < 2; i++) {
		char path[256], buf[32] = "";
		snprintf(path, sizeof path, "/sys/kernel/tracing/events/filemap/%s/id", names[i]);
		FILE *f = fopen(path, "r");
		if (!f || !fgets(buf, sizeof buf, f)) { if (f) fclose(f); continue; }
		fclose(f);
		struct perf_event_attr a = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof a, .config = atoll(buf), .sample_period = 1 };
		tp_fd[i] = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	}
}

/* "+adds -deletes" since the last call */
static const char *tp_step(void) {
	static long long last[2];
	static char out[8][32];
	static int k;
	long long v[2];
	for (int i = 0; i < 2; i++) { v[i] = 0; if (tp_fd[i] >= 0 && read(tp_fd[i], &v[i], 8) != 8) v[i] = -1; }
	k = (k + 1) % 8;
	snprintf(out[k], sizeof out[k], "+%lld -%lld", v[0] - last[0], v[1] - last[1]);
	last[0] = v[0]; last[1] = v[1];
	return out[k];
}

static uint8_t pat(long pos) {
	long p = pos % 255, page = (pos / 4096) % 255;
	return (uint8_t)(((p * 31 + 97 + page * 7) % 255) + 1);
}

/* A file of `size` bytes of pat(), one pwrite per page, fsync'd; dropped from the page cache when !cached. */
static int mkfile(const char *name, long size, int cached) {
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) die("open %s", path);
	uint8_t b[PG];
	for (long o = 0; o < size; o += PG) {
		long n = size - o < PG ? size - o : PG;
		for (long i = 0; i < n; i++) b[i] = pat(o + i);
		if (pwrite(fd, b, n, o) != n) die("pwrite");
	}
	fsync(fd);
	if (!cached) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return fd;
}

/* Which of the first `pages` pages are in the page cache: "1101". */
static const char *cached(int fd, long pages) {
	static char out[64];
	void *m = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char v[64] = {0};
	if (m == MAP_FAILED || mincore(m, pages * PG, v)) die("mincore");
	for (long i = 0; i < pages; i++) out[i] = (v[i] & 1) ? '1' : '0';
	out[pages] = 0;
	munmap(m, pages * PG);
	return out;
}

static long fsize(int fd) { struct stat st; fstat(fd, &st); return st.st_size; }

struct pipe { int r, w; };
static struct pipe mkpipe(void) {
	int fds[2];
	if (pipe2(fds, O_NONBLOCK)) die("pipe");
	return (struct pipe){ fds[0], fds[1] };
}

/* splice [off, off+len) of fd into p; returns the bytes */
static long splice_in(int fd, long off, long len, struct pipe p) {
	loff_t o = off;
	long n = splice(fd, &o, p.w, NULL, len, SPLICE_F_NONBLOCK);
	if (n < 0) die("splice");
	return n;
}

/* Drains p and counts bytes that differ from pat() at file offsets starting at `off` (zeros: "zero"). */
static void drain(const char *name, struct pipe p, long off, const char *splice_tp, const char *mut_tp, const char *extra) {
	static uint8_t buf[64 * PG];
	long n = read(p.r, buf, sizeof buf);
	const char *drain_tp = tp_step();
	if (n < 0) n = 0;
	long changed = 0, zero = 0;
	for (long i = 0; i < n; i++) if (buf[i] != pat(off + i)) { changed++; if (!buf[i]) zero++; }
	printf("%-30s read=%ld changed=%ld (zero %ld)  [splice %s, mutation %s, drain %s]  %s\n", name, n, changed, zero, splice_tp, mut_tp, drain_tp, extra ? extra : "");
	fflush(stdout);
	close(p.r); close(p.w);
}

#define EXP(nm) if (!filter || strstr(nm, filter))

/* O_DIRECT write of `len` bytes at 0 over a spliced page 0 of a 4-page file; then splice page 0 again. */
static void odirect(const char *name, long len) {
	int fd = mkfile("f", 4 * PG, 1);
	struct pipe p = mkpipe();
	tp_step();
	splice_in(fd, 0, PG, p);
	const char *st = tp_step();
	char path[512];
	snprintf(path, sizeof path, "%s/f", dir);
	int dfd = open(path, O_RDWR | O_DIRECT);
	void *b;
	if (posix_memalign(&b, PG, PG)) die("memalign");
	memset(b, 0x44, PG);
	long w = pwrite(dfd, b, len, 0);
	const char *mt = tp_step();
	char extra[128];
	snprintf(extra, sizeof extra, "write=%ld%s cached-after=%s", w, w < 0 ? strerror(errno) : "", cached(fd, 4));
	drain(name, p, 0, st, mt, extra);
	/* the page-cache additions of splicing page 0 again (0: the page stayed cached) */
	struct pipe q = mkpipe();
	tp_step();
	splice_in(fd, 0, PG, q);
	printf("%-30s   next splice of page 0: %s\n", name, tp_step());
	close(q.r); close(q.w);
	free(b); close(dfd); close(fd);
}

/* fallocate punch/zero over [a, b) of an uncached 2-page file: which pages does it read in? */
static void edge(const char *name, int mode, long a, long b) {
	int fd = mkfile("f", 2 * PG, 0);
	tp_step();
	int r = fallocate(fd, mode, a, b - a);
	char extra[128];
	snprintf(extra, sizeof extra, "fallocate=%s cached-after=%s", r ? strerror(errno) : "ok", cached(fd, 2));
	const char *mt = tp_step();
	/* mincore counts only uptodate pages: a page read in by block (ext4) shows as absent, so the
	 * page-cache additions of the next splice of each page say whether it stayed in the cache */
	struct pipe p = mkpipe();
	splice_in(fd, 0, PG, p);
	const char *s0 = tp_step();
	splice_in(fd, PG, PG, p);
	printf("%-30s [mutation %s]  %s  next splice page 0: %s, page 1: %s\n", name, mt, extra, s0, tp_step());
	close(p.r); close(p.w);
	close(fd);
}

/* truncate an uncached 2-page file to `size`: is the page holding the new end read in? */
static void truncate_edge(const char *name, long size) {
	int fd = mkfile("f", 2 * PG, 0);
	tp_step();
	int r = ftruncate(fd, size);
	const char *mt = tp_step();
	struct pipe p = mkpipe();
	splice_in(fd, 0, PG, p);
	printf("%-30s [mutation %s]  truncate=%s  next splice page 0: %s\n", name, mt, r ? strerror(errno) : "ok", tp_step());
	close(p.r); close(p.w);
	close(fd);
}

/* splice page 0 (cached), punch [a, b) in place, drain */
static void punch_spliced(const char *name, long a, long b) {
	int fd = mkfile("f", 2 * PG, 1);
	struct pipe p = mkpipe();
	tp_step();
	splice_in(fd, 0, PG, p);
	const char *st = tp_step();
	int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, b - a);
	const char *mt = tp_step();
	drain(name, p, 0, st, mt, r ? strerror(errno) : "");
	close(fd);
}

/* 2 pages + 100 bytes; splice page 2 (100 bytes); zero_range [2p+50, 4p) with or without KEEP_SIZE */
static void zero_past_eof(const char *name, int keep) {
	int fd = mkfile("f", 2 * PG + 100, 1);
	struct pipe p = mkpipe();
	tp_step();
	splice_in(fd, 2 * PG, PG, p);
	const char *st = tp_step();
	int r = fallocate(fd, FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0), 2 * PG + 50, 2 * PG - 50);
	const char *mt = tp_step();
	char extra[128];
	snprintf(extra, sizeof extra, "fallocate=%s size-after=%ld cached-after=%s", r ? strerror(errno) : "ok", fsize(fd), cached(fd, 4));
	drain(name, p, 2 * PG, st, mt, extra);
	close(fd);
}

/* an uncached 4-page file mapped shared and read once per page; then fadvise DONTNEED; then splice */
static void read_fault(const char *name, int fadvise) {
	int fd = mkfile("f", 4 * PG, 0);
	volatile uint8_t *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) die("mmap");
	tp_step();
	long sum = 0;
	for (int i = 0; i < 4; i++) sum += m[i * PG];
	const char *ft = tp_step();
	char extra[160];
	snprintf(extra, sizeof extra, "faults %s cached-after-faults=%s", ft, cached(fd, 4));
	if (fadvise) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	const char *fa = tp_step();
	struct pipe p = mkpipe();
	splice_in(fd, 0, 2 * PG, p);
	const char *st = tp_step();
	snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " fadvise %s (sum %ld)", fa, sum & 1);
	drain(name, p, 0, st, "-", extra);
	munmap((void *)m, 4 * PG);
	close(fd);
}

int main(int argc, char **argv) {
	if (argc < 2) { fprintf(stderr, "usage: %s <dir> [filter]\n", argv[0]); return 2; }
	dir = argv[1];
	filter = argc > 2 && argv[2][0] ? argv[2] : NULL;
	tp_open();
	EXP("odirect-4k") odirect("odirect-4k", PG);
	EXP("odirect-512") odirect("odirect-512", 512);
	EXP("punch-edge-1000-2048") edge("punch-edge-1000-2048", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 2048);
	EXP("punch-edge-1024-2048") edge("punch-edge-1024-2048", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1024, 2048);
	EXP("punch-edge-1024-3072") edge("punch-edge-1024-3072", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1024, 3072);
	EXP("zero-edge-1024-2048") edge("zero-edge-1024-2048", FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 1024, 2048);
	EXP("zero-edge-1000-2048") edge("zero-edge-1000-2048", FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 1000, 2048);
	EXP("truncate-edge-1000") truncate_edge("truncate-edge-1000", 1000);
	EXP("truncate-edge-1024") truncate_edge("truncate-edge-1024", 1024);
	EXP("punch-spliced-1024-2048") punch_spliced("punch-spliced-1024-2048", 1024, 2048);
	EXP("punch-spliced-1000-3000") punch_spliced("punch-spliced-1000-3000", 1000, 3000);
	EXP("zero-past-eof") zero_past_eof("zero-past-eof", 0);
	EXP("zero-past-eof-keep") zero_past_eof("zero-past-eof-keep", 1);
	EXP("read-fault") read_fault("read-fault", 0);
	EXP("read-fault-fadvise") read_fault("read-fault-fadvise", 1);
	return 0;
}
