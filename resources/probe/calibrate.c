/*
 * Calibration: the unit costs of results.ts UnitCosts, measured on the target.
 *
 * Each page-cache cost is measured CAL_ROUNDS times and the median is reported: single passes on a
 * small VM varied by 5-10x from run to run (outlier rounds 5-10x slower, at random), the median of
 * 7 rounds is steady run to run. The spread (min..max) goes into the notes so a reader can judge it.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CAL_ROUNDS 7
#define FILE_BYTES ((size_t)16 << 20)
#define COPY_BYTES ((size_t)64 << 20)
#define CHUNK ((size_t)1 << 20)
#define TMPFS_MAGIC 0x01021994ul

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v and returns its median (v[n/2] of the sorted values). */
static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

struct cal_round {
	double steal, reload, share, fault;
};

/*
 * Steal ~ removing a clean page from the page cache; reload ~ bringing it back with its content.
 * Disk-backed: POSIX_FADV_DONTNEED of a synced cached file (invalidate_mapping_pages), then reading
 * it back. tmpfs cannot drop a page (shmem has no backing store to reload from), so there removal
 * is a hole punch (shmem_truncate_range) and reload a pwrite filling the hole again.
 */
static int measure_steal_reload(int fd, int is_tmpfs, uint8_t *a, uint8_t *b, struct cal_round *out)
{
	const double pages = (double)(FILE_BYTES / (size_t)page_size);
	uint64_t t0 = now_ns();
	int r = is_tmpfs ? fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)FILE_BYTES)
			 : posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	out->steal = (double)(now_ns() - t0) / pages;
	if (r) {
		if (!is_tmpfs)
			errno = r;
		return -1;
	}
	t0 = now_ns();
	for (size_t off = 0; off < FILE_BYTES; off += CHUNK)
		if ((is_tmpfs ? pwrite(fd, a, CHUNK, (off_t)off) : pread(fd, b, CHUNK, (off_t)off)) < 0)
			return -1;
	out->reload = (double)(now_ns() - t0) / pages;
	return 0;
}

/* Share: splice cached pages into a pipe (16 pages per call, a default pipe), drained untimed. */
static int measure_share(int fd, uint8_t *b, struct cal_round *out)
{
	const size_t step = 16 * (size_t)page_size;
	int p[2];
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, (int)step);
	uint64_t share_ns = 0, shared_pages = 0;
	for (size_t off = 0; off < FILE_BYTES; off += step) {
		loff_t o = (loff_t)off;
		uint64_t t0 = now_ns();
		ssize_t n = splice(fd, &o, p[1], NULL, step, SPLICE_F_NONBLOCK);
		share_ns += now_ns() - t0;
		if (n <= 0)
			break;
		shared_pages += ((size_t)n + (size_t)page_size - 1) / (size_t)page_size;
		while (read(p[0], b, step) > 0)
			;
	}
	close(p[0]);
	close(p[1]);
	if (!shared_pages) {
		errno = EIO;
		return -1;
	}
	out->share = (double)share_ns / (double)shared_pages;
	return 0;
}

/* Minor fault: first touch of each page of a fresh shared mapping of the cached file. */
static int measure_fault(int fd, struct cal_round *out)
{
	uint8_t *m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	/* MADV_RANDOM turns fault-around off: one fault per page, not one per 16 pages. */
	madvise(m, FILE_BYTES, MADV_RANDOM);
	volatile uint8_t sink = 0;
	uint64_t t0 = now_ns();
	for (size_t off = 0; off < FILE_BYTES; off += (size_t)page_size)
		sink += m[off];
	out->fault = (double)(now_ns() - t0) / (double)(FILE_BYTES / (size_t)page_size);
	(void)sink;
	munmap(m, FILE_BYTES);
	return 0;
}

/* One round of the page-cache measurements on `fd` (FILE_BYTES, fully cached and clean on entry). */
static int calibrate_round(int fd, int is_tmpfs, uint8_t *a, uint8_t *b, struct cal_round *out)
{
	if (measure_steal_reload(fd, is_tmpfs, a, b, out) || measure_share(fd, b, out))
		return -1;
	return measure_fault(fd, out);
}

/* Copy bandwidth in bytes/ns: best of 5 memcpy passes (the kernel's copy of a page is the same kind of loop). */
static double copy_bandwidth(uint8_t *a, uint8_t *b)
{
	double best = 1e30;
	memset(a, 0x5a, COPY_BYTES);
	memset(b, 0, COPY_BYTES);
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = now_ns();
		memcpy(b, a, COPY_BYTES);
		uint64_t t = now_ns() - t0;
		__asm__ volatile("" ::"r"(b) : "memory");
		if (t < best)
			best = (double)t;
	}
	return (double)COPY_BYTES / best;
}

struct cal_result {
	double copy;
	double v[4][CAL_ROUNDS];	/* steal, reload, share, fault per round, sorted by median_of */
	double med[4];
	int is_tmpfs;
};

static void print_calibration(const struct cal_result *c)
{
	char method[400], spread[320];
	struct sbuf out = {0};
	sb_printf(&out,
		  "{\"type\":\"calibration\",\"costs\":{\"copyBytesPerNs\":%.3f,\"reloadNsPerPage\":%.1f,\"stealNsPerPage\":%.1f,"
		  "\"shareNsPerPage\":%.1f,\"minorFaultNs\":%.1f},\"notes\":[",
		  c->copy, c->med[1], c->med[0], c->med[2], c->med[3]);
	snprintf(method, sizeof method,
		 "copy: best of 5 memcpy passes of 64 MiB; the others: median of %d rounds over a 16 MiB file, per page - "
		 "steal: removing the synced file from the page cache; reload: bringing it back; share: splice of cached pages "
		 "(16 per call); fault: first read touch of a shared mapping (MADV_RANDOM, no fault-around)",
		 CAL_ROUNDS);
	sb_json_str(&out, method);
	snprintf(spread, sizeof spread,
		 "spread over the rounds (min..max ns/page): steal %.0f..%.0f, reload %.0f..%.0f, share %.0f..%.0f, fault %.0f..%.0f",
		 c->v[0][0], c->v[0][CAL_ROUNDS - 1], c->v[1][0], c->v[1][CAL_ROUNDS - 1], c->v[2][0], c->v[2][CAL_ROUNDS - 1],
		 c->v[3][0], c->v[3][CAL_ROUNDS - 1]);
	sb_printf(&out, ",");
	sb_json_str(&out, spread);
	if (c->is_tmpfs) {
		sb_printf(&out, ",");
		sb_json_str(&out, "tmpfs: pages cannot be dropped; steal measured as hole-punch removal, reload as a pwrite refilling the pages");
	}
	sb_printf(&out, "]}");
	emit(&out);
	free(out.s);
}

/* The page-cache rounds on a fresh synced file; NULL, or what failed. */
static const char *measure_page_cache(int fd, uint8_t *a, uint8_t *b, struct cal_result *c)
{
	for (size_t off = 0; off < FILE_BYTES; off += CHUNK)
		if (pwrite(fd, a, CHUNK, (off_t)off) < 0)
			return "writing the calibration file";
	if (fsync(fd))
		return "writing the calibration file";
	struct statfs sfs;
	c->is_tmpfs = !fstatfs(fd, &sfs) && (unsigned long)sfs.f_type == TMPFS_MAGIC;
	for (int i = 0; i < CAL_ROUNDS; i++) {
		struct cal_round cr;
		if (calibrate_round(fd, c->is_tmpfs, a, b, &cr))
			return "a page-cache round (fadvise/punch, reload, splice or mmap)";
		c->v[0][i] = cr.steal, c->v[1][i] = cr.reload, c->v[2][i] = cr.share, c->v[3][i] = cr.fault;
	}
	for (int k = 0; k < 4; k++) {
		c->med[k] = median_of(c->v[k], CAL_ROUNDS);
		/* A floor keeps every cost positive on a machine where a step was too fast to see. */
		if (c->med[k] < 1)
			c->med[k] = 1;
	}
	return NULL;
}

int calibrate(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/splicelab-calibrate-%d", dir, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		emit_error("scratch", NULL, "cannot create files in %s: %s (%s)", dir, strerror(e), errno_name(e) ? errno_name(e) : "?");
		return EXIT_SETUP;
	}
	uint8_t *a = malloc(COPY_BYTES), *b = malloc(COPY_BYTES);
	struct cal_result c = {0};
	const char *failed = "allocating the copy buffers";
	if (a && b) {
		c.copy = copy_bandwidth(a, b);
		failed = measure_page_cache(fd, a, b, &c);
	}
	if (failed)
		emit_error("internal", NULL, "calibration failed while %s: %s", failed, strerror(errno));
	else
		print_calibration(&c);
	free(a);
	free(b);
	close(fd);
	unlink(path);
	return failed ? EXIT_INTERNAL : EXIT_OK;
}
