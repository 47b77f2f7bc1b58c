/**
 * npm run bench:probe — what the probe's checking costs on the streaming presets, against a baseline
 * measured in the same run: a bare C loop doing the same system calls (splice a 1 MiB file into a
 * 1 MiB pipe, pwrite one page, read the pipe dry) with no shadow, no snapshot, no comparison, no
 * perf counters. Both run on the same scratch directory (/dev/shm when it is a tmpfs).
 * Prints wall times, MiB/s and the ratio probe / baseline; asserts nothing. Known: a probe process
 * with perf tracepoint counters takes ~170 ms longer to exit (the kernel unregisters the tracepoints
 * and waits for RCU), which dominates the small preset.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync, statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPreset } from '../src/main/presets'
import { compileProgram, probeArgs } from '../src/shared/probe/program'
import { ObservationBuilder } from '../src/shared/probe/output'

const PAGE = 4096
const TMPFS_MAGIC = 0x01021994

const BASELINE_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	const size_t MB = 1 << 20; int times = atoi(argv[2]), write_page = atoi(argv[3]);
	char path[4096]; snprintf(path, sizeof path, "%s/splicelab-bench-%d", argv[1], (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600); static char buf[1 << 20], page[4096];
	memset(buf, 7, MB); memset(page, 0x42, sizeof page);
	for (size_t o = 0; o < MB; o += 4096) pwrite(fd, buf + o, 4096, o);
	fsync(fd);
	int p[2]; pipe2(p, O_NONBLOCK); fcntl(p[1], F_SETPIPE_SZ, (int)MB);
	struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < times; i++) {
		loff_t off = 0; splice(fd, &off, p[1], NULL, MB, SPLICE_F_NONBLOCK);
		if (write_page) pwrite(fd, page, sizeof page, 16 * 4096);
		while (read(p[0], buf, MB) > 0) ;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	unlink(path);
	printf("%.0f\n", (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
	return 0;
}
`

function scratchDir(): string {
  try {
    if (statfsSync('/dev/shm').type === TMPFS_MAGIC) return mkdtempSync('/dev/shm/splicelab-bench-')
  } catch {
    // no /dev/shm: fall through
  }
  return mkdtempSync(join(tmpdir(), 'splicelab-bench-scratch-'))
}

function main(): void {
  const work = mkdtempSync(join(tmpdir(), 'splicelab-bench-probe-'))
  const scratch = scratchDir()
  try {
    const probe = join(work, 'probe')
    const baseline = join(work, 'baseline')
    const dir = fileURLToPath(new URL('../resources/probe/', import.meta.url))
    const sources = readdirSync(dir).filter((n) => n.endsWith('.c')).map((n) => join(dir, n))
    execFileSync('gcc', ['-O2', '-Wall', '-o', probe, ...sources])
    writeFileSync(join(work, 'baseline.c'), BASELINE_C)
    execFileSync('gcc', ['-O2', '-o', baseline, join(work, 'baseline.c')])
    console.log(`scratch: ${scratch}`)
    for (const [name, writePage] of [['streaming-1gib', 1], ['streaming-readonly', 0]] as const) {
      const s = loadPreset(name, PAGE)
      const repeat = s.ops[0]
      if (!repeat || repeat.op !== 'repeat') throw new Error(`${name}: expected a repeat as its first op`)
      const program = join(work, `${name}.txt`)
      writeFileSync(program, compileProgram(s, { pageSize: PAGE }))
      const best = (f: () => number) => Math.min(f(), f(), f())
      let syscallMs = Infinity
      const probeMs = best(() => {
        const t0 = performance.now()
        const r = spawnSync(probe, probeArgs({ programPath: program, dir: scratch }), { encoding: 'utf8', maxBuffer: 64 << 20 })
        const ms = performance.now() - t0
        const b = new ObservationBuilder()
        b.push(r.stdout)
        const obs = b.finish(r.status === 0 ? undefined : `exit ${r.status}`)
        if (obs.incomplete) throw new Error(`${name}: ${obs.incomplete.reason}`)
        const body = obs.ops.filter((o) => o.path.includes('.body['))
        syscallMs = Math.min(syscallMs, body.reduce((n, o) => n + o.ns, 0) / 1e6)
        return ms
      })
      const baseMs = best(() => Number(execFileSync(baseline, [scratch, String(repeat.times), String(writePage)], { encoding: 'utf8' }).trim()) / 1e6)
      const mib = repeat.times
      const usage = spawnSync('/usr/bin/time', ['-f', '%U %S', probe, ...probeArgs({ programPath: program, dir: scratch })], { encoding: 'utf8', maxBuffer: 64 << 20 })
      const [user, sys] = usage.stderr.trim().split('\n').pop()!.split(' ').map(Number)
      console.log(
        `${name}: probe CPU ${(((user ?? 0) + (sys ?? 0)) * 1000).toFixed(0)} ms (user ${((user ?? 0) * 1000).toFixed(0)}, sys ${((sys ?? 0) * 1000).toFixed(0)}), wall ${probeMs.toFixed(0)} ms (${((mib / probeMs) * 1000).toFixed(0)} MiB/s, process start and checks included; its ops' own syscalls ${syscallMs.toFixed(0)} ms), ` +
          `bare syscall loop ${baseMs.toFixed(0)} ms (${((mib / baseMs) * 1000).toFixed(0)} MiB/s); ratio probe/baseline ${(probeMs / baseMs).toFixed(2)}×`,
      )
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
    rmSync(scratch, { recursive: true, force: true })
  }
}

main()
