/**
 * npm run bench:trace — how fast the lab reads ftrace events, against baselines measured in the same
 * run on the same events:
 *   - the text parser (trace_pipe's format) against `trace-cmd report` and a bare split-into-lines
 *     loop (the floor any text parser pays);
 *   - the binary reader (trace_pipe_raw pages) against the text parser and `trace-cmd report`;
 *   - a live flood (a splice/tee/vmsplice loop for several seconds) through the text path and the
 *     binary path of the tracer: events made, read and lost, and the lab's CPU time per million events.
 *
 * The events are real: two private instances record the same workload at once (every event goes to
 * both). Of the first, the `trace` file (the trace_pipe text format) is read without consuming, then
 * its trace_pipe_raw pages; `trace-cmd extract -B` saves the second as trace.dat (extract consumes
 * the buffer it reads, hence the twin). `trace-cmd record` is never used (it rewrites global ftrace
 * state); the global settings are compared before and after and must not change.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, rmdirSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { TraceStreamParser, type TraceRecord } from '../src/shared/trace/parser'
import { TraceAggregator } from '../src/shared/trace/aggregate'
import { DEFAULT_EVENTS } from '../src/main/lab/tracer'
import { layoutFiles, readPagesNow } from '../src/main/lab/trace-raw'
import { parseFormatBundle, type TraceFormats } from '../src/shared/trace/raw/format'
import { RawTraceDecoder } from '../src/shared/trace/raw/decoder'
import { flood } from './trace-flood'

const TRACEFS = '/sys/kernel/tracing'
const GLOBAL_SETTINGS = ['tracing_on', 'current_tracer', 'buffer_size_kb', 'trace_clock', 'set_event', 'set_event_pid', 'trace_options']
const snapshot = (): string => GLOBAL_SETTINGS.map((f) => readFileSync(join(TRACEFS, f), 'utf8')).join('\n')

/**
 * A splice-heavy loop: what a probe run looks like to the tracer (splice, tee and vmsplice enter/exit
 * with their long argument lists, page-cache adds and deletes, page allocations), not just the
 * kmem events a plain copy makes.
 */
export const SPLICE_LOOP_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
static char buf[65536], sink[65536];
static void drain(int fd) { while (read(fd, sink, sizeof sink) > 0) ; }
int main(int argc, char **argv) {
	int iters = atoi(argv[2]);
	char path[4096]; snprintf(path, sizeof path, "%s/splicelab-bench-trace", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), p[2], q[2];
	if (fd < 0 || pipe2(p, O_NONBLOCK) || pipe2(q, O_NONBLOCK)) return 1;
	fcntl(p[1], F_SETPIPE_SZ, 65536); fcntl(q[1], F_SETPIPE_SZ, 65536);
	memset(buf, 7, sizeof buf);
	for (int i = 0; i < iters; i++) {
		for (int k = 0; k < 4; k++) pwrite(fd, buf, 4096, k * 4096);
		for (int k = 0; k < 4; k++) { loff_t off = k * 4096; splice(fd, &off, p[1], NULL, 4096, SPLICE_F_NONBLOCK); }
		tee(p[0], q[1], 65536, SPLICE_F_NONBLOCK);
		drain(p[0]); drain(q[0]);
		struct iovec v = { buf, 8192 }; vmsplice(p[1], &v, 1, 0); drain(p[0]);
		ftruncate(fd, 0);
	}
	unlink(path);
	return 0;
}
`

interface Workload {
  name: string
  events: readonly string[]
  run: (work: string) => void
}

const WORKLOADS: Workload[] = [
  {
    name: 'page cache (dd | cat, 6 × 256 MiB)',
    events: ['kmem/mm_page_alloc', 'kmem/mm_page_free', 'filemap/mm_filemap_add_to_page_cache', 'filemap/mm_filemap_delete_from_page_cache', 'syscalls/sys_enter_splice', 'syscalls/sys_exit_splice'],
    run: (work) => {
      for (let i = 0; i < 6; i++) {
        execFileSync('dd', ['if=/dev/zero', `of=${work}/blob`, 'bs=1M', 'count=256', 'status=none'])
        execFileSync('sh', ['-c', `cat ${work}/blob | cat > /dev/null; rm ${work}/blob`])
      }
    },
  },
  {
    name: 'splice loop (pwrite, splice, tee, vmsplice, truncate × 25,000)',
    // The events a run traces.
    events: DEFAULT_EVENTS,
    run: (work) => {
      const exe = join(work, 'splice-loop')
      writeFileSync(`${exe}.c`, SPLICE_LOOP_C)
      execFileSync('gcc', ['-O2', '-o', exe, `${exe}.c`])
      execFileSync(exe, [work, '25000'])
    },
  },
]

interface Recorded {
  text: string
  pages: Array<{ cpu: number; page: Uint8Array }>
  formats: TraceFormats
  dat: string | null
}

function recordEvents(work: string, workload: Workload): Recorded {
  // Named like the tracer's own instances (session pid) so cleanStaleInstances removes them after a crash.
  const names = [0, 1].map(() => `splice-lab-${process.pid}-${randomBytes(4).toString('hex')}`)
  const dirs = names.map((n) => join(TRACEFS, 'instances', n))
  const before = snapshot()
  try {
    for (const inst of dirs) {
      execFileSync('mkdir', [inst])
      writeFileSync(join(inst, 'buffer_size_kb'), '65536')
      for (const e of workload.events) writeFileSync(join(inst, 'events', e, 'enable'), '1')
    }
    workload.run(work)
    for (const inst of dirs) writeFileSync(join(inst, 'tracing_on'), '0')
    const text = readFileSync(join(dirs[0]!, 'trace'), 'utf8')
    const formats = parseFormatBundle(execFileSync('tail', ['-n', '+1', ...layoutFiles(workload.events)], { cwd: join(TRACEFS, 'events'), encoding: 'latin1' }))
    const pages = readPagesNow(dirs[0]!, formats.page.dataOffset + formats.page.dataSize)
    const dat = join(work, 'trace.dat')
    const r = spawnSync('trace-cmd', ['extract', '-B', names[1]!, '-o', dat], { stdio: 'ignore' })
    if (snapshot() !== before) throw new Error('global ftrace settings changed during the benchmark; stopping')
    return { text, pages, formats, dat: r.status === 0 && existsSync(dat) ? dat : null }
  } finally {
    for (const inst of dirs) {
      if (!existsSync(inst)) continue
      writeFileSync(join(inst, 'events/enable'), '0')
      rmdirSync(inst)
    }
  }
}

/** Decodes every page (a sync per round of PAGES_PER_SYNC pages, as a live reader does); calls onEvent per record. */
function decodeAll(rec: Recorded, onRecord: (r: TraceRecord) => void): number {
  const d = new RawTraceDecoder({ formats: rec.formats, littleEndian: true, onRecord })
  for (let i = 0; i < rec.pages.length; i++) {
    d.page(rec.pages[i]!.cpu, rec.pages[i]!.page)
    if (i % PAGES_PER_SYNC === PAGES_PER_SYNC - 1) d.sync()
  }
  d.sync()
  return d.events
}
const PAGES_PER_SYNC = 256

function time<T>(fn: () => T): { ms: number; cpuMs: number; value: T } {
  const t = process.hrtime.bigint()
  const c = process.cpuUsage()
  const value = fn()
  const cpu = process.cpuUsage(c)
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, value }
}

/**
 * Medians of `runs` timed calls after one warm-up call (lets the JIT settle): wall time, and the
 * process's CPU time, which a machine shared with other work inflates much less (it still counts
 * this process's GC threads).
 */
function medians(runs: number, fn: () => unknown): { wall: number; cpu: number } {
  fn()
  const times = Array.from({ length: runs }, () => time(fn))
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(runs / 2)]!
  return { wall: mid(times.map((t) => t.ms)), cpu: mid(times.map((t) => t.cpuMs)) }
}

const median = (runs: number, fn: () => unknown): number => medians(runs, fn).wall

/** Wall and CPU time (user + system) of a shell command, through /usr/bin/time. */
function timeCommand(command: string, work: string): { wall: number; cpu: number } {
  const out = join(work, 'time.txt')
  const t = time(() => execFileSync('/usr/bin/time', ['-f', '%U %S', '-o', out, 'sh', '-c', command]))
  const [user, sys] = readFileSync(out, 'utf8').trim().split(/\s+/).slice(-2).map(Number)
  rmSync(out)
  return { wall: t.ms, cpu: ((user ?? NaN) + (sys ?? NaN)) * 1000 }
}

function measure(work: string, workload: Workload): void {
  const rec = recordEvents(work, workload)
  const { text, dat } = rec
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length
  // The stream as it arrives: bytes, decoded 4 KiB at a time as a pty or ssh channel hands them out
  // (split anywhere, decoding included in the time; the text is ASCII, so no character straddles a
  // cut). The baselines scan the same chunks already decoded, which only flatters them.
  const bytes = Buffer.from(text)
  const chunkAt = (i: number): string => bytes.toString('utf8', i, Math.min(bytes.length, i + 4096))
  const chunks: string[] = []
  for (let i = 0; i < bytes.length; i += 4096) chunks.push(chunkAt(i))

  const parseBoth = medians(7, () => {
    const agg = new TraceAggregator()
    const p = new TraceStreamParser((r) => agg.push(r))
    for (let i = 0; i < bytes.length; i += 4096) p.push(chunkAt(i))
    p.end()
    agg.takeBuckets(true)
    if (p.unparsed > 0) throw new Error(`${p.unparsed} lines the parser did not recognise`)
  })
  const parse = parseBoth.wall
  const scan = median(7, () => {
    let n = 0
    for (const c of chunks) for (let i = c.indexOf('\n'); i !== -1; i = c.indexOf('\n', i + 1)) n++
    return n
  })
  const split = median(7, () => {
    let n = 0
    let tail = ''
    for (const c of chunks) {
      const parts = (tail + c).split('\n')
      tail = parts.pop()!
      n += parts.length
    }
    return n
  })
  let report: number | null = null
  let reportCpu = NaN
  if (dat) {
    const out = join(work, 'report.txt')
    const t = timeCommand(`trace-cmd report ${dat} > ${out}`, work)
    report = t.wall
    reportCpu = t.cpu
    rmSync(out)
    rmSync(dat)
  }

  // The binary reader on the same events: decoding alone (records made, bodies not printed), with the
  // aggregation a live run does, and with every body printed (what trace-cmd report does for each event).
  let decoded = 0
  const decodeOnly = medians(7, () => (decoded = decodeAll(rec, () => undefined)))
  const decodeAgg = medians(7, () => {
    const agg = new TraceAggregator()
    decodeAll(rec, (r) => agg.push(r))
    agg.takeBuckets(true)
  })
  let bodyChars = 0
  const decodePrint = medians(3, () => {
    bodyChars = 0
    decodeAll(rec, (r) => {
      if (r.kind === 'event') bodyChars += r.body.length
    })
  })
  const rawBytes = rec.pages.reduce((n, p) => n + p.page.length, 0)

  // Memory bound: the same text pushed 20 times as one endless stream; the heap is measured after a
  // full collection at both ends (npm run bench:trace passes --expose-gc).
  global.gc?.()
  const heap0 = process.memoryUsage().heapUsed
  const agg = new TraceAggregator()
  const p = new TraceStreamParser((r) => agg.push(r))
  for (let k = 0; k < 20; k++) {
    for (const c of chunks) p.push(c)
    agg.takeBuckets()
  }
  global.gc?.()
  const heapGrowthMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20

  const rate = (ms: number): string => `${((lines / ms) * 1000 / 1e6).toFixed(2)} M lines/s`
  console.log(`\n${workload.name}: ${lines} real lines from this kernel (${(text.length / 2 ** 20).toFixed(1)} MiB of text)`)
  console.log(`  parser + aggregation:      ${parse.toFixed(1)} ms  ${rate(parse)}  (median of 7)`)
  console.log(`  baseline newline scan:     ${scan.toFixed(1)} ms  ${rate(scan)}  (parser costs ${(parse / scan).toFixed(1)}× a bare scan)`)
  console.log(`  baseline split('\\n') loop: ${split.toFixed(1)} ms  ${rate(split)}  (parser costs ${(parse / split).toFixed(1)}× split)`)
  if (report !== null) console.log(`  baseline trace-cmd report: ${report.toFixed(1)} ms  ${rate(report)}  → parser is ${(report / parse).toFixed(1)}× faster`)
  else console.log('  baseline trace-cmd report: not measured (trace-cmd missing or extract failed)')
  const mev = (ms: number): string => `${((decoded / ms) * 1000 / 1e6).toFixed(2)} M events/s`
  const both = (t: { wall: number; cpu: number }): string => `${t.wall.toFixed(1)} ms  ${mev(t.wall)}  (CPU ${t.cpu.toFixed(1)} ms, ${mev(t.cpu)})`
  console.log(`  binary reader: ${decoded} events in ${rec.pages.length} trace_pipe_raw pages (${(rawBytes / 2 ** 20).toFixed(1)} MiB, ${(text.length / rawBytes).toFixed(1)}× smaller than the text)${decoded === lines ? ', the same count as the text' : `, text has ${lines}`}`)
  console.log(`    text parser + aggregation, for comparison: ${both(parseBoth)}`)
  console.log(`    decode:                  ${both(decodeOnly)}  median of 7; ${(parseBoth.cpu / decodeOnly.cpu).toFixed(1)}× the text parser + aggregation (CPU)`)
  console.log(`    decode + aggregation:    ${both(decodeAgg)}  ${(parseBoth.cpu / decodeAgg.cpu).toFixed(1)}× the text parser + aggregation (CPU)`)
  console.log(`    decode + every body:     ${both(decodePrint)}  median of 3; ${(bodyChars / 2 ** 20).toFixed(1)} MiB of bodies`)
  if (report !== null) console.log(`    trace-cmd report:        ${report.toFixed(1)} ms  ${mev(report)}  (CPU ${reportCpu.toFixed(1)} ms, ${mev(reportCpu)})  → decode + every body is ${(reportCpu / decodePrint.cpu).toFixed(1)}× faster (CPU)`)
  // Parser and aggregator are used below, so they stay alive through the collection being measured.
  console.log(`  heap growth after streaming ${(p.lines / 1e6).toFixed(1)} M lines (${(agg.events / 1e6).toFixed(1)} M events counted): ${heapGrowthMiB.toFixed(1)} MiB`)
}

async function main(): Promise<void> {
  console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${availableParallelism()} CPUs (wall times grow with load; CPU times much less)`)
  if (!existsSync(join(TRACEFS, 'instances'))) {
    console.error(`bench:trace needs tracefs at ${TRACEFS} (as root: mount -t tracefs nodev ${TRACEFS})`)
    process.exit(2)
  }
  const work = mkdtempSync(join(tmpdir(), 'splice-lab-bench-'))
  try {
    if (!process.argv.includes('--only-flood')) for (const w of WORKLOADS) measure(work, w)
    if (!process.argv.includes('--no-flood')) await flood(work, SPLICE_LOOP_C)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
