import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { bucketsCsv, eventsOfText, perOpCsv, toPerfetto, type TraceFormatEvent, type TraceFormatFile } from './export'
import { TraceStreamParser, type TraceEvent } from './parser'
import { TraceAggregator } from './aggregate'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import type { RunRecord, TraceBucket } from '../run/types'
import { emptyLiveCounts, type LiveCounts } from '../vocabulary'

const corpus = readFileSync(new URL('../../../test/fixtures/trace/splice-tmpfs.txt', import.meta.url), 'utf8')

const record = (): RunRecord =>
  tinyRecord({ read: 8192, ns: 25_000, traceMarker: true, trace: { instance: 'splice-lab-1-ab', events: 3, lost: 2, perOp: { 'ops[0]': { 'syscalls:sys_enter_splice': 1, 'kmem:mm_page_alloc': 2 } } } })

function corpusEvents(): { events: TraceEvent[]; buckets: TraceBucket[] } {
  const events: TraceEvent[] = []
  const agg = new TraceAggregator(4096)
  const p = new TraceStreamParser((r) => {
    agg.push(r)
    if (r.kind === 'event') events.push(r)
  })
  p.push(corpus)
  p.end()
  return { events, buckets: agg.takeBuckets(true) }
}

/**
 * Structural check of the Trace Event Format (the subset Perfetto's JSON importer needs): a JSON
 * object with a traceEvents array; every event has a string name, a known ph, finite non-negative
 * ts in µs, integer pid/tid; X has a non-negative dur; i has a scope; C args are all numbers.
 */
function traceFormatProblems(file: unknown): string[] {
  const problems: string[] = []
  const parsed = JSON.parse(JSON.stringify(file)) as Partial<TraceFormatFile>
  if (!Array.isArray(parsed.traceEvents)) return ['traceEvents is not an array']
  parsed.traceEvents.forEach((e: TraceFormatEvent, i) => {
    const at = `traceEvents[${i}] (${e.ph} ${e.name})`
    if (typeof e.name !== 'string' || e.name === '') problems.push(`${at}: no name`)
    if (!['X', 'i', 'C', 'M'].includes(e.ph)) problems.push(`${at}: unknown ph`)
    if (!Number.isFinite(e.ts) || e.ts < 0) problems.push(`${at}: bad ts ${e.ts}`)
    if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid)) problems.push(`${at}: pid/tid not integers`)
    if (e.ph === 'X' && !(Number.isFinite(e.dur) && e.dur! >= 0)) problems.push(`${at}: X without a dur`)
    if (e.ph === 'i' && !['t', 'p', 'g'].includes(e.s ?? '')) problems.push(`${at}: instant without scope`)
    if (e.ph === 'C' && (!e.args || Object.values(e.args).some((v) => typeof v !== 'number'))) problems.push(`${at}: counter args not numbers`)
    if (e.ph === 'M' && typeof e.args?.name !== 'string') problems.push(`${at}: metadata without a name`)
  })
  return problems
}

describe('Perfetto / Trace Event Format export', () => {
  it('writes valid Trace Event Format: op slices from the markers, kernel instants, counter tracks', () => {
    const { events, buckets } = corpusEvents()
    const file = toPerfetto(record(), { events, buckets })
    expect(traceFormatProblems(file)).toEqual([])
    const ops = file.traceEvents.filter((e) => e.ph === 'X')
    expect(ops.map((o) => o.args?.path)).toEqual(['ops[0]'])
    expect(ops[0]!.args?.timing).toBe('trace markers')
    // The corpus's splice enter/exit lie inside the ops[0] slice.
    const splices = file.traceEvents.filter((e) => e.ph === 'i' && e.name.endsWith('_splice'))
    expect(splices.length).toBe(2)
    for (const s of splices) {
      expect(s.ts).toBeGreaterThanOrEqual(ops[0]!.ts)
      expect(s.ts).toBeLessThanOrEqual(ops[0]!.ts + ops[0]!.dur!)
      expect(s.cat).toBe('syscalls')
    }
    const instants = file.traceEvents.filter((e) => e.ph === 'i')
    expect(instants.length).toBe(events.filter((e) => e.name !== 'ftrace:tracing_mark_write').length)
    const counters = file.traceEvents.filter((e) => e.ph === 'C')
    expect(counters.length).toBe(buckets.length * 2)
    expect(counters.filter((c) => c.name.startsWith('bytes')).reduce((s, c) => s + Number(c.args!.bytes), 0)).toBe(8192)
    expect(file.metadata.lostEvents).toBe(2)
  })

  it('lays ops end to end from the probe durations when no markers were kept, and says so', () => {
    const file = toPerfetto(record(), { buckets: [] })
    expect(traceFormatProblems(file)).toEqual([])
    const ops = file.traceEvents.filter((e) => e.ph === 'X')
    expect(ops).toHaveLength(1)
    expect(ops[0]).toMatchObject({ ts: 0, dur: 25 })
    expect(String(ops[0]!.args?.timing)).toContain('gaps unknown')
  })

  it('parses saved trace text for an export up to a limit, and counts what it leaves out', () => {
    const all = eventsOfText(corpus)
    expect(all.left).toBe(0)
    expect(all.events).toEqual(corpusEvents().events)
    const few = eventsOfText(corpus, 5)
    expect(few.events).toEqual(all.events.slice(0, 5))
    expect(few.left).toBe(all.events.length - 5)
    const file = toPerfetto(record(), { buckets: [], events: few.events, eventsLeftOut: few.left })
    expect(file.metadata).toMatchObject({ kernelEvents: 5, kernelEventsLeftOut: all.events.length - 5 })
  })

  it('marks where the kernel lost events, at the time of the event after each LOST line', () => {
    const text = readFileSync(new URL('../../../test/fixtures/trace/lost-events.txt', import.meta.url), 'utf8')
    const reported = [...text.matchAll(/^CPU:\d+ \[LOST (\d+) EVENTS\]$/gm)].map((m) => Number(m[1]))
    const { events, lost } = eventsOfText(text)
    expect(lost.map((l) => l.count)).toEqual(reported)
    // Each sits at the timestamp of the next event in the text.
    const lines = text.split('\n')
    const firstLost = lines.findIndex((l) => l.startsWith('CPU:'))
    const next = lines.slice(firstLost + 1).find((l) => !l.startsWith('CPU:') && l.trim() && !l.startsWith('#'))!
    expect(lost[0]!.ts).toBe(Number(/ (\d+\.\d+): /.exec(next)![1]))
    const file = toPerfetto(record(), { buckets: [], events, lost })
    expect(traceFormatProblems(file)).toEqual([])
    const marks = file.traceEvents.filter((e) => e.cat === 'lost')
    expect(marks.reduce((n, e) => n + Number(e.args!.count), 0)).toBe(reported.reduce((a, b) => a + b, 0))
    expect(marks.every((e) => e.ph === 'i' && e.s === 'g')).toBe(true)
  })

  it('lines the counters up with the events: the series starts at its own kernel time', () => {
    const { events } = corpusEvents()
    const first = events[0]!.ts
    // A series that starts 2 ms after the first event: its first counter sits at 2000 µs, not 0.
    const file = toPerfetto(record(), { events, buckets: [{ t: 0, counts: { ...emptyLiveCounts(), bytes: 1 } }, { t: 100, counts: { ...emptyLiveCounts(), bytes: 2 } }], bucketsT0: first + 0.002 })
    const counters = file.traceEvents.filter((e) => e.ph === 'C' && e.name.startsWith('bytes'))
    expect(counters.map((c) => c.ts)).toEqual([2000, 102_000])
    // A series that starts before the first event moves time 0 back, so no event is clipped to 0.
    const earlier = toPerfetto(record(), { events, buckets: [{ t: 0, counts: { ...emptyLiveCounts(), bytes: 1 } }], bucketsT0: first - 0.001 })
    expect(earlier.traceEvents.find((e) => e.ph === 'C')!.ts).toBe(0)
    expect(Math.min(...earlier.traceEvents.filter((e) => e.ph === 'i').map((e) => e.ts))).toBe(1000)
  })

  it('the validator catches a broken file (so the check above can fail)', () => {
    const bad = { traceEvents: [{ name: 'x', ph: 'X', ts: -1, pid: 1.5, tid: 1 }, { name: 'c', ph: 'C', ts: 0, pid: 1, tid: 1, args: { a: 'b' } }] }
    expect(traceFormatProblems(bad)).toHaveLength(4)
  })
})

describe('CSV export', () => {
  it('one row per bucket with every series, zeros where missing', () => {
    const partial = (counts: Partial<LiveCounts>): TraceBucket => ({ t: 0, counts: counts as LiveCounts })
    const csv = bucketsCsv([partial({ shared: 2, bytes: 8192 }), { ...partial({ stolen: 1 }), t: 100 }])
    expect(csv).toBe('t_ms,shared,stolen,copied,reloads,bytes,bytesCopied\n0,2,0,0,0,8192,0\n100,0,1,0,0,0,0\n')
  })

  it('per-op tracepoint counts with the op kind', () => {
    expect(perOpCsv(record())).toBe('op,kind,tracepoint,count\nops[0],drain,kmem:mm_page_alloc,2\nops[0],drain,syscalls:sys_enter_splice,1\n')
  })
})

describe('Perfetto export of a coarse trace clock', () => {
  it('ties each kernel event to the op whose markers enclose it in the trace, though all share one timestamp', () => {
    const line = (body: string) => `           <...>-125     [000] .....    13.616000: ${body}`
    const text = [
      line('tracing_mark_write: splicelab:begin ops[0]'),
      line('splice_steal: src=filemap dev=254:0 ino=0xf pfn=0x3650 index=0 bytes=4096 reason=stolen'),
      line('tracing_mark_write: splicelab:end ops[0]'),
      line('tracing_mark_write: splicelab:begin ops[1]'),
      line('mm_filemap_add_to_page_cache: dev 254:0 ino f pfn=0x3660 ofs=0 order=0'),
      line('tracing_mark_write: splicelab:end ops[1]'),
      line('mm_page_free: page=(ptrval) pfn=0x3660 order=0'),
    ].join('\n')
    const file = toPerfetto(record(), { events: eventsOfText(text).events, buckets: [] })
    const kernel = file.traceEvents.filter((e) => e.ph === 'i' && e.cat !== 'lost')
    expect(kernel.map((e) => [e.name, e.args?.op])).toEqual([
      ['splice_steal', 'ops[0]'],
      ['mm_filemap_add_to_page_cache', 'ops[1]'],
      ['mm_page_free', undefined],
    ])
  })
})
