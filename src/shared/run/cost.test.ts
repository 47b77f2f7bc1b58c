import { describe, expect, it } from 'vitest'
import { bootedPolicy, costOfRecord, costTable, formatCostTable, runCost } from './cost'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import type { SpliceStats } from '../results'
import type { RunRecord } from './types'
import { emptyLiveCounts, type LiveCounts } from '../vocabulary'

function stats(s: Partial<SpliceStats> = {}): SpliceStats {
  return { filemapCopied: 0, filemapMoved: 0, directCopied: 0, vmspliceCopied: 0, vmspliceStole: 0, ...s }
}

/**
 * The tiny run on a VM booted with `args`: steal-or-copy predicts 2 moved + 1 copied (4096 bytes)
 * and 2 reloads, copy predicts 3 copied; the kernel counted `observed`, the trace saw `reloads`
 * (and `bytesCopied` from splice_copy events, when given: a kernel with the fix's tracepoints).
 */
function onVm(o: { args?: string[]; accel?: 'kvm' | 'tcg'; observed?: SpliceStats | null; reloads?: number; bytesCopied?: number; name?: string; fs?: RunRecord['fs'] } = {}): RunRecord {
  const r = tinyRecord({ ns: 5_000_000 })
  const p = r.predictions
  p['steal-or-copy'].ops[0] = { ...p['steal-or-copy'].ops[0]!, op: 'splice', stats: stats({ filemapMoved: 2, filemapCopied: 1 }), bytesCopied: 4096, reloads: 2, costNs: 3_000_000 }
  p.copy.ops[0] = { ...p.copy.ops[0]!, op: 'splice', stats: stats({ filemapCopied: 3 }), bytesCopied: 12288 }
  const observed = o.observed === undefined ? stats({ filemapMoved: 2, vmspliceCopied: 1 }) : o.observed
  r.observation.ops[0] = { ...r.observation.ops[0]!, stats: observed }
  r.target = { ...r.target, label: 'vm:fix-6.1', kind: 'vm', vm: { kernel: 'fix-6.1', accelerator: o.accel ?? 'tcg', bootArgs: o.args ?? [], cmdline: `console=ttyS0 ${(o.args ?? []).join(' ')}` } }
  if (o.reloads !== undefined) {
    const counts = (reloads: number, bytesCopied: number): LiveCounts => ({ ...emptyLiveCounts(), reloads, bytesCopied })
    r.trace = {
      instance: 'splice-lab-t', events: 9, lost: 0, perOp: {},
      buckets: [counts(0, 0), counts(o.reloads, o.bytesCopied ?? 0)].map((c, t) => ({ t, counts: c })),
      ...(o.bytesCopied !== undefined ? { counting: 'measured' as const } : {}),
    }
  }
  return { ...r, scenario: { ...r.scenario, name: o.name ?? 'tiny' }, fs: o.fs ?? 'ext4' }
}

describe('bootedPolicy', () => {
  it('takes the last splice_policy= of the boot args, else stock', () => {
    expect(bootedPolicy(onVm({ args: ['splice_policy=copy'] }))).toBe('copy')
    expect(bootedPolicy(onVm({ args: ['splice_policy=copy', 'splice_policy=steal-or-copy'] }))).toBe('steal-or-copy')
    expect(bootedPolicy(onVm({ args: ['splice_policy=bogus'] }))).toBe('stock')
    expect(bootedPolicy(tinyRecord())).toBe('stock')
  })
})

describe('costOfRecord', () => {
  it('holds the booted policy’s prediction against the /proc/fs/splice deltas and the traced reloads', () => {
    const row = costOfRecord(onVm({ args: ['splice_policy=steal-or-copy'], reloads: 2 }))
    expect(row).toMatchObject({ preset: 'tiny', fs: 'ext4', policy: 'steal-or-copy', runs: 1, ops: 1 })
    expect(row.predicted).toEqual({ stolen: 2, copied: 1, bytesCopied: 4096, reloads: 2 })
    expect(row.measured).toEqual({ stolen: 2, copied: 1, bytesCopied: null, reloads: 2 })
  })

  it('takes measured bytes copied from the splice_copy bytes= series, only where the kernel had the tracepoint', () => {
    expect(costOfRecord(onVm({ args: ['splice_policy=steal-or-copy'], reloads: 2, bytesCopied: 4096 })).measured?.bytesCopied).toBe(4096)
    expect(costOfRecord(onVm({ args: ['splice_policy=steal-or-copy'], reloads: 2 })).measured?.bytesCopied).toBeNull()
  })

  it('predicts bytes copied into pipes only (a pipe → file splice or a tee copies, but no splice_copy event sees it)', () => {
    const r = onVm({ args: ['splice_policy=copy'] })
    const op = r.predictions.copy.ops[0]!
    r.predictions.copy.ops[0] = { ...op, stats: stats() }
    expect(costOfRecord(r).predicted.bytesCopied).toBe(0)
    r.predictions.copy.ops[0] = { ...op, op: 'tee' }
    expect(costOfRecord(r).predicted.bytesCopied).toBe(0)
  })

  it('predicts for the copy policy when the kernel was booted with it', () => {
    const row = costOfRecord(onVm({ args: ['splice_policy=copy'] }))
    expect(row.predicted).toEqual({ stolen: 0, copied: 3, bytesCopied: 12288, reloads: 0 })
    expect(row.measured?.reloads).toBeNull()
  })

  it('has no measured counts when the kernel has no /proc/fs/splice', () => {
    expect(costOfRecord(onVm({ observed: null })).measured).toBeNull()
  })

  it('gives times only under KVM', () => {
    expect(costOfRecord(onVm({ accel: 'tcg' })).times).toBeNull()
    expect(costOfRecord(onVm({ accel: 'kvm', args: ['splice_policy=steal-or-copy'] })).times).toEqual({ predictedNs: 3_000_000, measuredNs: 5_000_000 })
  })
})

describe('costTable', () => {
  const records = [
    onVm({ args: ['splice_policy=steal-or-copy'], reloads: 2 }),
    onVm({ args: ['splice_policy=steal-or-copy'], reloads: 1 }),
    onVm({ args: ['splice_policy=copy'], reloads: 0, observed: stats({ filemapCopied: 3 }) }),
    onVm({ args: ['splice_policy=steal-or-copy'], reloads: 0, name: 'alpha' }),
  ]
  const t = costTable(records)

  it('sums runs of one preset × fs × policy and sorts the rows', () => {
    expect(t.rows.map((r) => [r.preset, r.policy, r.runs])).toEqual([
      ['alpha', 'steal-or-copy', 1],
      ['tiny', 'steal-or-copy', 2],
      ['tiny', 'copy', 1],
    ])
    expect(t.rows[1]!.measured).toEqual({ stolen: 4, copied: 2, bytesCopied: null, reloads: 3 })
    expect(t.rows[1]!.predicted.reloads).toBe(4)
  })

  it('totals every row and says why times are missing', () => {
    expect(t.totals.runs).toBe(4)
    expect(t.totals.predicted).toEqual({ stolen: 6, copied: 6, bytesCopied: 24576, reloads: 6 })
    expect(t.totals.measured).toEqual({ stolen: 6, copied: 6, bytesCopied: null, reloads: 3 })
    expect(t.totals.times).toBeNull()
    expect(t.notes).toEqual(['under TCG (emulated CPU) time is not comparable; counts are'])
  })

  it('prints predicted / measured cells and marks the ones that differ', () => {
    const text = formatCostTable(t)
    expect(text).toMatch(/^tiny\s+ext4\s+steal-or-copy\s+2\s+4 \/ 4\s+2 \/ 2\s+8192 \/ —\s+4 \/ 3 ≠\s+—$/m)
    expect(text).toMatch(/^total\s+4\s+6 \/ 6/m)
    expect(text).toContain('times: under TCG')
  })

  it('is empty but well-formed for no records', () => {
    const empty = costTable([])
    expect(empty.rows).toEqual([])
    expect(empty.totals.measured).toBeNull()
  })
})

describe('runCost', () => {
  it('puts every policy’s prediction beside the kernel’s /proc/fs/splice counts and the traced bytes copied and reloads', () => {
    const c = runCost(onVm({ args: ['splice_policy=steal-or-copy'], reloads: 2, bytesCopied: 4096 }))
    expect(c.booted).toBe('steal-or-copy')
    expect(c.predicted['steal-or-copy']).toMatchObject({ stolen: 2, copied: 1, bytesCopied: 4096, reloads: 2 })
    expect(c.predicted.copy).toMatchObject({ stolen: 0, copied: 3, bytesCopied: 12288 })
    expect(c.measured).toEqual({ stolen: 2, copied: 1, bytesCopied: 4096, reloads: 2, ns: 5_000_000 })
    expect(c.pagesFrom).toBe('/proc/fs/splice')
    expect(c.timesNote).toMatch(/TCG/)
  })

  it('falls back to the traced series on a kernel without /proc/fs/splice, and says they were inferred', () => {
    const c = runCost(onVm({ observed: null, reloads: 0, accel: 'kvm' }))
    expect(c.pagesFrom).toBe('inferred from tracepoints')
    expect(c.measured.bytesCopied).toBeNull()
    expect(c.timesNote).toBeNull()
  })
})
