/*
 * The racy case of DESIGN.md: splice from a file whose pages are not cached while another process
 * punches holes in it. Each trial: a 64-page file, dropped from the cache; a child punches every
 * page hole by hole while the parent splices 16 pages and drains them. Prints how many drained pages
 * were intact, all zeros, or partly zero, over the trials.
 *   gcc -O2 -o /tmp/race docs/stock-rules/race.c && /tmp/race <dir on the fs under test> [trials]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#define PG 4096
#define NP 64

int main(int argc, char **argv) {
	char path[512];
	snprintf(path, sizeof path, "%s/race", argv[1]);
	int trials = argc > 2 ? atoi(argv[2]) : 200;
	static uint8_t data[NP * PG], got[16 * PG];
	for (int i = 0; i < NP * PG; i++) data[i] = (uint8_t)(i % 251 + 1);
	long intact = 0, zero = 0, mixed = 0, short_reads = 0;
	for (int t = 0; t < trials; t++) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (write(fd, data, sizeof data) != sizeof data) return 2;
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		int p[2];
		if (pipe(p)) return 2;
		fcntl(p[1], F_SETPIPE_SZ, 16 * PG);
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 16; i < 32; i++) fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)i * PG, PG);
			_exit(0);
		}
		loff_t off = 16 * PG;
		long n = splice(fd, &off, p[1], NULL, 16 * PG, 0);
		waitpid(pid, NULL, 0);
		long r = n > 0 ? read(p[0], got, (size_t)n) : 0;
		if (r < 16 * PG) short_reads++;
		for (long pg = 0; pg * PG < r; pg++) {
			int z = 0, same = 0;
			for (int b = 0; b < PG; b++) {
				uint8_t v = got[pg * PG + b];
				z += v == 0;
				same += v == data[16 * PG + pg * PG + b];
			}
			if (same == PG) intact++;
			else if (z == PG) zero++;
			else mixed++;
		}
		close(p[0]); close(p[1]); close(fd);
	}
	unlink(path);
	printf("race: %d trials, drained pages intact=%ld zero=%ld partly-zero=%ld, short splices=%ld\n", trials, intact, zero, mixed, short_reads);
	return 0;
}
