import { describe, it, expect } from 'vitest'
import { formatTable, type RunRow } from './run-format'
import { POLICIES } from '../../shared/results'
import type { RunRecord } from '../../shared/run/types'

function row(scenario: string, fs: string, behavesLike: string, disagree: [number, number, number], error?: string): RunRow {
  const perPolicy = Object.fromEntries(POLICIES.map((p, i) => [p, { agree: 3 - disagree[i]!, disagree: disagree[i]!, unknown: 0 }]))
  const record = { comparison: { ops: [], verdict: { behavesLike, perPolicy, summary: '' } }, ...(error ? { error: { code: error, message: error } } : {}) } as unknown as RunRecord
  return { scenario, fs, record }
}

describe('run table', () => {
  it('lists verdict and disagreement counts per scenario × filesystem, and failed runs', () => {
    const text = formatTable([row('write-after-splice', 'tmpfs', 'stock', [0, 1, 1]), row('gift', 'xfs', 'none', [2, 1, 3], 'probe')], POLICIES)
    const lines = text.trim().split('\n')
    expect(lines[0]).toMatch(/^scenario\s+fs\s+verdict\s+stock diff\s+steal-or-copy diff\s+copy diff\s+status$/)
    expect(lines[2]).toMatch(/^write-after-splice\s+tmpfs\s+stock\s+0\s+1\s+1\s+ok$/)
    expect(lines[3]).toMatch(/^gift\s+xfs\s+none\s+2\s+1\s+3\s+failed: probe$/)
  })
})
