/* Output: JSON lines on stdout, one per item, flushed at once (shapes in src/shared/probe/output.ts). */
#include "probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void sb_grow(struct sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		fputs("probe: out of memory\n", stderr);
		_exit(EXIT_INTERNAL);
	}
	b->s = s;
	b->cap = cap;
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_grow(b, (size_t)n);
	if ((size_t)n < sizeof tmp) {
		memcpy(b->s + b->len, tmp, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void sb_char(struct sbuf *b, char c)
{
	sb_grow(b, 1);
	b->s[b->len++] = c;
	b->s[b->len] = 0;
}

void sb_json_str(struct sbuf *b, const char *s)
{
	sb_char(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\u%04x", c);
		else
			sb_char(b, (char)c);
	}
	sb_char(b, '"');
}

void emit(struct sbuf *b)
{
	sb_char(b, '\n');
	fwrite(b->s, 1, b->len, stdout);
	if (fflush(stdout) && errno == EPIPE && !stop_signal)
		stop_signal = SIGPIPE; /* nobody reads us any more: stop and clean up rather than run blind */
	b->len = 0;
}

static const struct {
	int e;
	const char *name;
} errnos[] = {
	{EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"}, {EINTR, "EINTR"}, {EIO, "EIO"},
	{ENXIO, "ENXIO"}, {E2BIG, "E2BIG"}, {EBADF, "EBADF"}, {ECHILD, "ECHILD"}, {EAGAIN, "EAGAIN"},
	{ENOMEM, "ENOMEM"}, {EACCES, "EACCES"}, {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"},
	{EXDEV, "EXDEV"}, {ENODEV, "ENODEV"}, {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"}, {EINVAL, "EINVAL"},
	{ENFILE, "ENFILE"}, {EMFILE, "EMFILE"}, {ETXTBSY, "ETXTBSY"}, {EFBIG, "EFBIG"}, {ENOSPC, "ENOSPC"},
	{ESPIPE, "ESPIPE"}, {EROFS, "EROFS"}, {EPIPE, "EPIPE"}, {ERANGE, "ERANGE"}, {ENOSYS, "ENOSYS"},
	{EOPNOTSUPP, "EOPNOTSUPP"}, {ETIMEDOUT, "ETIMEDOUT"}, {EOVERFLOW, "EOVERFLOW"},
	{ENAMETOOLONG, "ENAMETOOLONG"}, {EDQUOT, "EDQUOT"},
};

/* The errno's name ("EINVAL"), or NULL for one this table does not know. */
const char *errno_name(int e)
{
	if (e == 0)
		return "OK";
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
		if (errnos[i].e == e)
			return errnos[i].name;
	return NULL;
}

/* The signals that stop the probe, by name (the done line and the error line say which). */
const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	case SIGPIPE: return "SIGPIPE";
	default: return "a signal";
	}
}

void sb_errno(struct sbuf *b, int e)
{
	if (e == 0) {
		sb_printf(b, "null");
		return;
	}
	if (e == ERR_SIGBUS || e == ERR_SIGSEGV) {
		sb_printf(b, "\"%s\"", e == ERR_SIGBUS ? "SIGBUS" : "SIGSEGV");
		return;
	}
	const char *n = errno_name(e);
	if (n)
		sb_printf(b, "\"%s\"", n);
	else
		sb_printf(b, "\"E%d\"", e);
}

void emit_error(const char *code, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct sbuf b = {0};
	sb_printf(&b, "{\"type\":\"error\",\"code\":");
	sb_json_str(&b, code);
	sb_printf(&b, ",\"message\":");
	sb_json_str(&b, msg);
	if (path) {
		sb_printf(&b, ",\"path\":");
		sb_json_str(&b, path);
	}
	sb_printf(&b, "}");
	emit(&b);
	free(b.s);
}
