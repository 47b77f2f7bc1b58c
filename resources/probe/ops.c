/*
 * The ops: one function per kind, and the table {name, needs, run} the parser and the runner use.
 * Each function fills in its outcome and keeps the shadows and pipe snapshots up to date; `op_ns`
 * accumulates the time spent in the op's own system calls and stores, not in bookkeeping.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Evaluates a system call (or a store), adding the time it took to op_ns. */
#define TIMED(expr)                                \
	({                                         \
		uint64_t t0_ = now_ns();           \
		__typeof__(expr) r_ = (expr);      \
		op_ns += now_ns() - t0_;           \
		r_;                                \
	})

static void set_ret(struct outcome *o, int64_t r)
{
	o->ret = r;
	o->err = r < 0 ? errno : 0;
}

static void set_err(struct outcome *o, int err)
{
	o->ret = -1;
	o->err = err;
}

/* ---- pipes ---- */

/* What a successful splice of `n` bytes did to the snapshots: file->pipe, pipe->pipe, pipe->file. */
static void splice_track(const struct op *op, size_t n)
{
	if (op->src.kind == END_FILE && op->dst.kind == END_PIPE) {
		const struct file_rt *f = &files[op->src.idx];
		seg_push(&pipes[op->dst.idx], snapshot(END_FILE, op->src.idx, &f->sh, (uint64_t)op->src.off, n));
	} else if (op->src.kind == END_PIPE && op->dst.kind == END_PIPE) {
		segs_move(&pipes[op->src.idx], &pipes[op->dst.idx], n);
	} else if (op->src.kind == END_PIPE && op->dst.kind == END_FILE) {
		segs_drop(&pipes[op->src.idx], n);
		/* The file now holds whatever the pipe carried (possibly changed bytes): read it back. */
		struct file_rt *f = &files[op->dst.idx];
		uint8_t *got = bounce_get(n);
		ssize_t r = pread(f->fd, got, n, op->dst.off);
		if (r > 0)
			shadow_write(&f->sh, (uint64_t)op->dst.off, got, (size_t)r, 1);
	}
}

static void op_splice(const struct op *op, struct outcome *o)
{
	loff_t ioff = op->src.off, ooff = op->dst.off;
	int in_file = op->src.kind == END_FILE, out_file = op->dst.kind == END_FILE;
	int in = in_file ? files[op->src.idx].fd : pipes[op->src.idx].r;
	int out = out_file ? files[op->dst.idx].fd : pipes[op->dst.idx].w;
	set_ret(o, TIMED(splice(in, in_file ? &ioff : NULL, out, out_file ? &ooff : NULL, (size_t)op->len, SPLICE_F_NONBLOCK)));
	if (o->ret > 0)
		splice_track(op, (size_t)o->ret);
}

/*
 * A kernel that steals gifted pages (the fix's splice_policy=steal-or-copy) takes a whole private
 * page out of the process: its PTE is cleared, as MADV_DONTNEED would, and the buffer reads zeros
 * from then on. mincore() tells which whole pages of [off, off + n) are no longer resident without
 * faulting anything in; their shadow becomes zeros, so that a later snapshot of them holds what the
 * buffer really holds. (A page that was not resident before reads zeros already.)
 */
static void gifted_pages_taken(struct buf_rt *b, int64_t off, size_t n)
{
	uintptr_t ps = (uintptr_t)page_size;
	uintptr_t start = ((uintptr_t)(b->addr + off) + ps - 1) & ~(ps - 1);
	uintptr_t end = ((uintptr_t)(b->addr + off) + n) & ~(ps - 1);
	unsigned char vec[64];
	for (uintptr_t a = start; a < end; a += ps * sizeof vec) {
		size_t pages = (end - a) / ps < sizeof vec ? (end - a) / ps : sizeof vec;
		if (mincore((void *)a, pages * ps, vec))
			return;
		for (size_t k = 0; k < pages; k++)
			if (!(vec[k] & 1))
				shadow_zero(&b->sh, (uint64_t)(a + k * ps - (uintptr_t)b->addr), (uint64_t)ps);
	}
}

static void op_vmsplice(const struct op *op, struct outcome *o)
{
	struct buf_rt *b = &bufs[op->buffer];
	struct iovec iov = {.iov_base = b->addr + op->offset, .iov_len = (size_t)op->len};
	unsigned flags = SPLICE_F_NONBLOCK | (op->gift ? SPLICE_F_GIFT : 0);
	set_ret(o, TIMED(vmsplice(pipes[op->pipe].w, &iov, 1, flags)));
	if (o->ret > 0) {
		seg_push(&pipes[op->pipe], snapshot(END_BUF, op->buffer, &b->sh, (uint64_t)op->offset, (size_t)o->ret));
		if (op->gift && !prog.bufs[op->buffer].shared)
			gifted_pages_taken(b, op->offset, (size_t)o->ret);
	}
}

static void op_tee(const struct op *op, struct outcome *o)
{
	set_ret(o, TIMED(tee(pipes[op->from].r, pipes[op->to].w, (size_t)op->len, SPLICE_F_NONBLOCK)));
	if (o->ret > 0)
		segs_copy(&pipes[op->from], &pipes[op->to], (size_t)o->ret);
}

static void op_drain(const struct op *op, struct outcome *o)
{
	static uint8_t *rbuf;
	const size_t RBUF = 1 << 20;
	struct pipe_rt *p = &pipes[op->pipe];
	if (!rbuf && !(rbuf = malloc(RBUF))) {
		set_err(o, ENOMEM);
		return;
	}
	o->has_drain = 1;
	uint64_t total = 0;
	int err = 0;
	while (op->len_all || total < (uint64_t)op->len) {
		size_t want = RBUF;
		if (!op->len_all && (uint64_t)op->len - total < want)
			want = (size_t)((uint64_t)op->len - total);
		ssize_t n = TIMED(read(p->r, rbuf, want));
		if (n < 0 && errno == EINTR && !timed_out && !stop_signal)
			continue;
		if (n < 0)
			err = errno;
		if (n <= 0)
			break;
		check_drained(p, rbuf, (size_t)n, total, o);
		total += (uint64_t)n;
	}
	o->read = total;
	if (total == 0 && err)
		set_err(o, err);
	else
		o->ret = (int64_t)total;
}

/* The end stays closed for the rest of the run: later ops on it fail with EBADF. */
static void op_close(const struct op *op, struct outcome *o)
{
	int *fd = op->close_write ? &pipes[op->pipe].w : &pipes[op->pipe].r;
	if (*fd < 0) {
		set_err(o, EBADF);
		return;
	}
	set_ret(o, TIMED(close(*fd)));
	*fd = -1;
}

/* ---- writes ---- */

static void op_pwrite(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	uint8_t *src = bounce_get((size_t)op->len);
	pattern_fill(&op->pat, (uint64_t)op->offset, src, (size_t)op->len);
	set_ret(o, TIMED(pwrite(f->fd, src, (size_t)op->len, op->offset)));
	if (o->ret > 0)
		shadow_write(&f->sh, (uint64_t)op->offset, src, (size_t)o->ret, 1);
}

static void pwrite_shadow(const struct op *op, const struct outcome *o)
{
	if (o->ret <= 0)
		return;
	uint8_t *src = bounce_get((size_t)o->ret);
	pattern_fill(&op->pat, (uint64_t)op->offset, src, (size_t)o->ret);
	shadow_write(&files[op->file].sh, (uint64_t)op->offset, src, (size_t)o->ret, 1);
}

/* A pwrite from a forked child: another process writes the file. */
static void op_write_other(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	uint8_t *src = bounce_get((size_t)op->len);
	pattern_fill(&op->pat, (uint64_t)op->offset, src, (size_t)op->len);
	int64_t *res = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		set_ret(o, -1);
		return;
	}
	res[0] = -1;
	res[1] = EINTR;
	fflush(stdout);
	uint64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid == 0) {
		fork_child_init(probe_pid);
		ssize_t w = pwrite(f->fd, src, (size_t)op->len, op->offset);
		res[0] = w;
		res[1] = w < 0 ? errno : 0;
		_exit(0);
	}
	if (pid < 0) {
		set_ret(o, -1);
		munmap(res, 16);
		return;
	}
	wait_child(pid);
	op_ns += now_ns() - t0;
	o->ret = res[0];
	o->err = res[0] < 0 ? (int)res[1] : 0;
	if (o->ret > 0)
		shadow_write(&f->sh, (uint64_t)op->offset, src, (size_t)o->ret, 1);
	munmap(res, 16);
}

static void op_odirect(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	int fd = open(f->path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		set_ret(o, -1);
		return;
	}
	size_t cap = ((size_t)op->len + (size_t)page_size - 1) / (size_t)page_size * (size_t)page_size;
	void *al = NULL;
	if (posix_memalign(&al, (size_t)page_size, cap ? cap : (size_t)page_size)) {
		close(fd);
		set_err(o, ENOMEM);
		return;
	}
	pattern_fill(&op->pat, (uint64_t)op->offset, al, (size_t)op->len);
	set_ret(o, TIMED(pwrite(fd, al, (size_t)op->len, op->offset)));
	if (o->ret > 0)
		shadow_write(&f->sh, (uint64_t)op->offset, al, (size_t)o->ret, 1);
	free(al);
	close(fd);
}

/* ---- file ranges ---- */

static void punch_shadow(const struct op *op, const struct outcome *o)
{
	if (!o->ret)
		shadow_zero(&files[op->file].sh, (uint64_t)op->offset, (uint64_t)op->len);
}

static void op_punch(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	set_ret(o, TIMED(fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op->offset, op->len)));
	punch_shadow(op, o);
}

/* Without KEEP_SIZE a range past the end extends the file; with it the size stays. */
static void zero_shadow(const struct op *op, const struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	uint64_t end = (uint64_t)(op->offset + op->len);
	if (o->ret)
		return;
	if (!op->keep_size && end > f->sh.size)
		shadow_resize(&f->sh, (size_t)end);
	shadow_zero(&f->sh, (uint64_t)op->offset, (uint64_t)op->len);
}

static void op_zero(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	int mode = FALLOC_FL_ZERO_RANGE | (op->keep_size ? FALLOC_FL_KEEP_SIZE : 0);
	set_ret(o, TIMED(fallocate(f->fd, mode, op->offset, op->len)));
	zero_shadow(op, o);
}

static void op_truncate(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	set_ret(o, TIMED(ftruncate(f->fd, op->size)));
	if (!o->ret)
		shadow_resize(&f->sh, (size_t)op->size);
}

static void op_fadvise(const struct op *op, struct outcome *o)
{
	int e = TIMED(posix_fadvise(files[op->file].fd, op->offset, op->len, POSIX_FADV_DONTNEED));
	o->ret = e ? -1 : 0;
	o->err = e;
}

static void op_fsync(const struct op *op, struct outcome *o)
{
	set_ret(o, TIMED(fsync(files[op->file].fd)));
}

/* ---- mappings ---- */

/* A shared mapping of the whole file; fault=read then reads one byte of every page. */
static void op_mmap(const struct op *op, struct outcome *o)
{
	struct file_rt *f = &files[op->file];
	if (f->map) {
		munmap(f->map, f->map_len);
		f->map = NULL;
	}
	size_t len = f->sh.size;
	void *m = TIMED(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0));
	if (m == MAP_FAILED) {
		set_ret(o, -1);
		return;
	}
	f->map = m;
	f->map_len = len;
	o->ret = 0;
	int r = op->fault_read ? TIMED(guarded_touch(m, len, (size_t)page_size)) : 0;
	if (r)
		set_err(o, r);
}

static void op_munmap(const struct op *op, struct outcome *o)
{
	if (op->given & ARG_FILE) {
		struct file_rt *f = &files[op->file];
		if (!f->map) {
			set_err(o, EINVAL);
			return;
		}
		set_ret(o, TIMED(munmap(f->map, f->map_len)));
		f->map = NULL;
		f->map_len = 0;
		return;
	}
	struct buf_rt *b = &bufs[op->buffer];
	if (!b->mapped) {
		set_err(o, EINVAL);
		return;
	}
	set_ret(o, TIMED(munmap(b->region, b->region_len)));
	if (!o->ret)
		b->mapped = 0;
}

static void op_madvise(const struct op *op, struct outcome *o)
{
	struct buf_rt *b = &bufs[op->buffer];
	uint8_t *addr = b->addr + op->offset;
	set_ret(o, TIMED(madvise(addr, (size_t)op->len, MADV_DONTNEED)));
	if (o->ret || prog.bufs[op->buffer].shared)
		return;
	/* A private anonymous range reads zeros after MADV_DONTNEED (whole pages: len rounds up). */
	uintptr_t end = ((uintptr_t)addr + (uintptr_t)op->len + (uintptr_t)page_size - 1) & ~((uintptr_t)page_size - 1);
	shadow_zero(&b->sh, (uint64_t)op->offset, (uint64_t)(end - (uintptr_t)addr));
}

/* ---- stores ---- */

/* Where a store lands: a buffer, or the file's shared mapping. */
struct store {
	uint8_t *base;		/* NULL when not mapped: nothing is stored */
	size_t limit;
	struct shadow *sh;
	int shared;
	uint8_t *src;		/* the bytes to store (in the bounce buffer) */
};

/*
 * The common start of a store (mmap_store, buf_store, fork): the mapping, a range check, and the
 * bytes to store. -1 (with o set to ENXIO or EFAULT) when there is nothing to store into.
 */
static int store_prepare(const struct op *op, struct outcome *o, struct store *s)
{
	if (op->given & ARG_FILE) {
		struct file_rt *f = &files[op->file];
		*s = (struct store){.base = f->map, .limit = f->map_len, .sh = &f->sh, .shared = 1};
	} else {
		struct buf_rt *b = &bufs[op->buffer];
		const struct buf_spec *bs = &prog.bufs[op->buffer];
		*s = (struct store){.base = b->mapped ? b->addr : NULL, .limit = (size_t)bs->size, .sh = &b->sh, .shared = bs->shared};
	}
	if (!s->base || (uint64_t)op->offset + (uint64_t)op->len > s->limit) {
		set_err(o, s->base ? EFAULT : ENXIO);
		return -1;
	}
	s->src = bounce_get((size_t)op->len);
	pattern_fill(&op->pat, (uint64_t)op->offset, s->src, (size_t)op->len);
	return 0;
}

static void op_store(const struct op *op, struct outcome *o)
{
	struct store s;
	if (store_prepare(op, o, &s))
		return;
	size_t stored = 0;
	int r = TIMED(guarded_copy(s.base + op->offset, s.src, (size_t)op->len, &stored));
	/* A fault part-way (a page past the end of a truncated file) leaves the pages before it stored. */
	shadow_write(s.sh, (uint64_t)op->offset, s.src, stored, 0);
	if (r) {
		set_err(o, r);
		return;
	}
	o->ret = 0; /* a store has no return value: 0 = done, like mmap and fork */
}

/* How the forked child says its store faulted: its exit status. */
enum { FORK_CHILD_SIGSEGV = 1, FORK_CHILD_SIGBUS = 2 };

/* The forked child: stores (store=child), or holds the COW-shared pages until the parent has stored. */
__attribute__((noreturn)) static void fork_child(const struct op *op, const struct store *s, int sync_r)
{
	int r = 0;
	fork_child_init(probe_pid);
	if (!op->store_parent) {
		r = guarded_copy(s->base + op->offset, s->src, (size_t)op->len, NULL);
	} else {
		char c;
		while (read(sync_r, &c, 1) < 0 && errno == EINTR)
			;
	}
	_exit(r == ERR_SIGBUS ? FORK_CHILD_SIGBUS : r ? FORK_CHILD_SIGSEGV : 0);
}

static void op_fork(const struct op *op, struct outcome *o)
{
	struct store s;
	int sync[2];
	if (store_prepare(op, o, &s))
		return;
	if (pipe2(sync, O_CLOEXEC)) {
		set_ret(o, -1);
		return;
	}
	fflush(stdout);
	uint64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		set_ret(o, -1);
		close(sync[0]);
		close(sync[1]);
		return;
	}
	if (pid == 0) {
		close(sync[1]);
		fork_child(op, &s, sync[0]);
	}
	close(sync[0]);
	size_t stored = 0;
	int r = op->store_parent ? guarded_copy(s.base + op->offset, s.src, (size_t)op->len, &stored) : 0;
	close(sync[1]);
	int st = wait_child(pid);
	op_ns += now_ns() - t0;
	if (r) {
		shadow_write(s.sh, (uint64_t)op->offset, s.src, stored, 0);
		set_err(o, r);
		return;
	}
	if (!op->store_parent && !(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		if (st >= 0 && WIFEXITED(st))
			set_err(o, WEXITSTATUS(st) == FORK_CHILD_SIGBUS ? ERR_SIGBUS : ERR_SIGSEGV);
		else
			set_err(o, timed_out ? ETIMEDOUT : ECHILD);
		return;
	}
	o->ret = 0;
	/* The parent's view: a private buffer stored into by the child is the child's copy (COW). */
	if (op->store_parent || s.shared)
		shadow_write(s.sh, (uint64_t)op->offset, s.src, (size_t)op->len, 0);
}

/* ---- the table ---- */

#define RANGE (ARG_OFFSET | ARG_LEN)
#define FILE_OR_BUFFER (ARG_FILE | ARG_BUFFER)

const struct op_kind op_kinds[] = {
	{"splice", ARG_SRC | ARG_DST | ARG_LEN, 0, 0, 0, op_splice, NULL},
	{"vmsplice", ARG_BUFFER | ARG_PIPE | ARG_LEN, ARG_OFFSET | ARG_GIFT, 0, 0, op_vmsplice, NULL},
	{"tee", ARG_FROM | ARG_TO | ARG_LEN, 0, 0, 0, op_tee, NULL},
	{"pwrite", ARG_FILE | ARG_LEN, ARG_OFFSET | ARG_PATTERN, 0, 0, op_pwrite, pwrite_shadow},
	{"write_other_process", ARG_FILE | ARG_LEN, ARG_OFFSET | ARG_PATTERN, 0, 0, op_write_other, NULL},
	{"odirect_write", ARG_FILE | ARG_LEN, ARG_OFFSET | ARG_PATTERN, 0, 0, op_odirect, NULL},
	{"mmap", ARG_FILE, ARG_FAULT, 0, 0, op_mmap, NULL},
	{"mmap_store", ARG_FILE | ARG_LEN, ARG_OFFSET | ARG_PATTERN, 0, 0, op_store, NULL},
	{"munmap", 0, 0, FILE_OR_BUFFER, 0, op_munmap, NULL},
	{"buf_store", ARG_BUFFER | ARG_LEN, ARG_OFFSET | ARG_PATTERN, 0, 0, op_store, NULL},
	{"punch_hole", ARG_FILE | ARG_LEN, ARG_OFFSET, 0, 0, op_punch, punch_shadow},
	{"zero_range", ARG_FILE | ARG_LEN, ARG_OFFSET | ARG_KEEP_SIZE, 0, 0, op_zero, zero_shadow},
	{"truncate", ARG_FILE | ARG_SIZE, 0, 0, 0, op_truncate, NULL},
	{"fadvise_dontneed", ARG_FILE, RANGE, 0, 0, op_fadvise, NULL},
	{"fsync", ARG_FILE, 0, 0, 0, op_fsync, NULL},
	{"madvise_dontneed", ARG_BUFFER | ARG_LEN, ARG_OFFSET, 0, 0, op_madvise, NULL},
	{"fork", ARG_LEN, ARG_STORE | ARG_OFFSET | ARG_PATTERN, FILE_OR_BUFFER, 0, op_fork, NULL},
	{"drain", ARG_PIPE, ARG_LEN, 0, 1, op_drain, NULL},
	{"close", ARG_PIPE | ARG_END, 0, 0, 0, op_close, NULL},
	/* Not leaves: the runner executes the ops that follow them (run.c). */
	{"race", ARG_OPS, 0, 0, 0, NULL, NULL},
	{"repeat", ARG_TIMES | ARG_BODY, 0, 0, 0, NULL, NULL},
};

const int n_op_kinds = (int)(sizeof op_kinds / sizeof op_kinds[0]);
const int repeat_kind = (int)(sizeof op_kinds / sizeof op_kinds[0]) - 1;
const int race_kind = (int)(sizeof op_kinds / sizeof op_kinds[0]) - 2;
