import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { parseTraceLine, TraceStreamParser, syscallReturn, MAX_LINE, type TraceEvent, type TraceRecord } from './parser'
import { MAX_REMEMBERED_REMOVALS, TraceAggregator } from './aggregate'
import { emptyLiveCounts, LIVE_SERIES, type LiveSeriesName } from '../vocabulary'

const corpus = readFileSync(new URL('../../../test/fixtures/trace/splice-tmpfs.txt', import.meta.url), 'utf8')

function parseAll(chunks: string[]): TraceRecord[] {
  const out: TraceRecord[] = []
  const p = new TraceStreamParser((r) => out.push(r))
  for (const c of chunks) p.push(c)
  p.end()
  return out
}

/** A parsed event for the aggregator tests: only name, body and pid matter to it here. */
function event(name: string, body: string, pid = 1): TraceEvent {
  return { kind: 'event', task: 't', pid, tgid: null, cpu: 0, flags: '.....', ts: 1, name, body }
}

describe('ftrace text parser', () => {
  it('parses every line of a real trace_pipe capture from this kernel', () => {
    const p = new TraceStreamParser(() => {})
    p.push(corpus)
    p.end()
    expect(p.lines).toBeGreaterThan(500)
    expect(p.unparsed).toBe(0)
  })

  it('reads task, pid, cpu, flags, timestamp and event of a page-cache deletion', () => {
    const r = parseTraceLine('              sh-8861    [000] d..2.  2566.556815: mm_filemap_delete_from_page_cache: dev 0:26 ino 2 pfn=0x11bcc9 ofs=0 order=0')
    expect(r).toEqual({
      kind: 'event', task: 'sh', pid: 8861, tgid: null, cpu: 0, flags: 'd..2.', ts: 2566.556815,
      name: 'filemap:mm_filemap_delete_from_page_cache', body: 'dev 0:26 ino 2 pfn=0x11bcc9 ofs=0 order=0',
    })
  })

  it('keeps spaces and dashes in task names and reads the tgid column', () => {
    const r = parseTraceLine(' Web Content-x-12-1234  (  1200) [001] ..s1. 10.000001: mm_page_free: page=0 pfn=0x1 order=0')
    expect(r).toMatchObject({ task: 'Web Content-x-12', pid: 1234, tgid: 1200, cpu: 1, name: 'kmem:mm_page_free' })
  })

  it('names syscall enter and exit events and decodes negative returns', () => {
    const enter = parseTraceLine('  sh-8861 [000] ..... 2566.556457: sys_splice(fd_in: 4, off_in: 0x7ffe, fd_out: 6, off_out: 0, len: 0x2000, flags: 0)')
    const exit = parseTraceLine('  sh-8861 [000] ..... 2566.556462: sys_splice -> 0x2000')
    expect(enter).toMatchObject({ name: 'syscalls:sys_enter_splice' })
    expect(exit).toMatchObject({ name: 'syscalls:sys_exit_splice', body: '0x2000' })
    expect(syscallReturn('0x2000')).toBe(8192)
    expect(syscallReturn('0xfffffffffffffff5')).toBe(-11)
    expect(syscallReturn('0x0')).toBe(0)
    expect(syscallReturn(' 0x10 ')).toBe(16)
    expect(syscallReturn('-22')).toBe(-22)
  })

  it('tells apart event names that start alike, and stays exact past its name cache', () => {
    const line = (name: string) => `  sh-1 [000] ..... 1.000001: ${name}: x=1`
    expect(parseTraceLine(line('mm_page_free'))).toMatchObject({ name: 'kmem:mm_page_free' })
    expect(parseTraceLine(line('mm_page_free_batched'))).toMatchObject({ name: 'kmem:mm_page_free_batched' })
    expect(parseTraceLine(line('mm_page_free'))).toMatchObject({ name: 'kmem:mm_page_free' })
    // More distinct names than the cache holds, twice over: every line still gets its own name.
    const names = Array.from({ length: 40 }, (_, i) => `event_${i % 7}_${'x'.repeat(i % 5)}${i}`)
    for (const n of [...names, ...names.reverse()]) expect(parseTraceLine(line(n))).toMatchObject({ name: n, body: 'x=1' })
  })

  it('reads lines ending in \\r\\n and a last line without a newline', () => {
    const out = parseAll(['  sh-1 [000] ..... 1.5: mm_page_free: page=0 pfn=0x1 order=0\r\n  sh-1 [000] ..... 2.25: sys_tee -> 0x10'])
    expect(out).toMatchObject([{ ts: 1.5, body: 'page=0 pfn=0x1 order=0' }, { ts: 2.25, name: 'syscalls:sys_exit_tee', body: '0x10' }])
  })

  it('reports lost events', () => {
    expect(parseTraceLine('CPU:1 [LOST 123 EVENTS]')).toEqual({ kind: 'lost', cpu: 1, count: 123 })
  })

  it('gives the same records for any split of the stream', () => {
    const whole = parseAll([corpus])
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: corpus.length }), { maxLength: 40 }), (cuts) => {
        const at = [...new Set(cuts)].sort((a, b) => a - b)
        const chunks: string[] = []
        let prev = 0
        for (const c of at) {
          chunks.push(corpus.slice(prev, c))
          prev = c
        }
        chunks.push(corpus.slice(prev))
        expect(parseAll(chunks)).toEqual(whole)
      }),
      { numRuns: 200 },
    )
  })

  it('drops and counts a runaway line instead of buffering it forever', () => {
    const p = new TraceStreamParser(() => {})
    for (let i = 0; i < 5; i++) p.push('x'.repeat(MAX_LINE / 2))
    p.push('\n')
    expect(p.oversized).toBeGreaterThan(0)
  })
})

describe('trace aggregation', () => {
  it('attributes the splice syscall and the moved bytes to the op bracketed by its markers', () => {
    const agg = new TraceAggregator(4096)
    for (const r of parseAll([corpus])) agg.push(r)
    expect(agg.perOp['ops[0]']?.['syscalls:sys_enter_splice']).toBe(1)
    expect(agg.perOp['ops[0]']?.['syscalls:sys_exit_splice']).toBe(1)
    expect(agg.perOp['(between ops)']?.['syscalls:sys_enter_splice']).toBeUndefined()
    const buckets = agg.takeBuckets(true)
    const sum = (k: LiveSeriesName) => buckets.reduce((s, b) => s + b.counts[k], 0)
    expect(sum('bytes')).toBe(8192)
    expect(sum('shared')).toBe(2)
    expect(sum('stolen')).toBe(0)
  })
})

describe('more real captures from this kernel (test/fixtures/trace)', () => {
  const read = (name: string): string => readFileSync(new URL(`../../../test/fixtures/trace/${name}`, import.meta.url), 'utf8')

  it('splice, tee and vmsplice each land in the op their markers bracket', () => {
    const text = read('ops-splice-tee-vmsplice.txt')
    const agg = new TraceAggregator(4096)
    const p = new TraceStreamParser((r) => agg.push(r))
    p.push(text)
    p.end()
    expect(p.unparsed).toBe(0)
    expect(agg.perOp['ops[0]']).toEqual({ 'syscalls:sys_enter_splice': 1, 'syscalls:sys_exit_splice': 1 })
    expect(agg.perOp['ops[1]']).toEqual({ 'syscalls:sys_enter_tee': 1, 'syscalls:sys_exit_tee': 1 })
    expect(agg.perOp['ops[2]']).toEqual({ 'syscalls:sys_enter_vmsplice': 1, 'syscalls:sys_exit_vmsplice': 1 })
    const buckets = agg.takeBuckets(true)
    // 8192 spliced + 8192 teed + 4096 vmspliced.
    expect(buckets.reduce((s, b) => s + (b.counts.bytes ?? 0), 0)).toBe(8192 + 8192 + 4096)
  })

  it('a flooded 4 KiB ring: every LOST line is read and summed, never dropped', () => {
    const text = read('lost-events.txt')
    const expected = [...text.matchAll(/^CPU:\d+ \[LOST (\d+) EVENTS\]$/gm)].reduce((s, m) => s + Number(m[1]), 0)
    expect(expected).toBeGreaterThan(0)
    const agg = new TraceAggregator(4096)
    const p = new TraceStreamParser((r) => agg.push(r))
    p.push(text)
    p.end()
    expect(agg.lost).toBe(expected)
    expect(p.unparsed).toBe(0)
  })
})

describe('aggregation memory', () => {
  it('remembers a bounded number of removed pages however many are deleted', () => {
    const agg = new TraceAggregator(4096)
    for (let i = 0; i < MAX_REMEMBERED_REMOVALS + 1000; i++)
      agg.push(event('filemap:mm_filemap_delete_from_page_cache', `dev 0:26 ino 2 pfn=0x1 ofs=${i * 4096} order=0`))
    expect((agg as unknown as { removed: Set<string> }).removed.size).toBe(MAX_REMEMBERED_REMOVALS)
    // The newest removal is still known: its re-add counts as a reload; the oldest is forgotten.
    agg.push(event('filemap:mm_filemap_add_to_page_cache', `dev 0:26 ino 2 pfn=0x1 ofs=${(MAX_REMEMBERED_REMOVALS + 999) * 4096} order=0`))
    agg.push(event('filemap:mm_filemap_add_to_page_cache', 'dev 0:26 ino 2 pfn=0x1 ofs=0 order=0'))
    expect(agg.takeBuckets(true).reduce((s, b) => s + (b.counts.reloads ?? 0), 0)).toBe(1)
  })
})

/**
 * The grammar as a regex: the parser reads lines by hand for speed, and must agree with this
 * reference on every line (the fixtures, and lines generated with awkward task names and fields).
 */
function referenceParse(line: string): TraceRecord | null {
  if (line.length === 0 || line.startsWith('#')) return null
  const lost = /^CPU:(\d+) \[LOST (\d+) EVENTS\]/.exec(line)
  if (lost) return { kind: 'lost', cpu: Number(lost[1]), count: Number(lost[2]) }
  const m = /-(\d+)[ \t]+(?:\([ \t]*(\d+|-+)\)[ \t]+)?\[(\d+)\][ \t]+([^ \t]+)[ \t]+(\d+\.\d+): ([^:( ]*)/.exec(line)
  if (!m) return null
  const raw = m[6]!
  const systems: Record<string, string> = { mm_filemap_add_to_page_cache: 'filemap', mm_filemap_delete_from_page_cache: 'filemap', mm_page_alloc: 'kmem', mm_page_free: 'kmem', mm_page_free_batched: 'kmem', tracing_mark_write: 'ftrace' }
  const rest = line.slice(m.index + m[0].length)
  let name: string
  let body: string
  if (raw.length > 4 && raw.startsWith('sys_')) {
    const enter = rest.startsWith('(')
    name = `syscalls:sys_${enter ? 'enter' : 'exit'}_${raw.slice(4)}`
    body = enter ? rest : rest.replace(/^ *(->)?/, '').trim()
  } else {
    name = systems[raw] ? `${systems[raw]}:${raw}` : raw
    body = rest.replace(/^:?( *)/, '')
  }
  const tgid = m[2]
  return { kind: 'event', task: line.slice(0, m.index).replace(/^ +/, ''), pid: Number(m[1]), tgid: tgid === undefined || tgid.startsWith('-') ? null : Number(tgid), cpu: Number(m[3]), flags: m[4]!, ts: Number(m[5]), name, body }
}

describe('hand-written line reader against the grammar', () => {
  const fixtures = ['splice-tmpfs.txt', 'ops-splice-tee-vmsplice.txt', 'lost-events.txt']
    .map((f) => readFileSync(new URL(`../../../test/fixtures/trace/${f}`, import.meta.url), 'utf8'))

  it('agrees with the reference on every line of the real captures', () => {
    let n = 0
    for (const text of fixtures)
      for (const line of text.split('\n')) {
        expect(parseTraceLine(line)).toEqual(referenceParse(line))
        n++
      }
    expect(n).toBeGreaterThan(1000)
  })

  it('agrees with the reference on generated lines', () => {
    const taskChar = fc.constantFrom('a', 'z', 'K', '-', ' ', '/', ':', '0', '9', '[', ']', '(', ')', '.')
    const task = fc.array(taskChar, { minLength: 1, maxLength: 20 }).map((cs) => cs.join(''))
    const eventName = fc.constantFrom('mm_page_alloc', 'mm_page_free', 'mm_page_free_batched', 'mm_filemap_add_to_page_cache', 'tracing_mark_write', 'sys_splice', 'sys_tee', 'sys_vmsplice', 'sched_switch', 'sys_', 'x')
    const line = fc.record({
      pad: fc.integer({ min: 0, max: 16 }),
      task,
      pid: fc.integer({ min: 0, max: 4194304 }),
      gap: fc.constantFrom(' ', '    ', '\t'),
      tgid: fc.option(fc.oneof(fc.integer({ min: 1, max: 99999 }).map(String), fc.constant('-------')), { nil: undefined }),
      cpu: fc.integer({ min: 0, max: 512 }),
      flags: fc.constantFrom('.....', 'd..2.', 'dN.1.', '....'),
      ts: fc.tuple(fc.integer({ min: 0, max: 99999999 }), fc.integer({ min: 0, max: 999999 })).map(([s, us]) => `${s}.${String(us).padStart(6, '0')}`),
      name: eventName,
      tail: fc.constantFrom(': page=0 pfn=0x1 order=3', '(fd_in: 4, len: 0x1000)', ' -> 0x1000', ' -> 0xfffffffffffffff5', ':   padded body ', '', ': '),
      junk: fc.constantFrom('', 'x', '-'),
    }).map((l) => `${' '.repeat(l.pad)}${l.task}-${l.pid}${l.gap}${l.tgid === undefined ? '' : `(${l.tgid})${l.gap}`}[${String(l.cpu).padStart(3, '0')}]${l.gap}${l.flags}${l.gap}${l.junk}${l.ts}: ${l.name}${l.tail}`)
    fc.assert(
      fc.property(line, (l) => {
        expect(parseTraceLine(l)).toEqual(referenceParse(l))
      }),
      { numRuns: 3000 },
    )
  })
})

describe('series inferred from tracepoints', () => {
  it('counts copies, steals, sharing and reloads of one splice', () => {
    const lines = [
      '         probe-42      [001] ..... 100.000001: sys_splice(fd_in: 3, off_in: 0x7ffd16b82560, fd_out: 5, off_out: 0, len: 0x4000, flags: 2)',
      '         probe-42      [001] ..... 100.000002: mm_page_alloc: page=0000000060da2d79 pfn=0x200ea8 order=1 migratetype=2 gfp_flags=GFP_KERNEL',
      '         probe-42      [001] ..... 100.000003: mm_filemap_delete_from_page_cache: dev 254:0 ino 20c0c8 pfn=0x16f249 ofs=8192 order=0',
      '         probe-42      [001] ..... 100.000004: sys_splice -> 0x4000',
      // Outside a call: no copy. The same page of the same file comes back: a reload; the same offset
      // of another file (other inode, then other device) does not.
      '         probe-42      [001] ..... 100.000005: mm_page_alloc: page=0000000060da2d79 pfn=0x200ea9 order=0 migratetype=2 gfp_flags=GFP_KERNEL',
      '         probe-42      [001] ..... 100.000006: mm_filemap_add_to_page_cache: dev 254:0 ino 20c0c9 pfn=0x16f24a ofs=8192 order=0',
      '         probe-42      [001] ..... 100.000007: mm_filemap_add_to_page_cache: dev 254:1 ino 20c0c8 pfn=0x16f24a ofs=8192 order=0',
      '         probe-42      [001] ..... 100.000008: mm_filemap_add_to_page_cache: dev 254:0 ino 20c0c8 pfn=0x16f24b ofs=8192 order=0',
      '         probe-42      [001] ..... 100.000009: mm_filemap_add_to_page_cache: dev 254:0 ino 20c0c8 pfn=0x16f24b ofs=8192 order=0',
    ]
    const agg = new TraceAggregator(4096, 42)
    for (const r of parseAll([lines.join('\n')])) agg.push(r)
    const buckets = agg.takeBuckets(true)
    const sum = (k: LiveSeriesName) => buckets.reduce((s, b) => s + b.counts[k], 0)
    // 16 KiB = 4 pages: 2 copied (one order-1 allocation), 1 stolen, so 1 shared.
    expect({ bytes: sum('bytes'), copied: sum('copied'), stolen: sum('stolen'), shared: sum('shared'), reloads: sum('reloads') })
      .toEqual({ bytes: 16384, copied: 2, stolen: 1, shared: 1, reloads: 1 })
  })

  it('keeps files apart past the numbered ones, and keys an unexpected body by itself', () => {
    const agg = new TraceAggregator(4096, 1)
    const ev = (name: string, body: string) => agg.push(event(name, body))
    // 5000 files (more than get a number), each losing page 0, then each read back: 5000 reloads.
    for (let f = 0; f < 5000; f++) ev('filemap:mm_filemap_delete_from_page_cache', `dev 0:26 ino ${f.toString(16)} pfn=0x1 ofs=0 order=0`)
    for (let f = 4999; f >= 0; f--) ev('filemap:mm_filemap_add_to_page_cache', `dev 0:26 ino ${f.toString(16)} pfn=0x2 ofs=0 order=0`)
    ev('filemap:mm_filemap_delete_from_page_cache', 'some other layout')
    ev('filemap:mm_filemap_add_to_page_cache', 'some other layout')
    expect(agg.takeBuckets(true).reduce((s, b) => s + (b.counts.reloads ?? 0), 0)).toBe(5001)
  })
})

describe('series measured from the fix kernel\'s splice_steal and splice_copy tracepoints', () => {
  // Lines as fix-6.1 prints them under splice_policy=steal-or-copy (resources/kernel/steal-or-copy/0007-*.patch).
  const lines = [
    '           <...>-125     [000] .....    13.613667: sys_splice(fd_in: 0xd, off_in: 0x7ffeb3617fd0, fd_out: 0xf, off_out: 0, len: 0x4000, flags: 2)',
    // readahead allocates the pages it reads in: no copy, though a stock kernel's series would infer one
    '           <...>-125     [000] .....    13.613700: mm_page_alloc: page=(ptrval) pfn=0x513e order=0 migratetype=0 gfp_flags=GFP_KERNEL',
    '           <...>-125     [000] .....    13.613800: mm_filemap_delete_from_page_cache: dev 254:0 ino f pfn=0x3650 ofs=0 order=0',
    '           <...>-125     [000] .....    13.614945: splice_steal: src=filemap dev=254:0 ino=0xf pfn=0x3650 index=0 bytes=4096 reason=stolen',
    '           <...>-125     [000] .....    13.615054: splice_copy: src=filemap dev=254:0 ino=0xf pfn=0x3651 index=1 bytes=4096 reason=dirty',
    '           <...>-125     [000] .....    13.615061: splice_copy: src=filemap dev=254:0 ino=0xf pfn=0x3652 index=2 bytes=100 reason=partial',
    '           <...>-125     [000] .....    13.616432: sys_splice -> 0x3064',
    '           <...>-125     [000] .....    13.616500: mm_filemap_add_to_page_cache: dev 254:0 ino f pfn=0x3660 ofs=0 order=0',
  ]
  const sums = (counting: 'measured' | 'inferred') => {
    const agg = new TraceAggregator(4096, 125, counting)
    for (const r of parseAll([lines.join('\n')])) agg.push(r)
    const out = emptyLiveCounts()
    for (const b of agg.takeBuckets(true)) for (const k of LIVE_SERIES) out[k] += b.counts[k]
    return out
  }

  it('counts steals and copies from the events, and bytes copied from their bytes=', () => {
    // 0x3064 bytes = 4 pages rounded up: 1 stolen + 2 copied, so 1 shared.
    expect(sums('measured')).toEqual({ shared: 1, stolen: 1, copied: 2, reloads: 1, bytes: 0x3064, bytesCopied: 4196 })
  })

  it('sums the series per op by the markers in the stream, even when the clock stamps marker and events alike', () => {
    // A guest under TCG: a coarse trace clock gives a marker and the events on both sides one time.
    const at = (l: string) => l.replace(/\d+\.\d+:/, '13.616000:')
    const marker = (m: string) => `           <...>-125     [000] .....    13.616000: tracing_mark_write: splicelab:${m}`
    const agg = new TraceAggregator(4096, 125, 'measured')
    const text = [marker('begin ops[0]'), ...lines.slice(0, 7).map(at), marker('end ops[0]'), marker('begin ops[1]'), at(lines[7]!), marker('end ops[1]')]
    for (const r of parseAll([text.join('\n')])) agg.push(r)
    expect(agg.seriesPerOp['ops[0]']).toEqual({ shared: 1, stolen: 1, copied: 2, reloads: 0, bytes: 0x3064, bytesCopied: 4196 })
    expect(agg.seriesPerOp['ops[1]']).toEqual({ ...emptyLiveCounts(), reloads: 1 })
    // Streamed: the ops that moved, once; then only the op the stream is in.
    expect(Object.keys(agg.takeChangedSeries()).sort()).toEqual(['ops[0]', 'ops[1]'])
    expect(Object.keys(agg.takeChangedSeries())).toEqual(['ops[1]'])
  })

  it('infers them from deletions and allocations on a kernel without them, and knows no bytes copied', () => {
    expect(sums('inferred')).toEqual({ shared: 2, stolen: 1, copied: 1, reloads: 1, bytes: 0x3064, bytesCopied: 0 })
  })
})

describe('aggregation state', () => {
  it('keeps call state only for pids that made pipe calls, however many tasks a whole-machine trace sees', () => {
    const agg = new TraceAggregator(4096)
    for (let pid = 1; pid <= 5000; pid++) agg.push(event('kmem:mm_page_alloc', 'page=0 pfn=0x1 order=0', pid))
    agg.push(event('syscalls:sys_enter_splice', '(fd_in: 3)', 7))
    agg.push(event('kmem:mm_page_alloc', 'page=0 pfn=0x1 order=0', 7))
    agg.push(event('kmem:mm_page_alloc', 'page=0 pfn=0x1 order=0', 8))
    agg.push(event('syscalls:sys_exit_splice', '0x1000', 7))
    expect((agg as unknown as { calls: Map<number, unknown> }).calls.size).toBe(1)
    // Only pid 7's allocation inside its call counts as a copy.
    expect(agg.takeBuckets(true).reduce((n, b) => n + (b.counts.copied ?? 0), 0)).toBe(1)
  })
})
