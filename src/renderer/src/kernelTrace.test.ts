import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { eventsOfText, toPerfetto } from '../../shared/trace/export'
import { TraceAggregator } from '../../shared/trace/aggregate'
import { TraceStreamParser } from '../../shared/trace/parser'
import { emptyLiveCounts, LIVE_SERIES, type LiveCounts } from '../../shared/vocabulary'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import { eventsOfOp, readPerfetto, seriesPerOp } from './kernelTrace'

const raw = readFileSync(new URL('../../../test/fixtures/trace/ops-splice-tee-vmsplice.txt', import.meta.url), 'utf8')

/** The reference: the raw records through one aggregator, its buckets taken at each marker (exact order, ns times). */
function perOpFromRaw(): Map<string, LiveCounts> {
  const agg = new TraceAggregator(4096)
  const out = new Map<string, LiveCounts>()
  const p = new TraceStreamParser((r) => {
    if (r.kind === 'event' && r.name === 'ftrace:tracing_mark_write') {
      const [phase, path] = r.body.replace('splicelab:', '').split(' ')
      const buckets = agg.takeBuckets(true)
      if (phase === 'end') {
        const c = out.get(path!) ?? emptyLiveCounts()
        for (const b of buckets) for (const s of LIVE_SERIES) c[s] += b.counts[s] ?? 0
        out.set(path!, c)
      }
    }
    agg.push(r)
  })
  p.push(raw)
  p.end()
  return out
}

describe('kernel trace from the Perfetto export', () => {
  const { events, lost } = eventsOfText(raw)
  const file = JSON.parse(JSON.stringify(toPerfetto(tinyRecord({ traceMarker: true }), { events, buckets: [], lost }))) as Parameters<typeof readPerfetto>[0]
  const trace = readPerfetto(file)

  it('reads op slices in time order and every kernel event with its CPU and task', () => {
    expect(trace.slices.map((s) => s.path)).toEqual(['ops[0]', 'ops[1]', 'ops[2]', 'ops[3]', 'ops[4]'])
    expect(trace.events.length).toBe(events.filter((e) => e.name !== 'ftrace:tracing_mark_write').length)
    expect(trace.events.every((e, i) => e.i === i && (i === 0 || trace.events[i - 1]!.ts <= e.ts))).toBe(true)
    expect(trace.events.find((e) => e.name === 'syscalls:sys_enter_splice')).toMatchObject({ task: 'sh', tid: 24610, cpu: 1 }) // named when first seen, before its exec
  })

  it('counts per op what the aggregator counts between the markers', () => {
    const mine = seriesPerOp(trace, 4096)
    const reference = perOpFromRaw()
    expect([...mine.keys()].sort()).toEqual([...reference.keys()].sort())
    for (const [path, c] of reference) expect(mine.get(path), path).toEqual(c)
    // Not all zero: the fixture's ops move bytes through pipes.
    expect([...mine.values()].reduce((n, c) => n + c.bytes, 0)).toBeGreaterThan(0)
  })

  it('lists the events inside an op', () => {
    const inside = eventsOfOp(trace, 'ops[0]')
    const slice = trace.slices[0]!
    expect(inside.length).toBeGreaterThan(0)
    expect(inside.every((e) => e.ts >= slice.start && e.ts <= slice.start + slice.dur)).toBe(true)
    expect(eventsOfOp(trace, 'ops[99]')).toEqual([])
  })
})
