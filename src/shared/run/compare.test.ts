import { describe, expect, it } from 'vitest'
import { compareRuns, formatComparison, kernelLabel } from './compare'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import type { RunRecord } from './types'

function on(kernel: string, r: RunRecord, o: { name?: string; fs?: RunRecord['fs'] } = {}): RunRecord {
  return { ...r, target: { ...r.target, kernel }, scenario: { ...r.scenario, name: o.name ?? r.scenario.name }, fs: o.fs ?? r.fs }
}

describe('compareRuns', () => {
  // A: 6.1, B: 6.18. "tiny" on tmpfs read 0 bytes on 6.1 and 4096 on 6.18; "other" did the same on
  // both; "tiny" on ext4 ran on A only.
  const a = [on('6.1', tinyRecord({ id: 'a1' })), on('6.1', tinyRecord({ id: 'a2' }), { name: 'other' }), on('6.1', tinyRecord({ id: 'a3' }), { fs: 'ext4' })]
  const b = [on('6.18.44', tinyRecord({ id: 'b1', read: 4096 })), on('6.18.44', tinyRecord({ id: 'b2' }), { name: 'other' })]
  const c = compareRuns(a, b)

  it('puts the rows that differ first, with the op outcome on each side', () => {
    expect(c.rows.map((r) => [r.scenario, r.fs, r.differences.length > 0])).toEqual([
      ['tiny', 'ext4', true],
      ['tiny', 'tmpfs', true],
      ['other', 'tmpfs', false],
    ])
    const tiny = c.rows[1]!
    expect(tiny.differences).toContain('ops[0] drain: 0, read 0, changed 0 → 4096, read 4096, changed 0')
    expect(tiny.a?.kernel).toBe('6.1')
    expect(tiny.b?.kernel).toBe('6.18.44')
    expect(c.rows[0]!.b).toBeNull()
    expect(c.rows[0]!.differences).toEqual(['only in A'])
    expect(c.differing).toBe(2)
    expect(c.a).toEqual({ kernels: ['6.1'], runs: 3 })
  })

  it('names a verdict that changed', () => {
    const tiny = c.rows[1]!
    expect(tiny.a?.behavesLike).not.toBe(tiny.b?.behavesLike)
    expect(tiny.differences[0]).toBe(`verdict: ${tiny.a?.behavesLike} → ${tiny.b?.behavesLike}`)
  })

  it('keeps the latest run of a scenario × filesystem on one side', () => {
    const later = on('6.1', tinyRecord({ id: 'a9', read: 4096, startedAt: '2026-02-01T00:00:00Z' }))
    const again = compareRuns([later, ...a], b)
    expect(again.rows.find((r) => r.scenario === 'tiny' && r.fs === 'tmpfs')).toMatchObject({ a: { runId: 'a9' }, differences: [] })
  })

  it('compares only that a raced op varies, not which outcomes a run saw or how often', () => {
    const raced = (read: number[], counts: number[]): RunRecord => {
      const r = tinyRecord({ read: read[0] })
      const histogram = read.map((n, i) => ({ outcome: { ret: n, errno: null, drain: { read: n, changed: [], changedBytes: 0 } }, count: counts[i] ?? 1 }))
      return { ...r, observation: { ...r.observation, ops: r.observation.ops.map((o) => ({ ...o, histogram })) } }
    }
    const same = compareRuns([raced([0, 4096], [3, 7])], [raced([0, 8192, 4096], [5, 1, 4])])
    expect(same.rows[0]?.differences).toEqual([])
    expect(same.rows[0]?.a?.ops[0]).toMatchObject({ varies: true, outcome: 'varies: 0, read 0, changed 0 | 4096, read 4096, changed 0' })
    const settled = compareRuns([raced([0, 4096], [3, 7])], [raced([0], [10])])
    expect(settled.rows[0]?.differences).toContain('ops[0] drain: varies: 0, read 0, changed 0 | 4096, read 4096, changed 0 → 0, read 0, changed 0')
  })

  it('tells two VM builds of one release apart by the kernel booted and its boot arguments', () => {
    const t = tinyRecord().target
    expect(kernelLabel(t)).toBe('6.18')
    expect(kernelLabel({ ...t, kernel: '6.1.192', vm: { kernel: '/store/fix-6.1', accelerator: 'tcg', bootArgs: ['splice_policy=copy'], cmdline: '' } })).toBe('6.1.192 vm:fix-6.1 splice_policy=copy')
  })

  it('prints a table with the kernels in the header, the differing outcomes under their row and a count', () => {
    const text = formatComparison(c)
    const lines = text.split('\n')
    expect(lines[1]).toMatch(/^scenario\s+fs\s+A 6\.1\s+B 6\.18\.44/)
    expect(lines[2]).toMatch(/^tiny\s+ext4\s+\S+\s+—\s+differs$/)
    expect(lines[3]).toMatch(/^tiny\s+tmpfs\s+\S+\s+\S+\s+differs$/)
    expect(lines[4]).toBe('    verdict: stock → none')
    expect(lines[5]).toContain('ops[0] drain: 0, read 0')
    expect(text).toMatch(/^other\s+tmpfs\s+.*same$/m)
    expect(lines.at(-1)).toBe('2 of 3 scenario × filesystem row(s) differ')
  })
})
