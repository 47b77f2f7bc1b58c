/**
 * npm run bench:trace — how fast the ftrace text parser goes, against two baselines measured in the
 * same run on the same events: `trace-cmd report` (Debian's trace-cmd, decoding the binary buffer of
 * the same instance) and a bare split-into-lines loop (the floor any text parser pays).
 *
 * The events are real: a private instance records a page-cache-heavy workload, its `trace` file (the
 * trace_pipe text format) is read without consuming, then `trace-cmd extract -B` saves the same
 * buffer as trace.dat. `trace-cmd record` is never used (it rewrites global ftrace state); extract
 * reads the instance only (the global settings are compared before and after and must not change).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { TraceStreamParser } from '../src/shared/trace/parser'
import { TraceAggregator } from '../src/shared/trace/aggregate'

const TRACEFS = '/sys/kernel/tracing'
const GLOBAL_SETTINGS = ['tracing_on', 'current_tracer', 'buffer_size_kb', 'trace_clock', 'set_event', 'set_event_pid', 'trace_options']
const snapshot = (): string => GLOBAL_SETTINGS.map((f) => readFileSync(join(TRACEFS, f), 'utf8')).join('\n')

function recordEvents(work: string): { text: string; dat: string | null } {
  // Named like the tracer's own instances (session pid) so cleanStaleInstances removes it after a crash.
  const name = `splice-lab-${process.pid}-${randomBytes(4).toString('hex')}`
  const inst = join(TRACEFS, 'instances', name)
  const before = snapshot()
  execFileSync('mkdir', [inst])
  try {
    writeFileSync(join(inst, 'buffer_size_kb'), '65536')
    for (const e of ['kmem/mm_page_alloc', 'kmem/mm_page_free', 'filemap/mm_filemap_add_to_page_cache', 'filemap/mm_filemap_delete_from_page_cache', 'syscalls/sys_enter_splice', 'syscalls/sys_exit_splice'])
      writeFileSync(join(inst, 'events', e, 'enable'), '1')
    for (let i = 0; i < 6; i++) {
      execFileSync('dd', ['if=/dev/zero', `of=${work}/blob`, 'bs=1M', 'count=256', 'status=none'])
      execFileSync('sh', ['-c', `cat ${work}/blob | cat > /dev/null; rm ${work}/blob`])
    }
    writeFileSync(join(inst, 'tracing_on'), '0')
    const text = readFileSync(join(inst, 'trace'), 'utf8')
    const dat = join(work, 'trace.dat')
    const r = spawnSync('trace-cmd', ['extract', '-B', name, '-o', dat], { stdio: 'ignore' })
    if (snapshot() !== before) throw new Error('global ftrace settings changed during the benchmark; stopping')
    return { text, dat: r.status === 0 && existsSync(dat) ? dat : null }
  } finally {
    if (existsSync(inst)) {
      for (const e of ['kmem', 'filemap', 'syscalls']) writeFileSync(join(inst, 'events', e, 'enable'), '0')
      rmdirSync(inst)
    }
  }
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t = process.hrtime.bigint()
  const value = fn()
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value }
}

function main(): void {
  if (!existsSync(join(TRACEFS, 'instances'))) {
    console.error(`bench:trace needs tracefs at ${TRACEFS} (as root: mount -t tracefs nodev ${TRACEFS})`)
    process.exit(2)
  }
  const work = mkdtempSync(join(tmpdir(), 'splice-lab-bench-'))
  try {
    const { text, dat } = recordEvents(work)
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length
    // Chunks like a pty delivers them, split anywhere.
    const chunks: string[] = []
    for (let i = 0; i < text.length; i += 4096) chunks.push(text.slice(i, i + 4096))

    const runParser = (): number => {
      const agg = new TraceAggregator()
      const p = new TraceStreamParser((r) => agg.push(r))
      for (const c of chunks) p.push(c)
      p.end()
      agg.takeBuckets(true)
      return p.lines
    }
    runParser() // warm-up: let the JIT settle before timing
    const parse = [0, 1, 2].map(() => time(runParser).ms).sort((a, b) => a - b)[1]!
    const split = [0, 1, 2].map(() => time(() => {
      let n = 0
      for (const c of chunks) for (let i = c.indexOf('\n'); i !== -1; i = c.indexOf('\n', i + 1)) n++
      return n
    }).ms).sort((a, b) => a - b)[1]!

    const splitLines = [0, 1, 2].map(() => time(() => {
      let n = 0
      let tail = ''
      for (const c of chunks) {
        const parts = (tail + c).split('\n')
        tail = parts.pop()!
        n += parts.length
      }
      return n
    }).ms).sort((a, b) => a - b)[1]!

    let report: number | null = null
    if (dat) {
      const out = join(work, 'report.txt')
      report = time(() => execFileSync('sh', ['-c', `trace-cmd report ${dat} > ${out}`])).ms
    }

    // Memory bound: the same text pushed 20 times as one endless stream.
    global.gc?.()
    const heap0 = process.memoryUsage().heapUsed
    const agg = new TraceAggregator()
    const p = new TraceStreamParser((r) => agg.push(r))
    for (let k = 0; k < 20; k++) {
      for (const c of chunks) p.push(c)
      agg.takeBuckets()
    }
    const heapGrowthMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20

    const rate = (ms: number): string => `${((lines / ms) * 1000 / 1e6).toFixed(2)} M lines/s`
    console.log(`events: ${lines} real lines from this kernel (${(text.length / 2 ** 20).toFixed(1)} MiB of text)`)
    console.log(`parser + aggregation:  ${parse.toFixed(1)} ms  ${rate(parse)}`)
    console.log(`baseline newline scan: ${split.toFixed(1)} ms  ${rate(split)}  (parser costs ${(parse / split).toFixed(1)}× a bare split)`)
    console.log(`baseline split('\\n') loop: ${splitLines.toFixed(1)} ms  ${rate(splitLines)}  (parser costs ${(parse / splitLines).toFixed(1)}× split)`)
    if (report !== null) console.log(`baseline trace-cmd report: ${report.toFixed(1)} ms  ${rate(report)}  → parser is ${(report / parse).toFixed(1)}× faster`)
    else console.log('baseline trace-cmd report: not measured (trace-cmd missing or extract failed)')
    console.log(`heap growth after streaming ${(lines * 20 / 1e6).toFixed(1)} M lines: ${heapGrowthMiB.toFixed(1)} MiB (per-op counts and pending buckets only)`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

main()
