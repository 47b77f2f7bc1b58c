/*
 * Observation: the shadow of every file and buffer (what the probe expects them to hold), the
 * snapshots of what it put into each pipe, the comparison of drained bytes with those snapshots,
 * and the op lines that report it all.
 */
#include "probe.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct file_rt files[MAX_FILES];
struct buf_rt bufs[MAX_BUFFERS];
struct pipe_rt pipes[MAX_PIPES];
int ops_reported;

void pattern_fill(const struct pattern *p, uint64_t pos, uint8_t *dst, size_t n)
{
	if (p->kind == PAT_FILL) {
		memset(dst, (int)p->v, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = pattern_byte(p, pos + i);
}

/* ---- shadows ---- */

static void shadow_reserve(struct shadow *s, size_t n)
{
	if (n <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : 4096;
	while (cap < n)
		cap *= 2;
	uint8_t *d = realloc(s->d, cap);
	if (!d)
		out_of_memory("shadow of a file or buffer");
	memset(d + s->cap, 0, cap - s->cap);
	s->d = d;
	s->cap = cap;
}

/* Sets the shadow's size; new bytes read as zero (a hole / an extended file). */
void shadow_resize(struct shadow *s, size_t n)
{
	shadow_reserve(s, n);
	if (n < s->size)
		memset(s->d + n, 0, s->size - n);
	s->size = n;
}

static inline uint8_t shadow_at(const struct shadow *s, uint64_t pos)
{
	return pos < s->size ? s->d[pos] : 0;
}

void shadow_write(struct shadow *s, uint64_t pos, const uint8_t *src, size_t n, int extend)
{
	if (extend && pos + n > s->size)
		shadow_resize(s, pos + n);
	if (pos >= s->size)
		return;
	if (pos + n > s->size)
		n = s->size - pos;
	memcpy(s->d + pos, src, n);
}

void shadow_zero(struct shadow *s, uint64_t pos, uint64_t n)
{
	if (pos >= s->size)
		return;
	if (pos + n > s->size)
		n = s->size - pos;
	memset(s->d + pos, 0, n);
}

/* ---- pipe snapshots ---- */

void seg_push(struct pipe_rt *p, struct seg s)
{
	if (p->head + p->n == p->cap) {
		if (p->head > 0) {
			memmove(p->q, p->q + p->head, p->n * sizeof *p->q);
			p->head = 0;
		} else {
			size_t cap = p->cap ? p->cap * 2 : 16;
			struct seg *q = realloc(p->q, cap * sizeof *q);
			if (!q)
				out_of_memory("pipe segment queue");
			p->q = q;
			p->cap = cap;
		}
	}
	p->q[p->head + p->n++] = s;
}

static struct seg *seg_front(struct pipe_rt *p)
{
	return p->n ? &p->q[p->head] : NULL;
}

void seg_pop(struct pipe_rt *p)
{
	free(p->q[p->head].snap);
	p->head++;
	p->n--;
	if (!p->n)
		p->head = 0;
}

static const struct shadow *seg_source(const struct seg *s)
{
	if (s->src_kind == END_FILE)
		return &files[s->src_idx].sh;
	if (s->src_kind == END_BUF)
		return &bufs[s->src_idx].sh;
	return NULL;
}

/* Snapshot of `n` bytes of a shadow from `pos` (bytes past its end read as zero). */
struct seg snapshot(int kind, int idx, const struct shadow *sh, uint64_t pos, size_t n)
{
	struct seg s = {.len = n, .src_kind = kind, .src_idx = idx, .src_off = pos};
	s.snap = malloc(n ? n : 1);
	if (!s.snap)
		out_of_memory("snapshot of spliced data");
	size_t have = pos < sh->size ? sh->size - pos : 0;
	if (have > n)
		have = n;
	if (have)
		memcpy(s.snap, sh->d + pos, have);
	memset(s.snap + have, 0, n - have);
	return s;
}

/* A segment of its own holding the next `m` unread bytes of `s`. */
static struct seg seg_slice(const struct seg *s, size_t m)
{
	struct seg c = {.len = m, .src_kind = s->src_kind, .src_idx = s->src_idx, .src_off = s->src_off + s->pos};
	c.snap = malloc(m ? m : 1);
	if (!c.snap)
		out_of_memory("snapshot of spliced data");
	memcpy(c.snap, s->snap + s->pos, m);
	return c;
}

/* Takes up to `max` bytes off the front of a non-empty pipe as a segment the caller owns. */
static struct seg seg_take(struct pipe_rt *p, size_t max)
{
	struct seg *s = seg_front(p);
	size_t avail = s->len - s->pos;
	if (s->pos == 0 && avail <= max) {
		struct seg whole = *s;
		s->snap = NULL;
		seg_pop(p);
		return whole;
	}
	struct seg part = seg_slice(s, avail < max ? avail : max);
	s->pos += part.len;
	if (s->pos == s->len)
		seg_pop(p);
	return part;
}

/* Moves the first `n` bytes of `from` to the end of `to` (a splice from pipe to pipe; from != to). */
void segs_move(struct pipe_rt *from, struct pipe_rt *to, size_t n)
{
	while (n && from->n) {
		struct seg s = seg_take(from, n);
		n -= s.len;
		seg_push(to, s);
	}
}

/* Consumes the first `n` bytes of `from` (a splice from the pipe to a file). */
void segs_drop(struct pipe_rt *from, size_t n)
{
	while (n && from->n) {
		struct seg s = seg_take(from, n);
		n -= s.len;
		free(s.snap);
	}
}

/* Copies the first `n` bytes of `from` to the end of `to`, leaving `from` as it is (tee). */
void segs_copy(const struct pipe_rt *from, struct pipe_rt *to, size_t n)
{
	for (size_t k = 0; k < from->n && n; k++) {
		const struct seg *s = &from->q[from->head + k];
		size_t avail = s->len - s->pos, m = avail < n ? avail : n;
		seg_push(to, seg_slice(s, m));
		n -= m;
	}
}

/* ---- drained bytes against their snapshots ---- */

static inline void add_changed(struct outcome *o, uint64_t at, int holds)
{
	o->changed_bytes++;
	if (o->nranges) {
		struct range *last = &o->r[o->nranges - 1];
		if (last->end == at && last->holds == holds) {
			last->end++;
			return;
		}
	}
	if (o->nranges < MAX_RANGES)
		o->r[o->nranges++] = (struct range){at, at + 1, holds};
}

/* Records the bytes of `data` that differ from `snap`: zero, the source's current content, or other. */
static void diff_bytes(const struct seg *s, const uint8_t *data, const uint8_t *snap, size_t m, uint64_t out_off,
		       struct outcome *o)
{
	const struct shadow *src = seg_source(s);
	uint64_t src_pos = s->src_off + s->pos;
	for (size_t blk = 0; blk < m; blk += 256) {
		size_t bl = m - blk < 256 ? m - blk : 256;
		if (!memcmp(data + blk, snap + blk, bl))
			continue;
		for (size_t i = blk; i < blk + bl; i++) {
			if (data[i] == snap[i])
				continue;
			int h = data[i] == 0 ? H_ZERO : (src && data[i] == shadow_at(src, src_pos + i)) ? H_CURRENT : H_OTHER;
			add_changed(o, out_off + i, h);
		}
	}
}

/* Compares `n` drained bytes at drain offset `out_off` with the pipe's snapshots, consuming them. */
void check_drained(struct pipe_rt *p, const uint8_t *data, size_t n, uint64_t out_off, struct outcome *o)
{
	while (n) {
		struct seg *s = seg_front(p);
		if (!s) {
			/* Bytes the probe never put into this pipe: nothing to compare with. */
			for (size_t i = 0; i < n; i++)
				add_changed(o, out_off + i, data[i] ? H_OTHER : H_ZERO);
			return;
		}
		size_t m = s->len - s->pos;
		if (m > n)
			m = n;
		const uint8_t *snap = s->snap + s->pos;
		if (memcmp(data, snap, m))
			diff_bytes(s, data, snap, m, out_off, o);
		s->pos += m;
		if (s->pos == s->len)
			seg_pop(p);
		data += m;
		n -= m;
		out_off += m;
	}
}

/* ---- outcomes and op lines ---- */

static const char *const holds_names[] = {"zero", "current", "other"};

static int outcome_eq(const struct outcome *a, const struct outcome *b)
{
	if (a->ret != b->ret || a->err != b->err || a->has_drain != b->has_drain)
		return 0;
	if (!a->has_drain)
		return 1;
	if (a->read != b->read || a->changed_bytes != b->changed_bytes || a->nranges != b->nranges)
		return 0;
	for (int i = 0; i < a->nranges; i++)
		if (a->r[i].start != b->r[i].start || a->r[i].end != b->r[i].end || a->r[i].holds != b->r[i].holds)
			return 0;
	return 1;
}

static void sb_outcome(struct sbuf *b, const struct outcome *o)
{
	sb_printf(b, "{\"ret\":%" PRId64 ",\"errno\":", o->ret);
	sb_errno(b, o->err);
	if (o->has_drain) {
		sb_printf(b, ",\"drain\":{\"read\":%" PRIu64 ",\"changed\":[", o->read);
		for (int i = 0; i < o->nranges; i++)
			sb_printf(b, "%s{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"holds\":\"%s\"}", i ? "," : "", o->r[i].start,
				  o->r[i].end, holds_names[o->r[i].holds]);
		sb_printf(b, "],\"changedBytes\":%" PRIu64 "}", o->changed_bytes);
	}
	sb_printf(b, "}");
}

void agg_add(struct agg *a, const struct outcome *o)
{
	if (a->iterations == 0) {
		a->first = *o;
		a->chosen = *o;
	} else if (!a->chosen_differs && !outcome_eq(o, &a->first)) {
		a->chosen = *o;
		a->chosen_differs = 1;
	}
	a->iterations++;
	for (int i = 0; i < a->nhist; i++)
		if (outcome_eq(&a->hist[i], o)) {
			a->hist_count[i]++;
			return;
		}
	if (a->nhist < MAX_HIST) {
		a->hist[a->nhist] = *o;
		a->hist_count[a->nhist++] = 1;
	} else {
		a->hist_dropped++;
	}
}

static void sb_histogram(struct sbuf *b, const struct agg *a)
{
	sb_printf(b, ",\"histogram\":[");
	for (int i = 0; i < a->nhist; i++) {
		sb_printf(b, "%s{\"outcome\":", i ? "," : "");
		sb_outcome(b, &a->hist[i]);
		sb_printf(b, ",\"count\":%" PRIu64 "}", a->hist_count[i]);
	}
	sb_printf(b, "]");
	if (a->hist_dropped)
		sb_printf(b, ",\"histogramDropped\":%" PRIu64, a->hist_dropped);
}

/* The counters of an op line: tracepoints (when perf works), /proc/fs/splice deltas, hardware counts. */
static void sb_counters(struct sbuf *b, const struct counters *c)
{
	if (perf_ok) {
		sb_printf(b, ",\"tracepoints\":{");
		for (int i = 0; i < NALL_TRACEPOINTS; i++)
			if (tracepoint_counted(i))
				sb_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", tracepoint_name(i), c->tp[i]);
		sb_printf(b, "}");
	}
	if (c->have_stats)
		sb_printf(b,
			  ",\"stats\":{\"filemapCopied\":%" PRId64 ",\"filemapMoved\":%" PRId64 ",\"directCopied\":%" PRId64
			  ",\"vmspliceCopied\":%" PRId64 ",\"vmspliceStole\":%" PRId64 "}",
			  c->stats[0], c->stats[1], c->stats[2], c->stats[3], c->stats[4]);
	else
		sb_printf(b, ",\"stats\":null");
	if (hw_ok)
		sb_printf(b, ",\"hw\":{\"cycles\":%" PRIu64 ",\"instructions\":%" PRIu64 "}", c->cycles, c->instructions);
	else
		sb_printf(b, ",\"hw\":null");
}

/* One op line: one op, or one repeat body op aggregated over its iterations (with a histogram). */
void report(const struct op *op, const struct agg *a, int with_hist)
{
	struct sbuf b = {0};
	sb_printf(&b, "{\"type\":\"op\",\"run\":%d,\"path\":", run_index);
	sb_json_str(&b, op->path);
	sb_printf(&b, ",\"op\":\"%s\",\"iterations\":%" PRId64 ",\"outcome\":", op_kinds[op->kind].name, a->iterations);
	sb_outcome(&b, &a->chosen);
	if (with_hist)
		sb_histogram(&b, a);
	sb_printf(&b, ",\"ns\":%" PRIu64, a->ns);
	sb_counters(&b, &a->c);
	sb_printf(&b, "}");
	emit(&b);
	free(b.s);
	ops_reported++;
}
