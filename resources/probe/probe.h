/*
 * Splice Lab probe: the declarations its files share. The protocol (command line, program, output,
 * exit codes, semantics) is documented at the top of main.c.
 *
 *   main.c       command line, the hello and done lines, the runs, batches of programs
 *   program.c    parsing the program text into struct program
 *   ops.c        the op table {name, needs, run} and one function per op kind
 *   run.c        setup and teardown of one run, executing ops (timers, signals, guarded stores)
 *   observe.c    patterns, shadows, pipe snapshots, drain comparison, outcomes and op lines
 *   output.c     JSON lines, errno names, error lines
 *   perf.c       tracefs, perf tracepoint and hardware counters, /proc/fs/splice, trace_marker
 *   calibrate.c  unit costs measured on the target
 * vocabulary.h holds the names and limits shared with the TypeScript core (generated: npm run gen:vocab).
 */
#ifndef SPLICELAB_PROBE_H
#define SPLICELAB_PROBE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vocabulary.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif

/* Pseudo errno values for faults during a store or a read fault (reported by name, like errno). */
#define ERR_SIGBUS (-1000)
#define ERR_SIGSEGV (-1001)

/* ---- patterns (observe.c): exactly patternByte() of src/shared/scenario/pattern.ts ---- */

enum { PAT_FILL = 0, PAT_SEQ = 1 };
struct pattern {
	int kind;
	unsigned v;
};

static inline uint8_t pattern_byte(const struct pattern *p, uint64_t pos)
{
	if (p->kind == PAT_FILL)
		return (uint8_t)p->v;
	uint64_t q = pos % 255, page = (pos / 4096) % 255;
	return (uint8_t)((q * 31 + (uint64_t)p->v * 97 + page * 7) % 255 + 1);
}

void pattern_fill(const struct pattern *p, uint64_t pos, uint8_t *dst, size_t n);

/* ---- the program (program.c) ---- */

/* Arguments an op line can give: bits of struct op.given and of the op table's needs/takes. */
enum {
	ARG_FILE = 1u << 0,
	ARG_BUFFER = 1u << 1,
	ARG_PIPE = 1u << 2,
	ARG_FROM = 1u << 3,
	ARG_TO = 1u << 4,
	ARG_SRC = 1u << 5,
	ARG_DST = 1u << 6,
	ARG_OFFSET = 1u << 7,
	ARG_LEN = 1u << 8,
	ARG_SIZE = 1u << 9,
	ARG_PATTERN = 1u << 10,
	ARG_GIFT = 1u << 11,
	ARG_STORE = 1u << 12,
	ARG_TIMES = 1u << 13,
	ARG_BODY = 1u << 14,
	ARG_KEEP_SIZE = 1u << 15,
	ARG_FAULT = 1u << 16,
	ARG_END = 1u << 17,
	ARG_OPS = 1u << 18,
};

/* One end of a splice: a file at an offset or a pipe; END_BUF marks a snapshot taken from a buffer. */
enum { END_FILE = 1, END_PIPE, END_BUF };

struct splice_end {
	int kind, idx;
	int64_t off;
};

struct op {
	char path[PATH_LEN];
	int kind;		/* index into op_kinds[] */
	unsigned given;		/* ARG_* bits of the arguments the line gave */
	int file, buffer, pipe, from, to;
	struct splice_end src, dst;
	int64_t offset, len, size;
	int len_all;		/* drain: len=all (also when no len is given) */
	struct pattern pat;
	int gift, store_parent, keep_size, fault_read, close_write;
	int64_t times;
	int body;		/* repeat: number of body ops following; race: number of raced ops following (ops=) */
	int depth;		/* 0 top level, 1 repeat body or raced op */
};

struct file_spec {
	int64_t size;
	struct pattern pat;
	int one_write, synced, cached;
};

struct buf_spec {
	int64_t size, offset;
	struct pattern pat;
	int shared;
};

struct program {
	int runs;
	int nfiles, nbufs, npipes, nops;
	struct file_spec files[MAX_FILES];
	struct buf_spec bufs[MAX_BUFFERS];
	int64_t pipes[MAX_PIPES];
	struct op ops[MAX_OPS];
};

extern struct program prog;

/* Parses the program text (modified in place); 0, or -1 with the reason in parse_error(). */
int parse_program(char *text);
const char *parse_error(void);
int parse_int(const char *s, int64_t *out);
int parse_pattern(const char *s, struct pattern *p);

/* ---- outcomes and observation (observe.c) ---- */

enum { H_ZERO = 0, H_CURRENT = 1, H_OTHER = 2 };

struct range {
	uint64_t start, end;
	int holds;
};

struct outcome {
	int64_t ret;
	int err;
	int has_drain;
	uint64_t read, changed_bytes;
	int nranges;
	struct range r[MAX_RANGES];
};

struct shadow {
	uint8_t *d;
	size_t size, cap;
};

/* Data the probe put into a pipe, as it was then; a pipe is a FIFO of these. */
struct seg {
	uint8_t *snap;
	size_t len, pos;
	int src_kind, src_idx;
	uint64_t src_off;
};

struct file_rt {
	int fd;
	char path[4096];
	struct shadow sh;
	uint8_t *map;
	size_t map_len;
};

struct buf_rt {
	uint8_t *region;
	size_t region_len;
	uint8_t *addr;
	int mapped;
	struct shadow sh;
};

struct pipe_rt {
	int r, w;		/* -1 once closed */
	struct seg *q;
	size_t head, n, cap;
};

struct counters {
	uint64_t tp[NALL_TRACEPOINTS];	/* TRACEPOINTS, then OPTIONAL_TRACEPOINTS */
	uint64_t cycles, instructions;
	int64_t stats[5];
	int have_stats;
};

/* One op's executions, aggregated (a repeat body op runs many times, reported once). */
struct agg {
	int64_t iterations;
	uint64_t ns;
	struct counters c;
	struct outcome first, chosen;
	int chosen_differs;
	struct outcome hist[MAX_HIST];
	uint64_t hist_count[MAX_HIST];
	int nhist;
	uint64_t hist_dropped;
};

extern struct file_rt files[MAX_FILES];
extern struct buf_rt bufs[MAX_BUFFERS];
extern struct pipe_rt pipes[MAX_PIPES];

void shadow_resize(struct shadow *s, size_t n);
void shadow_write(struct shadow *s, uint64_t pos, const uint8_t *src, size_t n, int extend);
void shadow_zero(struct shadow *s, uint64_t pos, uint64_t n);

void seg_push(struct pipe_rt *p, struct seg s);
void seg_pop(struct pipe_rt *p);
struct seg snapshot(int kind, int idx, const struct shadow *sh, uint64_t pos, size_t n);
void segs_move(struct pipe_rt *from, struct pipe_rt *to, size_t n);
void segs_drop(struct pipe_rt *from, size_t n);
void segs_copy(const struct pipe_rt *from, struct pipe_rt *to, size_t n);
void check_drained(struct pipe_rt *p, const uint8_t *data, size_t n, uint64_t out_off, struct outcome *o);

void agg_add(struct agg *a, const struct outcome *o);
void report(const struct op *op, const struct agg *a, int with_hist);
extern int ops_reported;

/* ---- output (output.c) ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json_str(struct sbuf *b, const char *s);
void sb_errno(struct sbuf *b, int e);
void emit(struct sbuf *b);
void emit_error(const char *code, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *errno_name(int e);
const char *signal_name(int sig);

/* ---- ops (ops.c) ---- */

struct op_kind {
	const char *name;
	unsigned needs;		/* ARG_* the line must give */
	unsigned takes;		/* ARG_* it may give besides */
	unsigned one_of;	/* exactly one of these must be given (file or buffer) */
	int len_all;		/* len may be `all`, and is when not given (drain) */
	void (*run)(const struct op *op, struct outcome *o);
	/* What the op did to the shadows, applied by the probe when the op ran in a child (a race's
	 * second op); the kinds that have one are the ones that may race. */
	void (*shadow)(const struct op *op, const struct outcome *o);
};

extern const struct op_kind op_kinds[];
extern const int n_op_kinds;
extern const int repeat_kind;
extern const int race_kind;

/* ---- executing ops (run.c) ---- */

extern const char *scratch_dir;
extern long page_size;
extern pid_t probe_pid;
extern int run_index;
extern volatile sig_atomic_t stop_signal;
extern volatile sig_atomic_t stop_forward;	/* a batch's program process: stop signals are passed on to it */
extern volatile sig_atomic_t timed_out;
extern uint64_t op_ns;
extern uint64_t deadline_ns;
extern uint64_t op_limit_ns;

uint64_t now_ns(void);
void install_signals(void);
int guarded_copy(uint8_t *dst, const uint8_t *src, size_t n, size_t *stored);
int guarded_touch(const uint8_t *p, size_t n, size_t step);
int wait_child(pid_t pid);
void fork_child_init(pid_t parent);
uint8_t *bounce_get(size_t n);
void bounce_free(void);
void out_of_memory(const char *what) __attribute__((noreturn));
int setup_run(void);
void teardown_run(void);
int run_ops(void);
int alloc_aggs(void);
void free_aggs(void);

/* ---- facts (perf.c) ---- */

extern int perf_ok, hw_ok, stats_ok, marker_ok;
extern const char *const tracepoints[NTRACEPOINTS];
const char *tracepoint_name(int i);
int tracepoint_counted(int i);

void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sb_notes(struct sbuf *b);
void setup_perf(void);
void perf_pin(void);
void setup_stats(const char *path);
void setup_marker(const char *path);
void perf_start(void);
void perf_stop(struct counters *c);
int read_stats(int64_t out[5]);
void marker(const char *phase, const char *path);

/* ---- calibration (calibrate.c) ---- */

int calibrate(const char *dir);

#endif
