/**
 * The tracer on this machine's real kernel, through the real local pty target: a private ftrace
 * instance that exists while tracing and is gone after (also when the traced process is killed),
 * splice events attributed to the op whose markers bracket them, lost events reported when a tiny
 * ring buffer is flooded, stale instances of dead sessions removed. The global ftrace state is never
 * touched: everything happens under instances/splice-lab-*.
 *
 * The workload is a small C program that writes the probe's marker format itself (so this test does
 * not depend on the probe's program format): op ops[0] splices one 8 KiB file into a pipe, op ops[1]
 * vmsplices 4 KiB of memory, op ops[2] does nothing (no syscall events may land in it).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectTarget, type Target } from '../../src/main/target'
import { shellQuote } from '../../src/main/target/quote'
import { cleanStaleInstances, INSTANCE_PREFIX, openTracer } from '../../src/main/lab/tracer'
import { buildTracepipeOnHost } from '../../src/main/lab/trace-raw'
import type { TraceBucket } from '../../src/shared/run/types'
import { buildMarker } from '../../src/shared/probe/markers'
import { CI, isRoot } from './fixtures/lab'
import { startSshd, sshdAvailable, type SshdFixture } from './fixtures/sshd'

const TRACEFS = '/sys/kernel/tracing'
const cc = ['/usr/bin/cc', '/usr/bin/gcc'].find((p) => existsSync(p))
const skip = CI ? null : !isRoot ? 'needs root (tracefs instances)' : !cc ? 'needs a C compiler for the workload' : null

const WORKLOAD = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
static int marker;
static void mark(const char *text) { if (write(marker, text, strlen(text)) < 0) _exit(3); }
int main(int argc, char **argv) {
  /* argv: marker file path, 8 KiB data file, flood count (0 = normal run) */
  marker = open(argv[1], O_WRONLY);
  int file = open(argv[2], O_RDONLY);
  long flood = atol(argv[3]);
  int p[2];
  if (marker < 0 || file < 0 || pipe(p) < 0) return 2;
  if (flood > 0) {
    /* Many splice calls of one byte each: two events per call, far more than a 4 KiB ring holds. */
    for (long i = 0; i < flood; i++) {
      loff_t off = 0; char c;
      if (splice(file, &off, p[1], NULL, 1, 0) != 1 || read(p[0], &c, 1) != 1) return 4;
    }
    return 0;
  }
  mark("${buildMarker('begin', 'ops[0]')}");
  loff_t off = 0;
  if (splice(file, &off, p[1], NULL, 8192, 0) != 8192) return 5;
  mark("${buildMarker('end', 'ops[0]')}");
  static char buf[4096] __attribute__((aligned(4096)));
  memset(buf, 'x', sizeof buf);
  struct iovec iov = { buf, sizeof buf };
  mark("${buildMarker('begin', 'ops[1]')}");
  if (vmsplice(p[1], &iov, 1, 0) != 4096) return 6;
  mark("${buildMarker('end', 'ops[1]')}");
  mark("${buildMarker('begin', 'ops[2]')}");
  mark("${buildMarker('end', 'ops[2]')}");
  return 0;
}
`

/** Instances this file made; other test files (run tests) may hold live ones of their own meanwhile. */
const made = new Set<string>()
const STALE = `${INSTANCE_PREFIX}4999999-deadbeef`

function instances(): string[] {
  return readdirSync(join(TRACEFS, 'instances')).filter((n) => n.startsWith(INSTANCE_PREFIX))
}

describe.skipIf(skip !== null)(`tracer on the real kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let target: Target
  let dir: string
  let binary: string
  let data: string

  beforeAll(async () => {
    target = await connectTarget('local')
    dir = mkdtempSync(join(tmpdir(), 'splice-lab-tracer-'))
    writeFileSync(join(dir, 'w.c'), WORKLOAD)
    binary = join(dir, 'w')
    execFileSync(cc!, ['-O1', '-Wall', '-o', binary, join(dir, 'w.c')])
    data = join(dir, 'data')
    writeFileSync(data, Buffer.alloc(8192, 'd'))
  })

  afterAll(async () => {
    // Whatever happened above: remove every instance this test's session made, then check none is left.
    for (const name of [...made, STALE]) {
      const d = shellQuote(`${TRACEFS}/instances/${name}`)
      await target?.exec(`[ -d ${d} ] && { echo 0 > ${d}/events/enable; rmdir ${d}; }; true`, { root: true })
    }
    await target?.dispose()
    if (dir) rmSync(dir, { recursive: true, force: true })
    expect(instances().filter((n) => made.has(n) || n === STALE)).toEqual([])
    // Nor any instance whose session is gone (this test's session included, now disposed).
    const orphans = instances().filter((n) => {
      const pid = /^splice-lab-(\d+)-/.exec(n)?.[1]
      return pid === undefined || !existsSync(`/proc/${pid}`)
    })
    expect(orphans).toEqual([])
  })

  it.each([
    ['binary trace_pipe_raw (the default)', false],
    ['text trace_pipe (--text)', true],
  ])('%s: attributes splice and vmsplice to the ops bracketed by the markers; the instance exists only while tracing', async (_, text) => {
    const tracer = await openTracer(target, { text })
    made.add(tracer.instance)
    try {
      expect(tracer.markerPath).toBe(`${TRACEFS}/instances/${tracer.instance}/trace_marker`)
      expect(instances()).toContain(tracer.instance)
      const batches: TraceBucket[][] = []
      await tracer.start((b) => batches.push(b))
      const r = await target.exec(tracer.wrap([binary, tracer.markerPath!, data, '0'].map(shellQuote).join(' ')))
      expect(r.code, r.output).toBe(0)
      const summary = await tracer.stop()
      expect(summary.unavailable).toBeUndefined()
      expect(summary.reader?.kind).toBe(text ? 'text' : 'binary')
      expect(summary.lost).toBe(0)
      expect(summary.perOp['ops[0]']).toMatchObject({ 'syscalls:sys_enter_splice': 1, 'syscalls:sys_exit_splice': 1 })
      expect(summary.perOp['ops[0]']?.['syscalls:sys_enter_vmsplice']).toBeUndefined()
      expect(summary.perOp['ops[1]']).toMatchObject({ 'syscalls:sys_enter_vmsplice': 1, 'syscalls:sys_exit_vmsplice': 1 })
      expect(summary.perOp['ops[1]']?.['syscalls:sys_enter_splice']).toBeUndefined()
      expect(summary.perOp['ops[2]']).toBeUndefined()
      // Only the workload's pid was traced: the shell around it (and this node process) made no splice.
      const splices = Object.values(summary.perOp).reduce((s, c) => s + (c['syscalls:sys_enter_splice'] ?? 0), 0)
      expect(splices, JSON.stringify(summary.perOp)).toBe(1)
      expect(summary.events).toBeGreaterThanOrEqual(4)
    } finally {
      await tracer.dispose()
    }
    expect(instances()).not.toContain(tracer.instance)
  })

  it.skipIf(!sshdAvailable())('over ssh: the tracepipe helper streams binary pages; the same ops get the same events', async () => {
    let sshd: SshdFixture | null = null
    let remote: Target | null = null
    try {
      sshd = await startSshd()
      remote = await connectTarget(sshd.spec)
      const tracer = await openTracer(remote)
      made.add(tracer.instance)
      try {
        await tracer.start(() => undefined)
        const r = await remote.exec(tracer.wrap([binary, tracer.markerPath!, data, '0'].map(shellQuote).join(' ')))
        expect(r.code, r.output).toBe(0)
        const summary = await tracer.stop()
        expect(summary.reader).toEqual({ kind: 'binary', why: expect.stringContaining('tracepipe helper on ssh://') })
        expect(summary.lost).toBe(0)
        expect(summary.perOp['ops[0]']).toMatchObject({ 'syscalls:sys_enter_splice': 1, 'syscalls:sys_exit_splice': 1 })
        expect(summary.perOp['ops[1]']).toMatchObject({ 'syscalls:sys_enter_vmsplice': 1, 'syscalls:sys_exit_vmsplice': 1 })
        // The kept raw text is trace_pipe lines, task names included (from saved_cmdlines).
        expect(tracer.rawText()).toMatch(/^\s+w-\d+\s+\[\d{3}\] \S{5}\s+\d+\.\d{6}: sys_splice\(fd_in: /m)
      } finally {
        await tracer.dispose()
      }
      expect(instances()).not.toContain(tracer.instance)
    } finally {
      await remote?.dispose()
      await sshd?.stop()
    }
  })

  it('a target that provides the helper (as a VM does, built static on the host) streams binary pages through it', async () => {
    const helper = await buildTracepipeOnHost(join(dir, 'tracepipe'), cc!)
    // This machine's session, seen as a remote target without a compiler that hands out its own helper.
    const provided: Target = Object.assign(Object.create(target) as Target, { kind: 'ssh' as const, provideTracepipe: async () => helper })
    const tracer = await openTracer(provided)
    made.add(tracer.instance)
    try {
      await tracer.start(() => undefined)
      const r = await provided.exec(tracer.wrap([binary, tracer.markerPath!, data, '0'].map(shellQuote).join(' ')))
      expect(r.code, r.output).toBe(0)
      const summary = await tracer.stop()
      expect(summary.reader).toEqual({ kind: 'binary', why: `tracepipe helper on local (${helper})` })
      expect(summary.perOp['ops[0]']).toMatchObject({ 'syscalls:sys_enter_splice': 1, 'syscalls:sys_exit_splice': 1 })
      expect(summary.perOp['ops[1]']).toMatchObject({ 'syscalls:sys_enter_vmsplice': 1, 'syscalls:sys_exit_vmsplice': 1 })
    } finally {
      await tracer.dispose()
    }
    expect(instances()).not.toContain(tracer.instance)
  })

  it('removes the instance when the traced process is killed', async () => {
    const tracer = await openTracer(target)
    made.add(tracer.instance)
    try {
      await tracer.start(() => undefined)
      const traced = await target.stream(tracer.wrap('sleep 30'), () => undefined)
      const setPid = `${TRACEFS}/instances/${tracer.instance}/set_event_pid`
      let pid = ''
      for (let i = 0; i < 100 && !pid; i++) {
        pid = (await target.exec(`cat ${shellQuote(setPid)}`, { root: true })).output.trim()
        if (!pid) await new Promise((r) => setTimeout(r, 50))
      }
      expect(pid).toMatch(/^\d+$/)
      expect(instances()).toContain(tracer.instance)
      await target.exec(`kill -9 ${Number(pid)}`, { root: true })
      expect(await traced.done).toBe(128 + 9)
      const summary = await tracer.stop()
      expect(summary.lost).toBe(0)
    } finally {
      await tracer.dispose()
    }
    expect(instances()).not.toContain(tracer.instance)
  })

  it.each([
    ['binary', false],
    ['text', true],
  ])('%s: reports lost events when a tiny ring buffer is flooded', async (_, text) => {
    const tracer = await openTracer(target, { bufferKb: 4, events: ['syscalls/sys_enter_splice', 'syscalls/sys_exit_splice'], text })
    made.add(tracer.instance)
    try {
      await tracer.start(() => undefined)
      const r = await target.exec(tracer.wrap([binary, tracer.markerPath!, data, '200000'].map(shellQuote).join(' ')), { timeoutMs: 120_000 })
      expect(r.code, r.output).toBe(0)
      const summary = await tracer.stop()
      expect(summary.reader?.kind).toBe(text ? 'text' : 'binary')
      // 400 000 events through a 4 KiB per-CPU ring: the kernel must have overwritten some.
      expect(summary.lost).toBeGreaterThan(0)
      // Every one of the 200 000 calls' enter and exit is either read or counted lost, once.
      expect(summary.events + summary.lost).toBe(400_000)
    } finally {
      await tracer.dispose()
    }
    expect(instances()).not.toContain(tracer.instance)
  })

  it('falls back to text, saying why, when the layout of an event cannot be decoded', async () => {
    // ras/non_standard_event prints a UUID (%pU), which the binary reader does not print; it never fires here.
    const tracer = await openTracer(target, { events: ['syscalls/sys_enter_splice', 'syscalls/sys_exit_splice', 'ras/non_standard_event'] })
    made.add(tracer.instance)
    try {
      await tracer.start(() => undefined)
      const r = await target.exec(tracer.wrap([binary, tracer.markerPath!, data, '0'].map(shellQuote).join(' ')))
      expect(r.code, r.output).toBe(0)
      const summary = await tracer.stop()
      expect(summary.reader).toEqual({ kind: 'text', why: expect.stringMatching(/binary trace_pipe_raw unavailable: events\/ras\/non_standard_event\/format: print fmt has %pU/) })
      expect(summary.perOp['ops[0]']).toMatchObject({ 'syscalls:sys_enter_splice': 1 })
    } finally {
      await tracer.dispose()
    }
  })

  it('falls back to text mid-run when an event it has no layout for arrives, and keeps tracing', async () => {
    const tracer = await openTracer(target, { events: ['syscalls/sys_enter_splice', 'syscalls/sys_exit_splice'] })
    made.add(tracer.instance)
    try {
      await tracer.start(() => undefined)
      // Someone enables another event in the instance behind the tracer's back.
      await target.exec(`echo 1 > ${shellQuote(`${TRACEFS}/instances/${tracer.instance}/events/syscalls/sys_enter_read/enable`)}`, { root: true })
      for (let i = 0; i < 3; i++) {
        const r = await target.exec(tracer.wrap([binary, tracer.markerPath!, data, '0'].map(shellQuote).join(' ')))
        expect(r.code, r.output).toBe(0)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const summary = await tracer.stop()
      expect(summary.reader?.kind).toBe('text')
      expect(summary.reader?.why).toMatch(/the binary reader stopped: cpu \d+: event id \d+ is not among the formats read at start/)
      // The text reader went on: later runs' splices were still counted.
      expect(summary.perOp['ops[0]']?.['syscalls:sys_enter_splice']).toBeGreaterThanOrEqual(1)
    } finally {
      await tracer.dispose()
    }
  })

  it('cleans instances left by a session that is gone, and leaves live ones alone', async () => {
    // A pid that cannot be alive (above pid_max's ceiling of 2^22) stands for a crashed session.
    const stale = STALE
    const live = await openTracer(target)
    made.add(live.instance)
    try {
      await target.exec(`mkdir ${shellQuote(`${TRACEFS}/instances/${stale}`)}`, { root: true })
      expect(instances()).toContain(stale)
      const removed = await cleanStaleInstances(target)
      expect(removed).toContain(stale)
      expect(removed).not.toContain(live.instance)
      expect(instances()).not.toContain(stale)
      expect(instances()).toContain(live.instance)
    } finally {
      await live.dispose()
    }
    expect(instances()).not.toContain(live.instance)
  })

  it('never touches the global tracing state', async () => {
    const before = execFileSync('sh', ['-c', `cat ${TRACEFS}/buffer_size_kb ${TRACEFS}/set_event ${TRACEFS}/set_event_pid ${TRACEFS}/tracing_on`], { encoding: 'utf8' })
    const tracer = await openTracer(target, { bufferKb: 64 })
    made.add(tracer.instance)
    await tracer.start(() => undefined)
    await tracer.stop()
    await tracer.dispose()
    const after = execFileSync('sh', ['-c', `cat ${TRACEFS}/buffer_size_kb ${TRACEFS}/set_event ${TRACEFS}/set_event_pid ${TRACEFS}/tracing_on`], { encoding: 'utf8' })
    expect(after).toBe(before)
  })

  it('splice-lab trace records one pid tree to a file, prints counts and lost events, and leaves no instance', () => {
    // A shell that keeps forking the workload: the children are traced through options/event-fork.
    const loop = spawn('sh', ['-c', `while :; do ${[binary, '/dev/null', data, '500'].map(shellQuote).join(' ')} || exit 1; sleep 0.05; done`], { stdio: 'ignore' })
    const out = join(dir, 'raw.txt')
    try {
      const cli = spawnSync('npx', ['tsx', 'src/main/cli/index.ts', 'trace', '--duration', '1.5', '--pid', String(loop.pid), '--events', 'syscalls:sys_enter_splice,syscalls/sys_exit_splice', '--out', out], { encoding: 'utf8', timeout: 60_000 })
      expect(cli.status, cli.stderr).toBe(0)
      expect(cli.stdout).toMatch(/^syscalls:sys_enter_splice\s+\d+$/m)
      expect(cli.stdout).toMatch(/^lost events: \d+/m)
      const raw = readFileSync(out, 'utf8')
      const pids = new Set([...raw.matchAll(/-(\d+)\s+\[\d+\]/g)].map((m) => Number(m[1])))
      expect(pids.size).toBeGreaterThan(0)
      // Only the loop's children (fresh pids, never this process or the CLI's own).
      expect(pids.has(process.pid)).toBe(false)
      expect(raw).toContain('sys_splice(')
    } finally {
      loop.kill('SIGKILL')
    }
    const bad = spawnSync('npx', ['tsx', 'src/main/cli/index.ts', 'trace', '--duration', '1', '--events', 'kmem:no_such_event', '--out', out], { encoding: 'utf8', timeout: 60_000 })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('no_such_event')
    expect(instances().filter((n) => !existsSync(`/proc/${/^splice-lab-(\d+)-/.exec(n)?.[1]}`))).toEqual([])
  })
})
