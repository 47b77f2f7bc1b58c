import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { bucketsCsv, perOpCsv, toPerfetto, type TraceFormatEvent, type TraceFormatFile } from './export'
import { TraceStreamParser, type TraceEvent } from './parser'
import { TraceAggregator } from './aggregate'
import { compare } from '../compare'
import { tinyScenario, tinyPredictions, TINY_ENV } from '../../../test/fixtures/tiny-run'
import type { RunRecord, TraceBucket } from '../run/types'

const corpus = readFileSync(new URL('../../../test/fixtures/trace/splice-tmpfs.txt', import.meta.url), 'utf8')

function record(): RunRecord {
  const scenario = tinyScenario()
  const env = TINY_ENV
  const predictions = tinyPredictions()
  const observation = { ops: [{ path: 'ops[0]', op: 'drain' as const, iterations: 1, outcome: { ret: 8192, errno: null, drain: { read: 8192, changed: [], changedBytes: 0 } }, ns: 25_000, stats: null, hw: null }], facts: { spliceStats: false, perf: true, traceMarker: true, notes: [] } }
  return {
    version: 1,
    id: 'r1',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: null,
    scenario,
    target: { label: 'local', kind: 'local', kernel: '6.18', arch: 'x86_64', pageSize: 4096, root: true, tracefs: true, perf: true, spliceStats: false },
    fs: 'tmpfs',
    dir: '/tmp/x',
    env,
    predictions,
    observation,
    comparison: compare(predictions, observation),
    trace: { instance: 'splice-lab-1-ab', events: 3, lost: 2, perOp: { 'ops[0]': { 'syscalls:sys_enter_splice': 1, 'kmem:mm_page_alloc': 2 } } },
  }
}

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

  it('the validator catches a broken file (so the check above can fail)', () => {
    const bad = { traceEvents: [{ name: 'x', ph: 'X', ts: -1, pid: 1.5, tid: 1 }, { name: 'c', ph: 'C', ts: 0, pid: 1, tid: 1, args: { a: 'b' } }] }
    expect(traceFormatProblems(bad)).toHaveLength(4)
  })
})

describe('CSV export', () => {
  it('one row per bucket with every series, zeros where missing', () => {
    const csv = bucketsCsv([{ t: 0, counts: { shared: 2, bytes: 8192 } }, { t: 100, counts: { stolen: 1, odd: 3 } }])
    expect(csv).toBe('t_ms,shared,stolen,copied,reloads,bytes,odd\n0,2,0,0,0,8192,0\n100,0,1,0,0,0,3\n')
  })

  it('per-op tracepoint counts with the op kind', () => {
    expect(perOpCsv(record())).toBe('op,kind,tracepoint,count\nops[0],drain,kmem:mm_page_alloc,2\nops[0],drain,syscalls:sys_enter_splice,1\n')
  })
})
