/*
 * Kernel experiments behind docs/stock-rules.md: small, self-checking workloads that show what a
 * pipe reader sees after the source of spliced / vmspliced data is changed in various ways.
 *
 *   gcc -O2 -Wall -o /tmp/stockexp docs/stock-rules/experiments.c
 *   /tmp/stockexp <scratch dir on the filesystem under test> [experiment-name-substring]
 *
 * Each experiment prints one line:
 *   <name> read=<bytes drained> changed=<bytes> [<start>-<end>:<zero|current|other> ...] [note]
 * Offsets are relative to the drain's output. "current" = the byte equals what the source
 * (file/buffer) holds now according to our own shadow of our writes; "zero" = 0; "other" = neither.
 * Run by docs/stock-rules/run.sh on tmpfs, ext4, xfs and btrfs loop devices.
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
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

#define PG 4096
#define MAXB (64 * PG)

static const char *dir;

/*
 * Page-cache tracepoint counts of this process (perf tracepoint PMU): additions and deletions,
 * snapshotted after the file is created (t0), after the last splice/vmsplice (t1) and before the
 * drain (t2), so each line shows what the splice and what the mutation did to the page cache.
 */
static int tp_fd[2] = {-1, -1};
static long long t0[2], t1[2];

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
static void tp_read(long long v[2]) {
	for (int i = 0; i < 2; i++) { v[i] = 0; if (tp_fd[i] >= 0 && read(tp_fd[i], &v[i], 8) != 8) v[i] = -1; }
}

static uint8_t pat(int seq, long pos) {
	long p = pos % 255, page = (pos / 4096) % 255;
	return (uint8_t)(((p * 31 + seq * 97 + page * 7) % 255) + 1);
}

#define die(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", strerror(errno)); exit(2); } while (0)

/* ---- sources with shadows ---- */
struct src { int fd; uint8_t *shadow; long size; uint8_t *map; };

static struct src mkfile(const char *name, long size, int per_page, int synced, int cached) {
	struct src s = {0};
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
	s.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (s.fd < 0) die("open %s", path);
	s.shadow = malloc(size + MAXB);
	memset(s.shadow, 0, size + MAXB);
	s.size = size;
	for (long i = 0; i < size; i++) s.shadow[i] = pat(1, i);
	if (per_page) {
		for (long o = 0; o < size; o += PG) {
			long n = size - o < PG ? size - o : PG;
			if (pwrite(s.fd, s.shadow + o, n, o) != n) die("pwrite");
		}
	} else if (write(s.fd, s.shadow, size) != size) die("write");
	if (synced || !cached) fsync(s.fd);
	if (!cached) posix_fadvise(s.fd, 0, 0, POSIX_FADV_DONTNEED);
	tp_read(t0);
	return s;
}

static void fwrite_at(struct src *s, long off, long len, uint8_t fill) {
	uint8_t b[MAXB];
	memset(b, fill, len);
	if (pwrite(s->fd, b, len, off) != len) die("pwrite");
	memset(s->shadow + off, fill, len);
	if (off + len > s->size) s->size = off + len;
}

/* ---- the pipe with what each byte held when it went in ---- */
struct pipe { int r, w; uint8_t orig[MAXB]; uint8_t *srcshadow[MAXB]; long srcpos[MAXB]; long head, tail; };

static void mkpipe(struct pipe *p, int pages) {
	int fds[2];
	if (pipe2(fds, O_NONBLOCK)) die("pipe");
	p->r = fds[0]; p->w = fds[1]; p->head = p->tail = 0;
	if (fcntl(p->w, F_SETPIPE_SZ, pages * PG) < 0) die("F_SETPIPE_SZ");
}

static void record(struct pipe *p, uint8_t *shadow, long pos, long n) {
	for (long i = 0; i < n; i++) {
		p->orig[p->head] = shadow[pos + i];
		p->srcshadow[p->head] = shadow;
		p->srcpos[p->head] = pos + i;
		p->head++;
	}
}

static long splice_in(struct src *s, long off, long len, struct pipe *p) {
	loff_t o = off;
	long n = splice(s->fd, &o, p->w, NULL, len, SPLICE_F_NONBLOCK);
	if (n < 0) die("splice");
	record(p, s->shadow, off, n);
	tp_read(t1);
	return n;
}

static long vmsplice_in(uint8_t *buf, uint8_t *shadow, long off, long len, struct pipe *p, int gift) {
	struct iovec iov = { buf + off, len };
	long n = vmsplice(p->w, &iov, 1, SPLICE_F_NONBLOCK | (gift ? SPLICE_F_GIFT : 0));
	if (n < 0) die("vmsplice");
	record(p, shadow, off, n);
	tp_read(t1);
	return n;
}

static long tee_to(struct pipe *a, struct pipe *b, long len) {
	long n = tee(a->r, b->w, len, SPLICE_F_NONBLOCK);
	if (n < 0) die("tee");
	for (long i = 0; i < n; i++) {
		b->orig[b->head] = a->orig[a->tail + i];
		b->srcshadow[b->head] = a->srcshadow[a->tail + i];
		b->srcpos[b->head] = a->srcpos[a->tail + i];
		b->head++;
	}
	return n;
}

static void drain(const char *name, struct pipe *p, const char *note) {
	static uint8_t buf[MAXB];
	long long t2[2];
	tp_read(t2);
	long n = read(p->r, buf, MAXB);
	int e = n < 0 ? errno : 0;
	if (n < 0) n = 0;
	long changed = 0;
	char ranges[4096] = "";
	long start = -1, nr = 0; const char *kind = NULL;
	for (long i = 0; i <= n; i++) {
		const char *k = NULL;
		if (i < n) {
			long j = p->tail + i;
			if (buf[i] != p->orig[j]) {
				changed++;
				k = buf[i] == 0 ? "zero" : buf[i] == p->srcshadow[j][p->srcpos[j]] ? "current" : "other";
			}
		}
		if (k != kind || (k && kind && strcmp(k, kind))) {
			/* print the first 4 ranges; the count of changed bytes stays exact */
			if (kind && ++nr <= 4) snprintf(ranges + strlen(ranges), sizeof ranges - strlen(ranges), " %ld-%ld:%s", start, i, kind);
			else if (kind && nr == 5) snprintf(ranges + strlen(ranges), sizeof ranges - strlen(ranges), " ...");
			kind = k; start = i;
		}
	}
	p->tail += n;
	printf("%-34s read=%ld%s changed=%ld%s  [splice +%lld -%lld, then +%lld -%lld]%s%s\n", name, n,
	       e ? (e == EAGAIN ? "(EAGAIN)" : "(ERR)") : "", changed, ranges,
	       t1[0] - t0[0], t1[1] - t0[1], t2[0] - t1[0], t2[1] - t1[1], note ? "  # " : "", note ? note : "");
	fflush(stdout);
}

static uint8_t *mkbuf(int shared, long size, uint8_t **shadow, int seq) {
	uint8_t *b = mmap(NULL, size, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) die("mmap");
	tp_read(t0);
	*shadow = malloc(size);
	for (long i = 0; i < size; i++) b[i] = (*shadow)[i] = pat(seq, i);
	return b;
}

static void closefile(struct src *s) { close(s->fd); free(s->shadow); }

static const char *filter;
#define EXP(nm) if (!filter || strstr(nm, filter))

static void fork_store(uint8_t *addr, uint8_t fill, long len, int child_stores) {
	pid_t pid = fork();
	if (pid == 0) {
		if (child_stores) memset(addr, fill, len);
		_exit(0);
	}
	if (!child_stores) memset(addr, fill, len);
	waitpid(pid, NULL, 0);
}

static void foldio(struct src *s, long off, long len, const char *what) {
	/* fallocate variants; prints errno when the filesystem refuses */
	int mode = !strcmp(what, "punch") ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	if (fallocate(s->fd, mode, off, len)) { printf("  (fallocate %s: %s)\n", what, strerror(errno)); return; }
	memset(s->shadow + off, 0, len);
}

static void run(void) {
	struct pipe *p = malloc(sizeof *p), *q = malloc(sizeof *q);
	struct src f;
	int layouts[2] = {1, 0};
	for (int li = 0; li < 2; li++) {
		int per_page = layouts[li];
		char nm[128];
		const char *L = per_page ? "pp" : "ow";
#define NAME(x) (snprintf(nm, sizeof nm, "%s/%s", x, L), nm)

		EXP("pwrite-after-splice") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("pwrite-after-splice"), p, NULL); closefile(&f);
		}
		EXP("pwrite-dirty") {
			f = mkfile("a", 4 * PG, per_page, 0, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("pwrite-dirty"), p, NULL); closefile(&f);
		}
		EXP("pwrite-uncached") {
			f = mkfile("a", 4 * PG, per_page, 1, 0); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("pwrite-uncached"), p, NULL); closefile(&f);
		}
		EXP("pwrite-other-page") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); fwrite_at(&f, PG + 100, 200, 0x42);
			drain(NAME("pwrite-other-page"), p, "control"); closefile(&f);
		}
		EXP("pwrite-after-drain") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); drain(NAME("pwrite-after-drain(drain)"), p, NULL);
			fwrite_at(&f, 100, 200, 0x42); splice_in(&f, PG, PG, p);
			drain(NAME("pwrite-after-drain"), p, "control"); closefile(&f);
		}
		EXP("pwrite-whole-page") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, 2 * PG, p); fwrite_at(&f, 0, 2 * PG, 0x42);
			drain(NAME("pwrite-whole-page"), p, NULL); closefile(&f);
		}
		EXP("unaligned") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 1000, 2 * PG, p); fwrite_at(&f, PG - 10, 20, 0x42); fwrite_at(&f, 2 * PG + 900, 200, 0x43);
			drain(NAME("unaligned"), p, NULL); closefile(&f);
		}
		EXP("mmap-before") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			uint8_t *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
			m[0] = m[0]; /* fault it in, mapped before the splice */
			splice_in(&f, 0, PG, p); memset(m + 200, 0x4d, 100); memset(f.shadow + 200, 0x4d, 100);
			drain(NAME("mmap-store-mapped-before"), p, NULL); munmap(m, 4 * PG); closefile(&f);
		}
		EXP("mmap-after") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p);
			uint8_t *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
			memset(m + 200, 0x4d, 100); memset(f.shadow + 200, 0x4d, 100);
			drain(NAME("mmap-store-mapped-after"), p, NULL); munmap(m, 4 * PG); closefile(&f);
		}
		const char *fa[2] = {"punch", "zero"};
		for (int k = 0; k < 2; k++) {
			char e[64];
			snprintf(e, sizeof e, "%s-whole-page", fa[k]);
			EXP(e) {
				f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
				splice_in(&f, 0, 2 * PG, p); foldio(&f, PG, PG, fa[k]); fwrite_at(&f, PG, 100, 0x42);
				drain(NAME(e), p, "page 1 removed/zeroed then pwrite 100 bytes into it"); closefile(&f);
			}
			snprintf(e, sizeof e, "%s-partial", fa[k]);
			EXP(e) {
				f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
				splice_in(&f, 0, 2 * PG, p); foldio(&f, 1000, 2000, fa[k]);
				drain(NAME(e), p, "bytes 1000..3000 of page 0"); closefile(&f);
			}
			snprintf(e, sizeof e, "%s-span", fa[k]);
			EXP(e) {
				f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
				splice_in(&f, 0, 4 * PG, p); foldio(&f, 3000, 2 * PG, fa[k]);
				drain(NAME(e), p, "3000..11192: partial, whole page 1, partial"); closefile(&f);
			}
		}
		EXP("truncate-partial") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, 2 * PG, p); if (ftruncate(f.fd, 1000)) die("ftruncate");
			memset(f.shadow + 1000, 0, 4 * PG);
			drain(NAME("truncate-partial"), p, "truncate to 1000"); closefile(&f);
		}
		EXP("truncate-zero") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, 2 * PG, p); if (ftruncate(f.fd, 0)) die("ftruncate");
			memset(f.shadow, 0, 4 * PG); fwrite_at(&f, 0, 100, 0x42);
			drain(NAME("truncate-zero-then-write"), p, NULL); closefile(&f);
		}
		EXP("truncate-extend") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, 2 * PG, p); if (ftruncate(f.fd, 1000)) die("ftruncate");
			if (ftruncate(f.fd, 4 * PG)) die("ftruncate");
			memset(f.shadow + 1000, 0, 4 * PG);
			drain(NAME("truncate-shrink-extend"), p, NULL); closefile(&f);
		}
		EXP("fadvise") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("fadvise-dontneed-then-pwrite"), p, NULL); closefile(&f);
		}
		EXP("fadvise-dirty") {
			f = mkfile("a", 4 * PG, per_page, 0, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("fadvise-dirty-then-pwrite"), p, NULL); closefile(&f);
		}
		EXP("odirect") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, 2 * PG, p);
			char path[512]; snprintf(path, sizeof path, "%s/a", dir);
			int d = open(path, O_RDWR | O_DIRECT);
			if (d < 0) printf("  (O_DIRECT open: %s)\n", strerror(errno));
			else {
				uint8_t *al = aligned_alloc(PG, PG); memset(al, 0x44, PG);
				long w = pwrite(d, al, PG, 0);
				if (w != PG) printf("  (O_DIRECT pwrite: %ld %s)\n", w, strerror(errno)); else memset(f.shadow, 0x44, PG);
				close(d); free(al);
			}
			drain(NAME("odirect-write"), p, "O_DIRECT write of page 0"); closefile(&f);
		}
		EXP("fsync") {
			f = mkfile("a", 4 * PG, per_page, 0, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p); fsync(f.fd); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("fsync-then-pwrite"), p, NULL); closefile(&f);
		}
		EXP("other-process") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 0, PG, p);
			pid_t pid = fork();
			if (pid == 0) { uint8_t b[200]; memset(b, 0x43, 200); _exit(pwrite(f.fd, b, 200, 100) != 200); }
			waitpid(pid, NULL, 0); memset(f.shadow + 100, 0x43, 200);
			drain(NAME("write-other-process"), p, NULL); closefile(&f);
		}
		EXP("tee") {
			f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16); mkpipe(q, 16);
			splice_in(&f, 0, PG, p); tee_to(p, q, PG); fwrite_at(&f, 100, 200, 0x42);
			drain(NAME("tee-copy"), q, "the tee'd pipe"); drain(NAME("tee-orig"), p, NULL); closefile(&f);
		}
		EXP("fork-mmap") {
			for (int c = 0; c < 2; c++) {
				f = mkfile("a", 4 * PG, per_page, 1, 1); mkpipe(p, 16);
				uint8_t *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
				splice_in(&f, 0, PG, p); fork_store(m + 200, 0x46, 100, c == 0); memset(f.shadow + 200, 0x46, 100);
				drain(NAME(c == 0 ? "fork-mmap-child-stores" : "fork-mmap-parent-stores"), p, NULL);
				munmap(m, 4 * PG); closefile(&f);
			}
		}
		EXP("large-file") {
			/* 2 MiB file: does one write() give large folios? punch one page in the middle */
			long sz = 512 * PG;
			f = mkfile("big", sz, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 64 * PG, 4 * PG, p); foldio(&f, 65 * PG, PG, "punch");
			drain(NAME("bigfile-punch-whole-page"), p, "page 65 of 512 punched, pipe holds 64..67"); closefile(&f);
		}
		EXP("uncached-punch") {
			/* not cached: the splice reads the pages in (readahead picks the folio size) */
			f = mkfile("big", 64 * PG, per_page, 1, 0); mkpipe(p, 16);
			splice_in(&f, 4 * PG, 4 * PG, p); foldio(&f, 5 * PG, PG, "punch");
			drain(NAME("uncached-punch-whole-page"), p, "64p file read by splice, page 5 punched, pipe holds 4..7"); closefile(&f);
		}
		EXP("large-file-trunc") {
			long sz = 512 * PG;
			f = mkfile("big", sz, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 64 * PG, 4 * PG, p); if (ftruncate(f.fd, 65 * PG)) die("ftruncate");
			memset(f.shadow + 65 * PG, 0, sz - 65 * PG);
			drain(NAME("bigfile-truncate-whole-page"), p, "truncate to 65p, pipe holds 64..67"); closefile(&f);
		}
		EXP("large-file-odirect") {
			long sz = 512 * PG;
			f = mkfile("big", sz, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 64 * PG, 4 * PG, p);
			char path[512]; snprintf(path, sizeof path, "%s/big", dir);
			int d = open(path, O_RDWR | O_DIRECT);
			if (d >= 0) {
				uint8_t *al = aligned_alloc(PG, PG); memset(al, 0x44, PG);
				if (pwrite(d, al, PG, 65 * PG) == PG) memset(f.shadow + 65 * PG, 0x44, PG);
				close(d); free(al);
			}
			drain(NAME("bigfile-odirect-page"), p, "O_DIRECT page 65"); closefile(&f);
		}
		EXP("large-file-fadvise") {
			long sz = 512 * PG;
			f = mkfile("big", sz, per_page, 1, 1); mkpipe(p, 16);
			splice_in(&f, 64 * PG, 4 * PG, p); posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED);
			fwrite_at(&f, 66 * PG, 100, 0x42);
			drain(NAME("bigfile-fadvise-then-pwrite"), p, NULL); closefile(&f);
		}
	}

	/* ---- vmsplice (no file) ---- */
	for (int shared = 0; shared < 2; shared++) {
		const char *K = shared ? "shared" : "private";
		char nm[128];
#define VN(x) (snprintf(nm, sizeof nm, "%s/%s", x, K), nm)
		uint8_t *sh, *b;
		for (int gift = 0; gift < 2; gift++) {
			EXP("vmsplice-store") {
				b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
				vmsplice_in(b, sh, 0, PG, p, gift); memset(b + 100, 0x55, 200); memset(sh + 100, 0x55, 200);
				drain(VN(gift ? "vmsplice-gift-store" : "vmsplice-store"), p, NULL); munmap(b, 4 * PG); free(sh);
			}
		}
		EXP("vmsplice-unaligned") {
			b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
			vmsplice_in(b, sh, 100, 2 * PG, p, 0); memset(b + PG, 0x55, 10); memset(sh + PG, 0x55, 10);
			drain(VN("vmsplice-unaligned-store"), p, NULL); munmap(b, 4 * PG); free(sh);
		}
		EXP("vmsplice-munmap") {
			b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
			vmsplice_in(b, sh, 0, PG, p, 0); munmap(b, 4 * PG);
			drain(VN("vmsplice-munmap"), p, NULL); free(sh);
		}
		EXP("vmsplice-madvise") {
			b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
			vmsplice_in(b, sh, 0, PG, p, 0); madvise(b, PG, MADV_DONTNEED);
			if (!shared) memset(sh, 0, PG);
			memset(b + 100, 0x55, 200); memset(sh + 100, 0x55, 200);
			drain(VN("vmsplice-madvise-then-store"), p, NULL); munmap(b, 4 * PG); free(sh);
		}
		EXP("vmsplice-fork") {
			for (int c = 0; c < 2; c++) {
				b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
				vmsplice_in(b, sh, 0, PG, p, 0); fork_store(b + 100, 0x46, 200, c == 0);
				if (c == 1 || shared) memset(sh + 100, 0x46, 200);
				drain(VN(c == 0 ? "vmsplice-fork-child-stores" : "vmsplice-fork-parent-stores"), p, NULL);
				munmap(b, 4 * PG); free(sh);
			}
		}
		EXP("vmsplice-fork-before") {
			/* fork first (child alive, sleeping), then vmsplice, then the parent stores */
			b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
			pid_t pid = fork();
			if (pid == 0) { usleep(200000); _exit(0); }
			vmsplice_in(b, sh, 0, PG, p, 0); memset(b + 100, 0x46, 200); memset(sh + 100, 0x46, 200);
			drain(VN("fork-then-vmsplice-parent-stores"), p, NULL);
			waitpid(pid, NULL, 0); munmap(b, 4 * PG); free(sh);
		}
		EXP("vmsplice-to-file") {
			/* pipe -> file: the file gets a copy */
			b = mkbuf(shared, 4 * PG, &sh, 2); mkpipe(p, 16);
			f = mkfile("dst", PG, 1, 1, 1);
			vmsplice_in(b, sh, 0, PG, p, 0);
			loff_t o = 0; long n = splice(p->r, NULL, f.fd, &o, PG, SPLICE_F_NONBLOCK);
			memset(b, 0x55, PG);
			uint8_t back[PG]; pread(f.fd, back, PG, 0);
			long diff = 0; for (int i = 0; i < PG; i++) diff += back[i] != sh[i];
			printf("%-34s spliced=%ld file-differs-from-original=%ld  # buffer stored after splice to file\n", VN("pipe-to-file-copy"), n, diff);
			closefile(&f); munmap(b, 4 * PG); free(sh);
		}
	}
	free(p); free(q);
}

int main(int argc, char **argv) {
	if (argc < 2) { fprintf(stderr, "usage: %s <scratch dir> [filter]\n", argv[0]); return 2; }
	dir = argv[1];
	filter = argc > 2 ? argv[2] : NULL;
	tp_open();
	run();
	return 0;
}
