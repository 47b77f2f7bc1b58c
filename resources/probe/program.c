/*
 * The program: text written by compileProgram (src/shared/probe/program.ts), format at the top of
 * main.c, parsed into the static struct program. Every problem is refused with the line or the op
 * path it was found at; nothing runs from a program that has one.
 */
#include "probe.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 32

struct program prog;
static char parse_err[512];

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(parse_err, sizeof parse_err, fmt, ap);
	va_end(ap);
	return -1;
}

const char *parse_error(void)
{
	return parse_err;
}

int parse_int(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

int parse_pattern(const char *s, struct pattern *p)
{
	int64_t v;
	if (!strncmp(s, "fill:", 5)) {
		if (parse_int(s + 5, &v) || v < 1 || v > 255)
			return -1;
		p->kind = PAT_FILL;
	} else if (!strncmp(s, "seq:", 4)) {
		if (parse_int(s + 4, &v) || v > MAX_PATTERN_SEQ)
			return -1;
		p->kind = PAT_SEQ;
	} else {
		return -1;
	}
	p->v = (unsigned)v;
	return 0;
}

static int parse_end(const char *s, struct splice_end *e)
{
	char k[8];
	long long i, o;
	int n = 0;
	if (sscanf(s, "%7[a-z]:%lld:%lld%n", k, &i, &o, &n) != 3 || s[n] || i < 0 || o < 0 || i >= MAX_OPS)
		return -1;
	if (!strcmp(k, "file"))
		e->kind = END_FILE;
	else if (!strcmp(k, "pipe"))
		e->kind = END_PIPE;
	else
		return -1;
	e->idx = (int)i;
	e->off = o;
	return 0;
}

static int valid_path(const char *s)
{
	if (!*s || strlen(s) >= PATH_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("[]._-", *s)))
			return 0;
	return 1;
}

/* ---- op arguments ---- */

static const struct {
	const char *key;
	unsigned bit;
} arg_names[] = {
	{"file", ARG_FILE}, {"buffer", ARG_BUFFER}, {"pipe", ARG_PIPE}, {"from", ARG_FROM}, {"to", ARG_TO},
	{"src", ARG_SRC}, {"dst", ARG_DST}, {"offset", ARG_OFFSET}, {"len", ARG_LEN}, {"size", ARG_SIZE},
	{"pattern", ARG_PATTERN}, {"gift", ARG_GIFT}, {"store", ARG_STORE}, {"times", ARG_TIMES},
	{"body", ARG_BODY}, {"keep_size", ARG_KEEP_SIZE}, {"fault", ARG_FAULT}, {"end", ARG_END}, {"ops", ARG_OPS},
};
#define N_ARG_NAMES ((int)(sizeof arg_names / sizeof arg_names[0]))

/* Arguments whose value is a non-negative integer (len may also be "all"). */
static const unsigned numeric_args = ARG_FILE | ARG_BUFFER | ARG_PIPE | ARG_FROM | ARG_TO | ARG_OFFSET | ARG_LEN |
				     ARG_SIZE | ARG_GIFT | ARG_TIMES | ARG_BODY | ARG_KEEP_SIZE | ARG_OPS;

static unsigned arg_bit(const char *key)
{
	for (int i = 0; i < N_ARG_NAMES; i++)
		if (!strcmp(arg_names[i].key, key))
			return arg_names[i].bit;
	return 0;
}

static const char *arg_name(unsigned bit)
{
	for (int i = 0; i < N_ARG_NAMES; i++)
		if (arg_names[i].bit == bit)
			return arg_names[i].key;
	return "?";
}

static void set_numeric(struct op *o, unsigned bit, int64_t v)
{
	switch (bit) {
	case ARG_FILE: o->file = (int)v; break;
	case ARG_BUFFER: o->buffer = (int)v; break;
	case ARG_PIPE: o->pipe = (int)v; break;
	case ARG_FROM: o->from = (int)v; break;
	case ARG_TO: o->to = (int)v; break;
	case ARG_OFFSET: o->offset = v; break;
	case ARG_LEN: o->len = v; break;
	case ARG_SIZE: o->size = v; break;
	case ARG_GIFT: o->gift = v != 0; break;
	case ARG_TIMES: o->times = v; break;
	case ARG_BODY: o->body = (int)v; break;
	case ARG_OPS: o->body = (int)v; break;
	case ARG_KEEP_SIZE: o->keep_size = v != 0; break;
	}
}

/* Sets one of the arguments whose value is a word (pattern, store, fault, end, src, dst). */
static int set_word(struct op *o, unsigned bit, const char *val)
{
	switch (bit) {
	case ARG_PATTERN:
		if (parse_pattern(val, &o->pat))
			return fail("%s: pattern=%s: expected fill:1..255 or seq:N", o->path, val);
		return 0;
	case ARG_STORE:
		if (strcmp(val, "child") && strcmp(val, "parent"))
			return fail("%s: store=%s: expected child or parent", o->path, val);
		o->store_parent = !strcmp(val, "parent");
		return 0;
	case ARG_FAULT:
		if (strcmp(val, "none") && strcmp(val, "read"))
			return fail("%s: fault=%s: expected none or read", o->path, val);
		o->fault_read = !strcmp(val, "read");
		return 0;
	case ARG_END:
		if (strcmp(val, "read") && strcmp(val, "write"))
			return fail("%s: end=%s: expected read or write", o->path, val);
		o->close_write = !strcmp(val, "write");
		return 0;
	default:
		if (parse_end(val, bit == ARG_SRC ? &o->src : &o->dst))
			return fail("%s: %s=%s: expected file:I:OFFSET or pipe:I:0", o->path, arg_name(bit), val);
		return 0;
	}
}

/* Parses one `key=value` of an op line into o. */
static int op_arg(struct op *o, const char *key, const char *val)
{
	unsigned bit = arg_bit(key);
	if (!bit)
		return fail("%s: unknown argument %s", o->path, key);
	if (o->given & bit)
		return fail("%s: %s= given twice", o->path, key);
	o->given |= bit;
	if (bit == ARG_LEN && !strcmp(val, "all")) {
		o->len_all = 1;
		return 0;
	}
	if (!(bit & numeric_args))
		return set_word(o, bit, val);
	int64_t v;
	if (parse_int(val, &v))
		return fail("%s: %s=%s: expected a non-negative integer", o->path, key, val);
	set_numeric(o, bit, v);
	return 0;
}

/* ---- checking an op against the op table and the declarations ---- */

static int check_args(const struct op *o)
{
	const struct op_kind *k = &op_kinds[o->kind];
	unsigned missing = k->needs & ~o->given;
	unsigned extra = o->given & ~(k->needs | k->takes | k->one_of);
	for (unsigned bit = 1; missing; bit <<= 1)
		if (missing & bit)
			return fail("%s: %s needs %s=", o->path, k->name, arg_name(bit));
	for (unsigned bit = 1; extra; bit <<= 1)
		if (extra & bit)
			return fail("%s: %s does not take %s=", o->path, k->name, arg_name(bit));
	if (k->one_of && __builtin_popcount(o->given & k->one_of) != 1)
		return fail("%s: %s takes exactly one of file= or buffer=", o->path, k->name);
	if (o->len_all && !k->len_all)
		return fail("%s: %s: len=all is for drain only", o->path, k->name);
	return 0;
}

static int check_index(const struct op *o, const char *what, int idx, int count)
{
	if (idx < 0 || idx >= count)
		return fail("%s: %s needs a declared %s (%s=%d)", o->path, op_kinds[o->kind].name, what, what, idx);
	return 0;
}

static int check_end(const struct op *o, const struct splice_end *e)
{
	if (e->kind == END_FILE)
		return check_index(o, "file", e->idx, prog.nfiles);
	return check_index(o, "pipe", e->idx, prog.npipes);
}

/* Every index an op gives names a declaration. */
static int check_refs(const struct op *o)
{
	const struct program *p = &prog;
	if ((o->given & ARG_FILE) && check_index(o, "file", o->file, p->nfiles))
		return -1;
	if ((o->given & ARG_BUFFER) && check_index(o, "buffer", o->buffer, p->nbufs))
		return -1;
	if ((o->given & ARG_PIPE) && check_index(o, "pipe", o->pipe, p->npipes))
		return -1;
	if ((o->given & ARG_FROM) && check_index(o, "pipe", o->from, p->npipes))
		return -1;
	if ((o->given & ARG_TO) && check_index(o, "pipe", o->to, p->npipes))
		return -1;
	if ((o->given & ARG_SRC) && check_end(o, &o->src))
		return -1;
	if ((o->given & ARG_DST) && check_end(o, &o->dst))
		return -1;
	if (o->kind == repeat_kind && (o->times < 1 || o->body < 1))
		return fail("%s: repeat needs times>=1 and body>=1", o->path);
	if (o->kind == race_kind && o->body != 2)
		return fail("%s: a race runs exactly ops=2", o->path);
	return 0;
}

/* ---- lines ---- */

struct parse_state {
	int lineno, seen_header, seen_end, body_left;
	int in_race;		/* the ops left belong to a race */
};

static int find_kind(const char *name)
{
	for (int k = 0; k < n_op_kinds; k++)
		if (k != repeat_kind && k != race_kind && !strcmp(name, op_kinds[k].name))
			return k;
	return -1;
}

/* `op PATH KIND key=value…`, or `repeat PATH key=value…` / `race PATH ops=2` (group: its kind). */
static int parse_op(struct parse_state *st, char **toks, int nt, int group)
{
	int is_repeat = group != 0;
	struct program *p = &prog;
	if (p->nops >= MAX_OPS)
		return fail("line %d: more than %d ops", st->lineno, MAX_OPS);
	if (nt < (is_repeat ? 2 : 3))
		return fail("line %d: %s needs a path%s", st->lineno, toks[0], is_repeat ? "" : " and a kind");
	if (!valid_path(toks[1]))
		return fail("line %d: bad op path %s", st->lineno, toks[1]);
	struct op *o = &p->ops[p->nops];
	memset(o, 0, sizeof *o);
	o->pat = (struct pattern){PAT_FILL, 0x42};
	snprintf(o->path, sizeof o->path, "%s", toks[1]);
	o->kind = is_repeat ? group : find_kind(toks[2]);
	if (o->kind < 0)
		return fail("line %d: %s: unknown op kind %s", st->lineno, o->path, toks[2]);
	for (int i = is_repeat ? 2 : 3; i < nt; i++) {
		char *eq = strchr(toks[i], '=');
		if (!eq)
			return fail("line %d: %s: expected key=value, got %s", st->lineno, o->path, toks[i]);
		*eq = 0;
		if (op_arg(o, toks[i], eq + 1))
			return -1;
	}
	if (!(o->given & ARG_LEN) && op_kinds[o->kind].len_all)
		o->len_all = 1;
	if (check_args(o) || check_refs(o))
		return -1;
	if (st->body_left > 0) {
		if (is_repeat)
			return fail("line %d: %s: a %s inside a %s", st->lineno, o->path, op_kinds[group].name, st->in_race ? "race" : "repeat body");
		/* The second op of a race runs in a child: the probe applies its effect on the shadows after it. */
		if (st->in_race && st->body_left == 1 && !op_kinds[o->kind].shadow)
			return fail("line %d: %s: %s cannot be a race's second op (punch_hole, zero_range or pwrite can)", st->lineno, o->path, op_kinds[o->kind].name);
		o->depth = 1;
		st->body_left--;
	} else if (is_repeat) {
		st->body_left = o->body;
		st->in_race = group == race_kind;
	}
	p->nops++;
	return 0;
}

static int file_arg(struct file_spec *f, int lineno, const char *k, const char *v)
{
	int64_t n;
	if (!strcmp(k, "size") || !strcmp(k, "cached")) {
		if (parse_int(v, &n))
			return fail("line %d: %s=%s: expected a non-negative integer", lineno, k, v);
		if (!strcmp(k, "size"))
			f->size = n;
		else
			f->cached = n != 0;
	} else if (!strcmp(k, "pattern")) {
		if (parse_pattern(v, &f->pat))
			return fail("line %d: pattern=%s: expected fill:1..255 or seq:N", lineno, v);
	} else if (!strcmp(k, "layout")) {
		if (strcmp(v, "one_write") && strcmp(v, "per_page"))
			return fail("line %d: layout=%s: expected one_write or per_page", lineno, v);
		f->one_write = !strcmp(v, "one_write");
	} else if (!strcmp(k, "state")) {
		if (strcmp(v, "synced") && strcmp(v, "dirty"))
			return fail("line %d: state=%s: expected synced or dirty", lineno, v);
		f->synced = !strcmp(v, "synced");
	} else {
		return fail("line %d: file: unknown argument %s", lineno, k);
	}
	return 0;
}

static int buffer_arg(struct buf_spec *b, int lineno, const char *k, const char *v)
{
	int64_t n;
	if (!strcmp(k, "size") || !strcmp(k, "offset")) {
		if (parse_int(v, &n))
			return fail("line %d: %s=%s: expected a non-negative integer", lineno, k, v);
		if (!strcmp(k, "size"))
			b->size = n;
		else
			b->offset = n;
	} else if (!strcmp(k, "pattern")) {
		if (parse_pattern(v, &b->pat))
			return fail("line %d: pattern=%s: expected fill:1..255 or seq:N", lineno, v);
	} else if (!strcmp(k, "kind")) {
		if (strcmp(v, "private") && strcmp(v, "shared"))
			return fail("line %d: kind=%s: expected private or shared", lineno, v);
		b->shared = !strcmp(v, "shared");
	} else {
		return fail("line %d: buffer: unknown argument %s", lineno, k);
	}
	return 0;
}

static int pipe_arg(int64_t *size, int lineno, const char *k, const char *v)
{
	if (strcmp(k, "size"))
		return fail("line %d: pipe: unknown argument %s", lineno, k);
	if (parse_int(v, size))
		return fail("line %d: %s=%s: expected a non-negative integer", lineno, k, v);
	return 0;
}

static int decl_arg(const char *w, int ix, int lineno, const char *k, const char *v)
{
	if (!strcmp(w, "file"))
		return file_arg(&prog.files[ix], lineno, k, v);
	if (!strcmp(w, "buffer"))
		return buffer_arg(&prog.bufs[ix], lineno, k, v);
	return pipe_arg(&prog.pipes[ix], lineno, k, v);
}

/* `file I …`, `buffer I …` or `pipe I size=B`: declarations come in index order. */
static int parse_decl(struct parse_state *st, char **toks, int nt)
{
	struct program *p = &prog;
	const char *w = toks[0];
	int *count = !strcmp(w, "file") ? &p->nfiles : !strcmp(w, "buffer") ? &p->nbufs : &p->npipes;
	int max = !strcmp(w, "file") ? MAX_FILES : !strcmp(w, "buffer") ? MAX_BUFFERS : MAX_PIPES;
	int64_t ix;
	if (nt < 2 || parse_int(toks[1], &ix))
		return fail("line %d: %s needs an index", st->lineno, w);
	if (ix != *count || ix >= max)
		return fail("line %d: %s %" PRId64 " out of order or too many (max %d)", st->lineno, w, ix, max);
	if (!strcmp(w, "file"))
		p->files[ix] = (struct file_spec){.size = -1, .pat = {PAT_SEQ, 1}, .synced = 1, .cached = 1};
	else if (!strcmp(w, "buffer"))
		p->bufs[ix] = (struct buf_spec){.size = 0, .pat = {PAT_SEQ, 2}};
	else
		p->pipes[ix] = 16 * 4096;
	for (int i = 2; i < nt; i++) {
		char *eq = strchr(toks[i], '=');
		if (!eq)
			return fail("line %d: expected key=value, got %s", st->lineno, toks[i]);
		*eq = 0;
		if (decl_arg(w, (int)ix, st->lineno, toks[i], eq + 1))
			return -1;
	}
	if (!strcmp(w, "file") && p->files[ix].size < 0)
		return fail("line %d: file needs size=", st->lineno);
	if (!strcmp(w, "buffer") && p->bufs[ix].size < 1)
		return fail("line %d: buffer needs size>=1", st->lineno);
	(*count)++;
	return 0;
}

static int parse_header(struct parse_state *st, char **toks, int nt)
{
	int64_t v;
	if (strcmp(toks[0], "splicelab-program") || nt != 2 || parse_int(toks[1], &v))
		return fail("line %d: expected `splicelab-program %d` (is this a probe program?)", st->lineno, PROGRAM_VERSION);
	if (v != PROGRAM_VERSION)
		return fail("program version %" PRId64 ", this probe reads version %d", v, PROGRAM_VERSION);
	st->seen_header = 1;
	return 0;
}

static int parse_runs(struct parse_state *st, char **toks, int nt)
{
	int64_t v;
	if (nt != 2 || parse_int(toks[1], &v) || v < 1 || v > MAX_RUNS)
		return fail("line %d: runs N with 1 <= N <= %d", st->lineno, MAX_RUNS);
	prog.runs = (int)v;
	return 0;
}

static int parse_line(struct parse_state *st, char **toks, int nt)
{
	const char *w = toks[0];
	if (st->seen_end)
		return fail("line %d: text after `end`", st->lineno);
	if (!st->seen_header)
		return parse_header(st, toks, nt);
	if (!strcmp(w, "end")) {
		st->seen_end = 1;
		return 0;
	}
	if (!strcmp(w, "runs"))
		return parse_runs(st, toks, nt);
	if (!strcmp(w, "file") || !strcmp(w, "buffer") || !strcmp(w, "pipe"))
		return parse_decl(st, toks, nt);
	if (!strcmp(w, "op") || !strcmp(w, "repeat") || !strcmp(w, "race"))
		return parse_op(st, toks, nt, !strcmp(w, "repeat") ? repeat_kind : !strcmp(w, "race") ? race_kind : 0);
	return fail("line %d: unknown item %s", st->lineno, w);
}

/* Splits a line at spaces and tabs; 0 tokens for a blank or '#' line, -1 for too many. */
static int tokenize(char *line, char **toks)
{
	size_t l = strlen(line);
	if (l && line[l - 1] == '\r')
		line[--l] = 0;
	if (!l || line[0] == '#')
		return 0;
	int nt = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nt == MAX_TOKENS)
			return -1;
		toks[nt++] = t;
	}
	return nt;
}

static int check_complete(const struct parse_state *st)
{
	if (!st->seen_header)
		return fail("empty program");
	if (!st->seen_end)
		return fail("the program has no `end` line (truncated?)");
	if (st->body_left)
		return fail("a %s is missing %d op(s)", st->in_race ? "race" : "repeat", st->body_left);
	if (!prog.nops)
		return fail("the program has no ops");
	if (!prog.npipes)
		return fail("the program declares no pipe");
	return 0;
}

int parse_program(char *text)
{
	struct parse_state st = {0};
	char *save = NULL;
	memset(&prog, 0, sizeof prog);
	prog.runs = 1;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *toks[MAX_TOKENS];
		st.lineno++;
		int nt = tokenize(line, toks);
		if (nt < 0)
			return fail("line %d: more than %d items", st.lineno, MAX_TOKENS);
		if (nt && parse_line(&st, toks, nt))
			return -1;
	}
	return check_complete(&st);
}
