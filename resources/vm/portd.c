/*
 * Splice Lab stream port daemon: runs inside a VM guest, one per virtio-serial port, and carries
 * one stream at a time (a `cat trace_pipe`, the probe's output) so that bulk data never shares
 * the serial console the lab drives commands through. Built on the host with `gcc -O2 -static`
 * into the lab's initramfs (src/main/target/vm/initramfs.ts); the host side is
 * src/main/target/vm/ports.ts.
 *
 * USAGE   portd PORT_DEVICE            (e.g. /dev/vport0p1)
 *
 * FRAMES, both directions: 1 byte type, 4 bytes length (little endian), then the payload.
 *   host -> guest   'R' run: payload is a shell command (`/bin/sh -c`), in its own session
 *                   'S' signal: payload is one byte, a signal number for the command's group
 *   guest -> host   'H' hello: the daemon is ready (sent once per opening of the port)
 *                   'O' output: bytes the command wrote to its stdout
 *                   'e' error output: bytes the command wrote to its stderr
 *                   'X' exit: 4 bytes, the exit status (128+N when killed by signal N), after the
 *                       command's output has ended (EOF on both pipes) and it was reaped
 *                   'K' keepalive: sent every second while a command runs, so the host can tell a
 *                       quiet command from a hung guest
 *                   'E' error: a message (a run while busy, a failed fork)
 *
 * A port whose host side is not connected reads as end-of-file and polls as hung up
 * (drivers/char/virtio_console.c, port_fops_read/port_fops_poll): the daemon then waits and tries
 * again, so a host that reconnects finds it ready.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_COMMAND (1 << 20)
#define OUT_CHUNK (64 * 1024)
#define KEEPALIVE_MS 1000

static int port = -1;
static pid_t child = -1;
/* The command's stdout and stderr; -1 once each has ended. */
static int child_fd[2] = { -1, -1 };
static const char child_frame[2] = { 'O', 'e' };

/*
 * The port is non-blocking and waited on with short polls: a write or read that has to wait is
 * retried every POLL_MS instead of sleeping until the device's interrupt wakes it. Under TCG a
 * writer blocked on a full port was seen to sleep for seconds after qemu had taken the data (a
 * used-buffer interrupt seen late); port_fops_poll() reclaims what qemu used each time it is asked
 * (drivers/char/virtio_console.c, will_write_block()), so asking often never waits on it.
 */
#define POLL_MS 10

static int wait_fd(int fd, short events)
{
	struct pollfd p = { fd, events, 0 };

	if (poll(&p, 1, POLL_MS) < 0 && errno != EINTR)
		return -1;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (wait_fd(fd, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_frame(char type, const void *payload, uint32_t len)
{
	unsigned char head[5] = { (unsigned char)type, len & 0xff, (len >> 8) & 0xff,
				  (len >> 16) & 0xff, (len >> 24) & 0xff };

	if (write_all(port, head, sizeof(head)) < 0)
		return -1;
	return len ? write_all(port, payload, len) : 0;
}

static int send_text(char type, const char *text)
{
	return send_frame(type, text, (uint32_t)strlen(text));
}

/* Reads exactly len bytes; 0 on success, -1 on error or end of file (host gone). */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (wait_fd(fd, POLLIN) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void start_command(const char *command)
{
	int out[2], err[2];

	if (child > 0) {
		send_text('E', "busy: a command is already running on this port");
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		send_text('E', "pipe failed");
		return;
	}
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		send_text('E', "pipe failed");
		return;
	}
	child = fork();
	if (child < 0) {
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		send_text('E', "fork failed");
		child = -1;
		return;
	}
	if (child == 0) {
		int null = open("/dev/null", O_RDONLY);

		sigset_t none;

		setsid();
		/*
		 * Default dispositions: portd was started in the background by a non-interactive shell,
		 * which ignores SIGINT and SIGQUIT for it (POSIX, "Asynchronous Lists"), and ignored
		 * signals stay ignored across exec: a stream's SIGINT would do nothing.
		 */
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (null >= 0)
			dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	child_fd[0] = out[0];
	child_fd[1] = err[0];
	/* Never block on a pipe: poll says when to read, a read that finds nothing goes back to poll. */
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
}

static void finish_command(void)
{
	int status = 0;
	unsigned char code[4];
	int32_t value;

	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	value = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	code[0] = value & 0xff;
	code[1] = (value >> 8) & 0xff;
	code[2] = (value >> 16) & 0xff;
	code[3] = (value >> 24) & 0xff;
	child = -1;
	send_frame('X', code, 4);
}

/* One frame from the host; -1 when the host went away. */
static int handle_host(void)
{
	unsigned char head[5];
	uint32_t len;
	char *payload;

	if (read_all(port, head, sizeof(head)) < 0)
		return -1;
	len = head[1] | head[2] << 8 | head[3] << 16 | (uint32_t)head[4] << 24;
	if (len > MAX_COMMAND)
		return -1;
	payload = malloc(len + 1);
	if (!payload)
		return -1;
	if (len && read_all(port, payload, len) < 0) {
		free(payload);
		return -1;
	}
	payload[len] = 0;
	if (head[0] == 'R')
		start_command(payload);
	else if (head[0] == 'S' && len == 1 && child > 0)
		kill(-child, (unsigned char)payload[0]);
	free(payload);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Forwards what the command wrote on pipe i (0 stdout, 1 stderr); -1 when the port failed. */
static int forward(int i, char *buf, size_t size)
{
	ssize_t got = read(child_fd[i], buf, size);

	if (got > 0)
		return send_frame(child_frame[i], buf, (uint32_t)got);
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	close(child_fd[i]);
	child_fd[i] = -1;
	return 0;
}

static void close_child_fds(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (child_fd[i] >= 0)
			close(child_fd[i]);
		child_fd[i] = -1;
	}
}

/* Serves the port until the host goes away; the running command (if any) is killed then. */
static void serve(void)
{
	static char buf[OUT_CHUNK];
	long last_sent = now_ms();

	if (send_text('H', "portd 1") < 0)
		return;
	for (;;) {
		struct pollfd fds[3] = { { port, POLLIN, 0 }, { child_fd[0], POLLIN, 0 }, { child_fd[1], POLLIN, 0 } };
		/* While a command runs, look at the port every POLL_MS (see wait_fd) for a stop. */
		int n = poll(fds, 3, child > 0 ? POLL_MS : KEEPALIVE_MS);
		int i, failed = 0;

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (handle_host() < 0)
				break;
		}
		for (i = 0; i < 2 && !failed; i++) {
			if (n > 0 && child_fd[i] >= 0 && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
				failed = forward(i, buf, sizeof(buf)) < 0;
				last_sent = now_ms();
			}
		}
		if (failed)
			break;
		if (child > 0 && child_fd[0] < 0 && child_fd[1] < 0) {
			finish_command();
			last_sent = now_ms();
		}
		if (child > 0 && now_ms() - last_sent >= KEEPALIVE_MS) {
			if (send_frame('K', NULL, 0) < 0)
				break;
			last_sent = now_ms();
		}
	}
	if (child > 0) {
		kill(-child, SIGKILL);
		close_child_fds();
		finish_command();
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: portd PORT_DEVICE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd pfd;

		port = open(argv[1], O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (port < 0) {
			if (errno != EBUSY && errno != ENXIO && errno != ENODEV) {
				perror(argv[1]);
				return 1;
			}
			sleep(1);
			continue;
		}
		/* Until the host connects the port polls as hung up: wait for POLLIN or a clear poll. */
		pfd.fd = port;
		pfd.events = POLLOUT;
		while (poll(&pfd, 1, -1) >= 0 && (pfd.revents & POLLHUP)) {
			usleep(100 * 1000);
			pfd.revents = 0;
		}
		serve();
		close(port);
	}
}
