import { describe, expect, it } from 'vitest'
import { diffExpected, expectedOutcomes, expectFileName } from './expect'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import type { Observation } from '../results'

const outcome = (read: number) => ({ ret: read, errno: null, drain: { read, changed: [], changedBytes: 0 } })

describe('expected outcomes', () => {
  const r = tinyRecord()

  it('keeps outcomes only, and no difference against itself', () => {
    const e = expectedOutcomes(r.scenario, 'tmpfs', '6.18.44-fc', r.observation)
    expect(e.ops).toEqual([{ path: 'ops[0]', op: 'drain', outcome: outcome(0) }])
    expect(diffExpected(e, e)).toEqual([])
    expect(expectFileName('6.18.44+fc/x', 'xfs')).toBe('6.18.44_fc_x.xfs.json')
  })

  it('names an op whose outcome changed, one missing and one new', () => {
    const e = expectedOutcomes(r.scenario, 'tmpfs', '6.18', r.observation)
    const changed = expectedOutcomes(r.scenario, 'tmpfs', '6.18', tinyRecord({ read: 4096 }).observation)
    expect(diffExpected(e, changed)).toEqual(['ops[0] (drain): expected 0, read 0, changed 0, observed 4096, read 4096, changed 0'])
    const none = expectedOutcomes(r.scenario, 'tmpfs', '6.18', { ...r.observation, ops: [], incomplete: { reason: 'killed' } })
    expect(diffExpected(e, none)).toEqual(['ops[0] (drain): expected 0, read 0, changed 0, not observed', 'incomplete: expected no, observed killed'])
    expect(diffExpected(none, e)).toContain('ops[0] (drain): observed 0, read 0, changed 0, not expected')
  })

  it('keeps an op that saw more than one outcome as varying, and never reports its outcome as a difference', () => {
    const raced = (first: number): Observation => ({
      ...r.observation,
      ops: r.observation.ops.map((o) => ({ ...o, outcome: outcome(first), histogram: [{ outcome: outcome(0), count: 3 }, { outcome: outcome(4096), count: 2 }] })),
    })
    const e1 = expectedOutcomes(r.scenario, 'tmpfs', '6.18', raced(0))
    const e2 = expectedOutcomes(r.scenario, 'tmpfs', '6.18', raced(4096))
    expect(e1).toEqual(e2)
    expect(e1.ops).toEqual([{ path: 'ops[0]', op: 'drain', varies: true }])
    const steady = expectedOutcomes(r.scenario, 'tmpfs', '6.18', r.observation)
    expect(diffExpected(e1, steady)).toEqual([])
    expect(diffExpected(steady, e1)).toEqual([])
  })
})
