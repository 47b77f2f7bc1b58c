import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { parseTraceLine, TraceStreamParser, syscallReturn, fieldsOf, MAX_LINE, type TraceRecord } from './parser'
import { MAX_REMEMBERED_REMOVALS, TraceAggregator } from './aggregate'

const corpus = readFileSync(new URL('../../../test/fixtures/trace/splice-tmpfs.txt', import.meta.url), 'utf8')

function parseAll(chunks: string[]): TraceRecord[] {
  const out: TraceRecord[] = []
  const p = new TraceStreamParser((r) => out.push(r))
  for (const c of chunks) p.push(c)
  p.end()
  return out
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
    expect(fieldsOf('page=0000 pfn=0x16a472 order=2 migratetype=2').order).toBe('2')
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
    const sum = (k: string) => buckets.reduce((s, b) => s + (b.counts[k] ?? 0), 0)
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
      agg.push({ kind: 'event', task: 't', pid: 1, tgid: null, cpu: 0, flags: '.....', ts: 1, name: 'filemap:mm_filemap_delete_from_page_cache', body: `dev 0:26 ino 2 pfn=0x1 ofs=${i * 4096} order=0` })
    expect((agg as unknown as { removed: Set<string> }).removed.size).toBe(MAX_REMEMBERED_REMOVALS)
    // The newest removal is still known: its re-add counts as a reload; the oldest is forgotten.
    agg.push({ kind: 'event', task: 't', pid: 1, tgid: null, cpu: 0, flags: '.....', ts: 1, name: 'filemap:mm_filemap_add_to_page_cache', body: `dev 0:26 ino 2 pfn=0x1 ofs=${(MAX_REMEMBERED_REMOVALS + 999) * 4096} order=0` })
    agg.push({ kind: 'event', task: 't', pid: 1, tgid: null, cpu: 0, flags: '.....', ts: 1, name: 'filemap:mm_filemap_add_to_page_cache', body: 'dev 0:26 ino 2 pfn=0x1 ofs=0 order=0' })
    expect(agg.takeBuckets(true).reduce((s, b) => s + (b.counts.reloads ?? 0), 0)).toBe(1)
  })
})
