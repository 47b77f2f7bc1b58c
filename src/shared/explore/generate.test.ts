import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { OP_KINDS } from '../scenario/schema'
import { validateScenario } from '../scenario/validate'
import { defaultEnv, predictAll } from '../model'
import { generateScenario } from './generate'

const FS = ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const

describe('explore generator', () => {
  it('makes scenarios the validator accepts, for any seed and index', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(1_000_000), (seed, index) => {
        const s = generateScenario(index, { seed, filesystems: FS })
        const again = validateScenario(JSON.parse(JSON.stringify(s)), '<round trip>')
        expect(again.ok).toBe(true)
      }),
      { numRuns: 3000 },
    )
  })

  it('makes the same scenario again from the same seed and index, and others from others', () => {
    const a = generateScenario(7, { seed: 42, filesystems: FS })
    expect(generateScenario(7, { seed: 42, filesystems: FS })).toEqual(a)
    expect(generateScenario(8, { seed: 42, filesystems: FS })).not.toEqual(a)
    expect(generateScenario(7, { seed: 43, filesystems: FS })).not.toEqual(a)
  })

  it('reaches every op kind and every filesystem it is given', () => {
    const kinds = new Set<string>()
    const fss = new Set<string>()
    for (let i = 0; i < 2000; i++) {
      const s = generateScenario(i, { seed: 1, filesystems: FS })
      fss.add(s.fs!)
      const visit = (op: { op: string; body?: { op: string }[]; ops?: { op: string }[] }): void => {
        kinds.add(op.op)
        op.body?.forEach(visit)
        op.ops?.forEach(visit)
      }
      s.ops.forEach(visit)
    }
    expect([...fss].sort()).toEqual([...FS].sort())
    expect(OP_KINDS.filter((k) => !kinds.has(k))).toEqual([])
  })

  it('mostly mutates a range that a pipe still holds before draining it', () => {
    let held = 0
    const n = 500
    for (let i = 0; i < n; i++) {
      const s = generateScenario(i, { seed: 9, filesystems: ['tmpfs'] })
      const stock = predictAll(s, defaultEnv('tmpfs')).stock
      if (stock.totals.changedBytes > 0) held++
    }
    // The stock model sees a changed drain in a good share of them: the generator aims at the question.
    expect(held / n).toBeGreaterThan(0.25)
  })
})
