/*
 * Which folio sizes does the page cache use for a file written with one write() vs one pwrite() per
 * page, or read back from disk (readahead)? Prints, for each file size in pages, the folio layout
 * as a list of folio sizes in pages, read from /proc/self/pagemap + /proc/kpageflags (root only).
 *   gcc -O2 -Wall -o /tmp/folios docs/stock-rules/folios.c && /tmp/folios <dir> [max pages]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define PG 4096
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

static int pm, kf;

static void layout(const char *label, int fd, long pages) {
	volatile uint8_t *m = mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) { perror("mmap"); exit(2); }
	long sizes[4096], nf = 0;
	for (long i = 0; i < pages; i++) {
		(void)m[i * PG];
		uint64_t e, fl = 0;
		pread(pm, &e, 8, ((uintptr_t)m / PG + i) * 8);
		uint64_t pfn = e & ((1ULL << 55) - 1);
		if (pfn) pread(kf, &fl, 8, pfn * 8);
		if ((fl >> KPF_COMPOUND_TAIL) & 1) sizes[nf - 1]++;
		else sizes[nf++] = 1;
	}
	/* run-length: "4x3 1x1" = three 4-page folios then one single page */
	char out[8192] = "";
	for (long i = 0; i < nf;) {
		long j = i;
		while (j < nf && sizes[j] == sizes[i]) j++;
		snprintf(out + strlen(out), sizeof out - strlen(out), "%ldx%ld ", sizes[i], j - i);
		i = j;
	}
	printf("%-10s %3ld pages: folios %s\n", label, pages, out);
	munmap((void *)m, pages * PG);
}

int main(int argc, char **argv) {
	pm = open("/proc/self/pagemap", O_RDONLY);
	kf = open("/proc/kpageflags", O_RDONLY);
	long max = argc > 2 ? atol(argv[2]) : 20;
	static uint8_t buf[1024 * PG];
	memset(buf, 7, sizeof buf);
	char path[512];
	snprintf(path, sizeof path, "%s/folios", argv[1]);
	long sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 24, 32, 33, 48, 64, 100, 128, 256, 512, 1024};
	for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		long n = sizes[k];
		if (n > max) break;
		for (int mode = 0; mode < 3; mode++) {
			unlink(path);
			int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
			if (mode == 1) { for (long i = 0; i < n; i++) pwrite(fd, buf, PG, i * PG); }
			else write(fd, buf, n * PG);
			fsync(fd);
			if (mode == 2) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			layout(mode == 0 ? "one_write" : mode == 1 ? "per_page" : "readahead", fd, n);
			close(fd);
		}
	}
	unlink(path);
	return 0;
}
