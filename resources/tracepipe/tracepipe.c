// SPDX-License-Identifier: MIT
/*
 * tracepipe — streams an ftrace instance's binary ring buffer to stdout, for a lab reading it over
 * ssh or a VM's channel (src/main/lab/trace-raw.ts; the frames are src/shared/trace/raw/frames.ts).
 *
 *   tracepipe <instance-dir> <page-size> [<saved_cmdlines path>]
 *
 * Every CPU's per_cpu/cpuN/trace_pipe_raw is opened non-blocking and read until empty, one page per
 * read (tracing_buffers_read hands out one sub-buffer, partly filled ones included, so events reach
 * the lab while the workload runs; splice() of trace_pipe_raw would give full pages only). Each page
 * goes out as a frame; after a round in which every CPU was read until empty comes a SYNC frame (the
 * lab merges CPUs by time up to it). An idle round sleeps POLL_MS: poll() on trace_pipe_raw waits for
 * buffer_percent of the ring (half, by default), which is too late for live charts.
 *
 * Frame: u16 type, u16 cpu, u32 length, payload, in this machine's byte order; the first is HELLO
 * with the u32 0x53504c54, from which the reader tells the byte order. Task names (saved_cmdlines)
 * go out at start and every CMDLINES_MS when they changed. The program ends when stdout closes
 * (EPIPE) or on SIGINT/SIGTERM; it writes nothing but frames to stdout, and reasons to stderr.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { HELLO = 1, PAGE = 2, SYNC = 3, CMDLINES = 4, ERROR = 6 };
#define HELLO_MAGIC 0x53504c54u
#define MAX_CPUS 4096
#define MAX_PAGE (4 << 20)
/* Pages read from one CPU per round before the next CPU's turn (1 MiB of 4 KiB pages). */
#define PAGES_PER_ROUND 256
#define POLL_MS 20
#define CMDLINES_MS 250
#define CMDLINES_MAX (1 << 20)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Writes all of buf; exits quietly when the reader has gone (EPIPE). */
static void write_all(const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(errno == EPIPE ? 0 : 1);
		p += n;
		len -= (size_t)n;
	}
}

static void frame(uint16_t type, uint16_t cpu, const void *payload, uint32_t len)
{
	struct { uint16_t type, cpu; uint32_t len; } h = { type, cpu, len };

	write_all(&h, sizeof(h));
	if (len)
		write_all(payload, len);
}

static void warn_frame(const char *what, const char *path)
{
	char msg[4096];
	int n = snprintf(msg, sizeof(msg), "%s %s: %s", what, path, strerror(errno));

	frame(ERROR, 0, msg, n < 0 ? 0 : (uint32_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends saved_cmdlines when its text changed since the last time. */
static void send_cmdlines(const char *path, char *buf, char *last, size_t *last_len)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return;
	while (len < CMDLINES_MAX && (n = read(fd, buf + len, CMDLINES_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len == *last_len && memcmp(buf, last, len) == 0)
		return;
	memcpy(last, buf, len);
	*last_len = len;
	frame(CMDLINES, 0, buf, (uint32_t)len);
}

int main(int argc, char **argv)
{
	static int fds[MAX_CPUS], cpus[MAX_CPUS];
	char path[4096];
	int n = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: tracepipe <instance-dir> <page-size> [<saved_cmdlines>]\n");
		return 2;
	}
	long page_size = strtol(argv[2], NULL, 10);
	if (page_size < 64 || page_size > MAX_PAGE) {
		fprintf(stderr, "tracepipe: page size %s out of range\n", argv[2]);
		return 2;
	}
	const char *cmdlines = argc > 3 ? argv[3] : NULL;

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	uint32_t magic = HELLO_MAGIC;
	frame(HELLO, 0, &magic, sizeof(magic));

	snprintf(path, sizeof(path), "%s/per_cpu", argv[1]);
	DIR *dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "tracepipe: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (struct dirent *d; (d = readdir(dir)) && n < MAX_CPUS;) {
		int cpu;
		char rest;

		if (sscanf(d->d_name, "cpu%d%c", &cpu, &rest) != 1 || cpu < 0 || cpu > 65535)
			continue;
		snprintf(path, sizeof(path), "%s/per_cpu/%s/trace_pipe_raw", argv[1], d->d_name);
		int fd = open(path, O_RDONLY | O_NONBLOCK);
		if (fd < 0) {
			fprintf(stderr, "tracepipe: cannot open %s: %s\n", path, strerror(errno));
			return 1;
		}
		fds[n] = fd;
		cpus[n++] = cpu;
	}
	closedir(dir);
	if (n == 0) {
		fprintf(stderr, "tracepipe: %s/per_cpu has no cpuN directories\n", argv[1]);
		return 1;
	}

	char *page = malloc((size_t)page_size);
	char *cbuf = cmdlines ? malloc(CMDLINES_MAX) : NULL;
	char *clast = cmdlines ? malloc(CMDLINES_MAX) : NULL;
	size_t clast_len = (size_t)-1;
	if (!page || (cmdlines && (!cbuf || !clast)))
		return 1;
	uint64_t last_cmdlines = 0;

	while (!stop) {
		int got_any = 0, more = 0;

		if (cmdlines && now_ms() - last_cmdlines >= CMDLINES_MS) {
			send_cmdlines(cmdlines, cbuf, clast, &clast_len);
			last_cmdlines = now_ms();
		}
		for (int i = 0; i < n; i++) {
			for (int k = 0;; k++) {
				if (k == PAGES_PER_ROUND) {
					more = 1;
					break;
				}
				ssize_t r = read(fds[i], page, (size_t)page_size);

				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && errno != EAGAIN) {
					snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/trace_pipe_raw", argv[1], cpus[i]);
					warn_frame("reading", path);
				}
				if (r <= 0)
					break;
				frame(PAGE, (uint16_t)cpus[i], page, (uint32_t)r);
				got_any = 1;
			}
		}
		if (got_any)
			frame(SYNC, 0, NULL, 0);
		if (!more && !stop) {
			struct timespec ts = { 0, POLL_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return 0;
}
