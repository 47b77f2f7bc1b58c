import { describe, expect, it } from 'vitest'
import type { Scenario } from '../scenario/schema'
import { defaultEnv, predict } from '../model'
import { generateScenario } from './generate'
import { shrinkScenario, shrinkScenarioBatched } from './shrink'
import { validateScenario } from '../scenario/validate'

const env = defaultEnv('tmpfs')

/** The real model, and one with a rule broken on purpose: stores through a file mapping are forgotten. */
const changedBytes = (s: Scenario): number => predict(s, 'stock', env).totals.changedBytes
const brokenChangedBytes = (s: Scenario): number =>
  predict({ ...s, ops: s.ops.filter((o) => o.op !== 'mmap_store') }, 'stock', env).totals.changedBytes
const disagrees = async (s: Scenario): Promise<boolean> => changedBytes(s) !== brokenChangedBytes(s)

const opKinds = (s: Scenario): string[] => s.ops.flatMap((o) => (o.op === 'repeat' ? o.body.map((b) => b.op) : [o.op]))

describe('shrinker', () => {
  it('reduces a planted disagreement to the minimal scenario that shows it', async () => {
    const found: Scenario[] = []
    for (let i = 0; found.length < 5 && i < 5000; i++) {
      const s = generateScenario(i, { seed: 5, filesystems: ['tmpfs'], maxOps: 12 })
      if (s.ops.length >= 5 && (await disagrees(s))) found.push(s)
    }
    expect(found.length).toBe(5)
    for (const s of found) {
      const r = await shrinkScenario(s, disagrees)
      expect(await disagrees(r.scenario)).toBe(true)
      expect(r.minimal).toBe(true)
      // Map the file (before or after the splice), splice a byte of it, store through the mapping, drain.
      expect(opKinds(r.scenario).sort()).toEqual(['drain', 'mmap', 'mmap_store', 'splice'])
      expect(r.scenario.files).toHaveLength(1)
      expect(r.scenario.buffers).toHaveLength(0)
      expect(r.scenario.pipes).toHaveLength(1)
      const store = r.scenario.ops.find((o) => o.op === 'mmap_store') as Extract<Scenario['ops'][number], { op: 'mmap_store' }>
      expect([store.offset, store.len]).toEqual([0, 1])
      expect(r.scenario.files[0]!.size).toBe(1)
    }
  })

  it('finds the same minimal scenario when it asks about several candidates at once', async () => {
    let checked = 0
    for (let i = 0; checked < 3 && i < 5000; i++) {
      const s = generateScenario(i, { seed: 6, filesystems: ['tmpfs'], maxOps: 12 })
      if (s.ops.length < 5 || !(await disagrees(s))) continue
      checked++
      const one = await shrinkScenario(s, disagrees)
      const many = await shrinkScenarioBatched(s, (cs) => Promise.all(cs.map(disagrees)), { parallel: 5 })
      expect(many.scenario).toEqual(one.scenario)
      expect(many.minimal).toBe(true)
    }
    expect(checked).toBe(3)
  })

  it('replaces a race by the sequential order that still disagrees', async () => {
    // The stock model lets each raced page go either way; its totals are those of the world where the
    // splice read first, so "the drain saw a change" holds for the race and for splice-then-write only.
    const s = {
      name: 'raced',
      files: [{ id: 'f', size: 8192 }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'pwrite', file: 'f', offset: 4096, len: 10 },
        { op: 'race', ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: 4096 }, { op: 'pwrite', file: 'f', offset: 100, len: 200 }] },
        { op: 'drain', pipe: 'p' },
      ],
    }
    const checked = validateScenario(s, 'raced', 4096)
    if (!checked.ok) throw new Error(checked.problems.map((p) => p.message).join('; '))
    const sawChange = async (c: Scenario): Promise<boolean> => changedBytes(c) > 0
    expect(await sawChange(checked.scenario)).toBe(true)
    const r = await shrinkScenario(checked.scenario, sawChange)
    expect(r.minimal).toBe(true)
    expect(r.scenario.ops.map((o) => o.op)).toEqual(['splice', 'pwrite', 'drain'])
  })

  it('stops at its attempt budget and says the result is not minimal', async () => {
    const s = generateScenario(3, { seed: 5, filesystems: ['tmpfs'], maxOps: 12 })
    const r = await shrinkScenario(s, async () => true, { maxAttempts: 3 })
    expect(r.attempts).toBe(3)
    expect(r.minimal).toBe(false)
  })

  it('leaves a scenario that passes as it is', async () => {
    const s = generateScenario(3, { seed: 5, filesystems: ['tmpfs'] })
    const r = await shrinkScenario(s, async () => false)
    expect(r.steps).toBe(0)
    expect(r.minimal).toBe(true)
  })
})
