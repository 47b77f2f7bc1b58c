import { describe, it, expect } from 'vitest'
import { compare, sameOutcome, VocabularyError } from './compare'
import { DEFAULT_COSTS, POLICIES, type Observation, type OpObservation, type OpOutcome, type OpPrediction, type Policy, type Prediction } from '../results'

const ZERO_STATS = { filemapCopied: 0, filemapMoved: 0, directCopied: 0, vmspliceCopied: 0, vmspliceStole: 0 }
const env = { fs: 'tmpfs' as const, pageSize: 4096, kernel: '6.18', costs: DEFAULT_COSTS }

function predOp(path: string, op: OpPrediction['op'], outcomes: OpOutcome[], extra: Partial<OpPrediction> = {}): OpPrediction {
  return { path, op, iterations: 1, outcomes, pages: { shared: 0, stolen: 0, copied: 0 }, bytesCopied: 0, reloads: 0, stats: ZERO_STATS, tracepoints: {}, costNs: 0, notes: [], ...extra }
}
function prediction(policy: Policy, ops: OpPrediction[]): Prediction {
  return { policy, env, ops, totals: { pages: { shared: 0, stolen: 0, copied: 0 }, bytesCopied: 0, reloads: 0, costNs: 0, changedBytes: 0 } }
}
function obsOp(path: string, op: OpObservation['op'], outcome: OpOutcome, extra: Partial<OpObservation> = {}): OpObservation {
  return { path, op, iterations: 1, outcome, ns: 1000, stats: null, hw: null, ...extra }
}
const observation = (ops: OpObservation[]): Observation => ({ ops, facts: { spliceStats: false, perf: true, traceMarker: true, notes: [] } })

const spliced: OpOutcome = { ret: 4096, errno: null }
const written: OpOutcome = { ret: 200, errno: null }
const changedDrain: OpOutcome = { ret: 4096, errno: null, drain: { read: 4096, changed: [{ start: 100, end: 300, holds: 'current' }], changedBytes: 200 } }
const cleanDrain: OpOutcome = { ret: 4096, errno: null, drain: { read: 4096, changed: [], changedBytes: 0 } }

/** Write after splice: stock lets the write show through, the others do not. */
function writeAfterSplice(): Record<Policy, Prediction> {
  const ops = (drain: OpOutcome, tp: Record<string, { min: number; max: number }> = {}): OpPrediction[] => [
    predOp('ops[0]', 'splice', [spliced], { tracepoints: tp }),
    predOp('ops[1]', 'pwrite', [written]),
    predOp('ops[2]', 'drain', [drain]),
  ]
  return {
    stock: prediction('stock', ops(changedDrain, { 'filemap:mm_filemap_delete_from_page_cache': { min: 0, max: 0 } })),
    'steal-or-copy': prediction('steal-or-copy', ops(cleanDrain, { 'filemap:mm_filemap_delete_from_page_cache': { min: 1, max: 1 } })),
    copy: prediction('copy', ops(cleanDrain)),
  }
}

describe('compare', () => {
  it('says a kernel whose drain shows the later write behaves like stock, with readable reasons', () => {
    const c = compare(
      writeAfterSplice(),
      observation([obsOp('ops[0]', 'splice', spliced), obsOp('ops[1]', 'pwrite', written), obsOp('ops[2]', 'drain', changedDrain)]),
    )
    expect(c.verdict.behavesLike).toBe('stock')
    expect(c.verdict.perPolicy.stock).toEqual({ agree: 3, disagree: 0, unknown: 0 })
    expect(c.verdict.perPolicy['steal-or-copy'].disagree).toBe(1)
    const drain = c.ops[2]!
    expect(drain.byPolicy.stock.reasons[0]).toBe('drain read 4096 bytes; bytes 100–299 changed to current data; stock allows that')
    expect(drain.byPolicy['steal-or-copy'].agreement).toBe('disagree')
    expect(drain.byPolicy['steal-or-copy'].reasons[0]).toContain('steal-or-copy forbids that: it allows only drain read 4096 bytes; no byte changed')
    expect(c.verdict.summary).toContain('behaves like stock')
  })

  it('says a kernel whose drain is clean cannot be stock, and names the two it cannot tell apart', () => {
    const c = compare(
      writeAfterSplice(),
      observation([obsOp('ops[0]', 'splice', spliced), obsOp('ops[1]', 'pwrite', written), obsOp('ops[2]', 'drain', cleanDrain)]),
    )
    expect(c.verdict.behavesLike).toBe('steal-or-copy')
    expect(c.verdict.perPolicy.stock.disagree).toBe(1)
    expect(c.verdict.summary).toContain('cannot tell it from copy')
  })

  it('requires changed ranges to match exactly: one byte off or another kind of change disagrees', () => {
    const preds = writeAfterSplice()
    for (const changed of [
      { start: 100, end: 301, holds: 'current' as const },
      { start: 100, end: 300, holds: 'zero' as const },
    ]) {
      const drain: OpOutcome = { ret: 4096, errno: null, drain: { read: 4096, changed: [changed], changedBytes: changed.end - changed.start } }
      const c = compare(preds, observation([obsOp('ops[2]', 'drain', drain)]))
      expect(c.ops[0]!.byPolicy.stock.agreement).toBe('disagree')
      expect(c.verdict.behavesLike).toBe('none')
    }
  })

  it('compares return values and errno', () => {
    expect(sameOutcome({ ret: -1, errno: 'EINVAL' }, { ret: -1, errno: 'EINVAL' })).toBe(true)
    expect(sameOutcome({ ret: -1, errno: 'EINVAL' }, { ret: -1, errno: 'EFAULT' })).toBe(false)
    expect(sameOutcome({ ret: 4096, errno: null }, { ret: 100, errno: null })).toBe(false)
    const c = compare(writeAfterSplice(), observation([obsOp('ops[0]', 'splice', { ret: -1, errno: 'EINVAL' })]))
    expect(c.ops[0]!.byPolicy.stock.reasons[0]).toBe('splice failed with EINVAL; stock forbids that: it allows only splice returned 4096')
  })

  it('is one-sided: an allowed outcome never observed is only a note, an observed one outside the set disagrees', () => {
    const preds = writeAfterSplice()
    for (const p of POLICIES) preds[p].ops[2]!.outcomes = [changedDrain, cleanDrain]
    const c = compare(preds, observation([obsOp('ops[2]', 'drain', cleanDrain)]))
    expect(c.ops[0]!.byPolicy.stock.agreement).toBe('agree')
    expect(c.ops[0]!.byPolicy.stock.reasons.some((r) => r.startsWith('note: stock also allows drain read 4096 bytes; bytes 100–299'))).toBe(true)
    // A histogram of repeated runs: every distinct observed outcome must be allowed.
    const preds2 = writeAfterSplice()
    const c2 = compare(preds2, observation([obsOp('ops[2]', 'drain', cleanDrain, { histogram: [{ outcome: cleanDrain, count: 9 }, { outcome: changedDrain, count: 1 }] })]))
    expect(c2.ops[0]!.byPolicy.stock.agreement).toBe('disagree')
    expect(c2.ops[0]!.byPolicy.copy.agreement).toBe('disagree')
  })

  it('over a histogram of runs: an outcome outside the set disagrees, an allowed one never seen is a note naming the runs', () => {
    const preds = writeAfterSplice()
    for (const p of POLICIES) preds[p].ops[2]!.outcomes = [changedDrain, cleanDrain]
    const c = compare(preds, observation([obsOp('ops[2]', 'drain', cleanDrain, { histogram: [{ outcome: cleanDrain, count: 200 }] })]))
    expect(c.ops[0]!.byPolicy.stock.agreement).toBe('agree')
    expect(c.ops[0]!.byPolicy.stock.reasons.filter((r) => r.startsWith('note: stock also allows drain read 4096 bytes; bytes 100–299'))).toHaveLength(1)
    expect(c.ops[0]!.byPolicy.stock.reasons.some((r) => r.endsWith('not seen in 200 runs'))).toBe(true)
    const other = { ...changedDrain, drain: { ...changedDrain.drain!, changed: [{ start: 0, end: 4096, holds: 'zero' as const }], changedBytes: 4096 } }
    const c2 = compare(preds, observation([obsOp('ops[2]', 'drain', cleanDrain, { histogram: [{ outcome: cleanDrain, count: 150 }, { outcome: other, count: 50 }] })]))
    expect(c2.ops[0]!.byPolicy.stock.agreement).toBe('disagree')
  })

  it('refuses, naming it, a tracepoint only one side knows instead of skipping it', () => {
    const preds = writeAfterSplice()
    const probeSide = () => compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { tracepoints: { 'filemap:mm_filemap_delete_from_page_cache': 0, 'kmem:mm_page_evict': 3 } })]))
    expect(probeSide).toThrow(VocabularyError)
    expect(probeSide).toThrow('the probe reported tracepoint "kmem:mm_page_evict", which is not in the lab\'s vocabulary')
    preds.copy.ops[0]!.tracepoints = { 'filemap:mm_filemap_steal': { min: 1, max: 1 } }
    expect(() => compare(preds, observation([obsOp('ops[0]', 'splice', spliced)]))).toThrow('the model reported tracepoint "filemap:mm_filemap_steal"')
  })

  it('compares only tracepoints both predicted and observed, against min..max', () => {
    const preds = writeAfterSplice()
    const c = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { tracepoints: { 'filemap:mm_filemap_delete_from_page_cache': 1, 'kmem:mm_page_alloc': 7 } })]))
    expect(c.ops[0]!.byPolicy.stock.agreement).toBe('disagree')
    expect(c.ops[0]!.byPolicy.stock.reasons).toContain('filemap:mm_filemap_delete_from_page_cache fired 1 times; stock expects 0')
    expect(c.ops[0]!.byPolicy['steal-or-copy'].agreement).toBe('agree')
    // copy predicts no tracepoint: the observed counts are not compared.
    expect(c.ops[0]!.byPolicy.copy.agreement).toBe('agree')
    // No counts observed (perf unavailable): nothing to compare.
    const c2 = compare(preds, observation([obsOp('ops[0]', 'splice', spliced)]))
    expect(c2.ops[0]!.byPolicy.stock.agreement).toBe('agree')
  })

  it('holds the fix kernel\'s splice_steal / splice_copy counts to the steals and copies each policy predicts', () => {
    const preds = writeAfterSplice()
    preds['steal-or-copy'].ops[0]!.stats = { ...ZERO_STATS, filemapMoved: 1 }
    preds.copy.ops[0]!.stats = { ...ZERO_STATS, filemapCopied: 1 }
    const stole = { 'splice:splice_steal': 1, 'splice:splice_copy': 0 }
    const c = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { tracepoints: { 'filemap:mm_filemap_delete_from_page_cache': 1, ...stole } })]))
    expect(c.ops[0]!.byPolicy['steal-or-copy'].agreement).toBe('agree')
    expect(c.ops[0]!.byPolicy.copy.agreement).toBe('disagree')
    expect(c.ops[0]!.byPolicy.copy.reasons).toEqual([
      'splice returned 4096; copy allows that',
      'splice:splice_steal fired 1 times; copy expects 0 (filemap moved + vmsplice stole)',
      'splice:splice_copy fired 0 times; copy expects 1 (filemap copied + vmsplice copied)',
    ])
    expect(c.ops[0]!.byPolicy.stock.reasons).toContain('splice:splice_steal fired 1 times; stock expects 0 (filemap moved + vmsplice stole)')
    // Where the kernel decides (a race), the counts are held to the range of the predicted deltas.
    const zero = { min: 0, max: 0 }
    preds.copy.ops[0]!.statsRange = { filemapCopied: { min: 0, max: 1 }, filemapMoved: { min: 0, max: 1 }, directCopied: zero, vmspliceCopied: zero, vmspliceStole: zero }
    const raced = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { tracepoints: stole })]))
    expect(raced.ops[0]!.byPolicy.copy.agreement).toBe('agree')
  })

  it('compares /proc/fs/splice deltas only when the kernel reported them', () => {
    const preds = writeAfterSplice()
    preds['steal-or-copy'].ops[0]!.stats = { ...ZERO_STATS, filemapMoved: 1 }
    const withStats = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { stats: { ...ZERO_STATS, filemapMoved: 1 } })]))
    expect(withStats.ops[0]!.byPolicy['steal-or-copy'].agreement).toBe('agree')
    expect(withStats.ops[0]!.byPolicy.stock.reasons).toContain('/proc/fs/splice filemap moved changed by 1; stock expects 0')
    const without = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { stats: null })]))
    expect(without.ops[0]!.byPolicy.stock.agreement).toBe('agree')
  })

  it('holds /proc/fs/splice deltas to a predicted range where the kernel decides', () => {
    const preds = writeAfterSplice()
    const range = { filemapCopied: { min: 0, max: 4 }, filemapMoved: { min: 0, max: 4 }, directCopied: { min: 0, max: 0 }, vmspliceCopied: { min: 0, max: 0 }, vmspliceStole: { min: 0, max: 0 } }
    preds['steal-or-copy'].ops[0]!.stats = { ...ZERO_STATS, filemapMoved: 4 }
    preds['steal-or-copy'].ops[0]!.statsRange = range
    const inside = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { stats: { ...ZERO_STATS, filemapCopied: 3, filemapMoved: 1 } })]))
    expect(inside.ops[0]!.byPolicy['steal-or-copy'].agreement).toBe('agree')
    const outside = compare(preds, observation([obsOp('ops[0]', 'splice', spliced, { stats: { ...ZERO_STATS, filemapCopied: 5 } })]))
    expect(outside.ops[0]!.byPolicy['steal-or-copy'].reasons).toContain('/proc/fs/splice filemap copied changed by 5; steal-or-copy expects 0..4')
  })

  it('does not compare a repeat body op that ran fewer iterations than predicted', () => {
    const preds = writeAfterSplice()
    for (const p of POLICIES) preds[p].ops[1]!.iterations = 1000
    const c = compare(preds, observation([obsOp('ops[1]', 'pwrite', written, { iterations: 17 })]))
    expect(c.ops[0]!.byPolicy.stock).toEqual({ agreement: 'unknown', reasons: ['ops[1] ran 17 of 1000 iterations; not compared'] })
  })

  it('marks ops the model has no prediction for as unknown, and an incomplete run in the summary', () => {
    const obs = observation([obsOp('ops[9]', 'drain', cleanDrain)])
    obs.incomplete = { reason: 'probe killed by SIGKILL' }
    const c = compare(writeAfterSplice(), obs)
    expect(c.ops[0]!.byPolicy.stock.agreement).toBe('unknown')
    expect(c.verdict.behavesLike).toBe('none')
    expect(c.verdict.summary).toContain('did not finish (probe killed by SIGKILL)')
  })
})
