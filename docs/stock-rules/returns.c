/*
 * Return values at the edges of the pipe ring and the file: EOF, full pipe, slot granularity of
 * splice/vmsplice, tee of an empty pipe, zero range support. Output: docs/stock-rules/returns-6.18.txt
 *   gcc -O2 -o /tmp/returns docs/stock-rules/returns.c && /tmp/returns <dir on the fs under test>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#define PG 4096
static void show(const char *what, long r) { printf("%-50s ret=%ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : ""); }
int main(int argc, char **argv) {
	char path[256]; snprintf(path, sizeof path, "%s/r", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	static char buf[64 * PG] __attribute__((aligned(4096))); memset(buf, 7, sizeof buf);
	write(fd, buf, 3 * PG + 100);
	int p[2]; pipe2(p, O_NONBLOCK);
	show("F_SETPIPE_SZ 3p -> (getsz)", (fcntl(p[1], F_SETPIPE_SZ, 3 * PG), fcntl(p[1], F_GETPIPE_SZ)));
	loff_t o = 3 * PG; show("splice 1p at 3p of 3p+100 file", splice(fd, &o, p[1], NULL, PG, SPLICE_F_NONBLOCK));
	o = 4 * PG; show("splice at 4p (past EOF)", splice(fd, &o, p[1], NULL, PG, SPLICE_F_NONBLOCK));
	char rb[64 * PG]; show("drain", read(p[0], rb, sizeof rb));
	show("drain empty", read(p[0], rb, sizeof rb));
	o = 0; show("splice 8p into 4p pipe", splice(fd, &o, p[1], NULL, 8 * PG, SPLICE_F_NONBLOCK));
	o = 0; show("splice again into the full pipe", splice(fd, &o, p[1], NULL, PG, SPLICE_F_NONBLOCK));
	read(p[0], rb, sizeof rb);
	o = 100; show("splice 4p from offset 100 (4p pipe, file 3p+100)", splice(fd, &o, p[1], NULL, 4 * PG, SPLICE_F_NONBLOCK));
	read(p[0], rb, sizeof rb);
	show("F_SETPIPE_SZ 1p", (fcntl(p[1], F_SETPIPE_SZ, PG), fcntl(p[1], F_GETPIPE_SZ)));
	o = 100; show("splice 2p from offset 100 into a 1-page pipe", splice(fd, &o, p[1], NULL, 2 * PG, SPLICE_F_NONBLOCK));
	read(p[0], rb, sizeof rb);
	show("F_SETPIPE_SZ 2p", (fcntl(p[1], F_SETPIPE_SZ, 2*PG), fcntl(p[1], F_GETPIPE_SZ)));
	o = 100; show("splice 3p from offset 100 into a 2-page pipe", splice(fd, &o, p[1], NULL, 3 * PG, SPLICE_F_NONBLOCK));
	read(p[0], rb, sizeof rb);
	struct iovec iov = { buf + 100, 3 * PG }; show("vmsplice 3p from +100 into 2-page pipe", vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK));
	show("drain 100 bytes", read(p[0], rb, 100));
	show("drain rest", read(p[0], rb, sizeof rb));
	int q[2]; pipe2(q, O_NONBLOCK);
	show("tee from empty pipe", tee(p[0], q[1], PG, SPLICE_F_NONBLOCK));
	o = 0; splice(fd, &o, p[1], NULL, PG, SPLICE_F_NONBLOCK);
	show("tee 2p when p holds 1p", tee(p[0], q[1], 2 * PG, SPLICE_F_NONBLOCK));
	show("fallocate zero range", fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 100));
	return 0;
}
