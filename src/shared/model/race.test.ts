import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { loadScenarioOrThrow, validateScenario, type Scenario, type ScenarioInput } from '../scenario'
import { defaultEnv, predict } from '.'
import type { OpOutcome } from '../results'

const PAGE = 4096
const whitlock = loadScenarioOrThrow(readFileSync(new URL('../../../resources/scenarios/whitlock-punch-race.yaml', import.meta.url), 'utf8'), 'whitlock')

function scenario(input: ScenarioInput): Scenario {
  const r = validateScenario(input, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

/** The pages a drain outcome shows zeroed, as a sorted list of page numbers of the drain. */
const zeroPages = (o: OpOutcome): number[] =>
  (o.drain?.changed ?? []).flatMap((r) => {
    expect(r.holds).toBe('zero')
    expect(r.start % PAGE).toBe(0)
    expect(r.end % PAGE).toBe(0)
    return Array.from({ length: (r.end - r.start) / PAGE }, (_, k) => r.start / PAGE + k)
  })

describe('the model of a race', () => {
  for (const fs of ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const) {
    it(`allows every page of Whitlock's race intact or zeroed, each page whole, on ${fs} under every policy`, () => {
      for (const policy of ['stock', 'steal-or-copy', 'copy'] as const) {
        const p = predict(whitlock, policy, defaultEnv(fs))
        expect(p.ops.map((o) => o.path)).toEqual(['ops[0].ops[0]', 'ops[0].ops[1]', 'ops[1]'])
        expect(p.ops[0]!.outcomes).toEqual([{ ret: 4 * PAGE, errno: null }])
        expect(p.ops[1]!.outcomes).toEqual([{ ret: 0, errno: null }])
        const drains = p.ops[2]!.outcomes
        // 4 pages, each either way: the 16 subsets, nothing else (never a partly zero page, never a short read)
        expect(drains).toHaveLength(16)
        const sets = new Set(drains.map((o) => JSON.stringify(zeroPages(o))))
        expect(sets.size).toBe(16)
        for (const o of drains) expect(o).toMatchObject({ ret: 4 * PAGE, drain: { read: 4 * PAGE, changedBytes: zeroPages(o).length * PAGE } })
        // the other task's page-cache events are counted with the splice: not predicted there
        expect(Object.keys(p.ops[0]!.tracepoints)).toEqual(['syscalls:sys_enter_splice'])
      }
    })
  }

  it('does not widen what the inputs fix: a race of a splice with a punch of other pages allows only the intact drain', () => {
    const s = scenario({
      name: 'apart',
      files: [{ id: 'f', size: '16p', cached: false }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'race', ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '4p' }, { op: 'punch_hole', file: 'f', offset: '8p', len: '4p' }] },
        { op: 'drain', pipe: 'p' },
      ],
    })
    const drains = predict(s, 'stock', defaultEnv('ext4')).ops[2]!.outcomes
    expect(drains).toEqual([{ ret: 4 * PAGE, errno: null, drain: { read: 4 * PAGE, changed: [], changedBytes: 0 } }])
  })

  it('a write racing a splice of a cached file: stock shows the write whatever the order (the pipe holds the page cache pages); copy allows old or new per page', () => {
    const s = scenario({
      name: 'write-race',
      files: [{ id: 'f', size: '4p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'race', ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' }, { op: 'pwrite', file: 'f', offset: 100, len: '1p' }] },
        { op: 'drain', pipe: 'p' },
      ],
    })
    const stock = predict(s, 'stock', defaultEnv('ext4'))
    expect(stock.ops[1]!.outcomes).toEqual([{ ret: PAGE, errno: null }])
    const stockDrains = stock.ops[2]!.outcomes
    expect(stockDrains.length).toBeGreaterThan(0)
    // every stock outcome shows the written bytes where the pipe holds them: changes that hold the file's current bytes
    for (const o of stockDrains) for (const r of o.drain!.changed) expect(r.holds).toBe('current')
    const copyDrains = predict(s, 'copy', defaultEnv('ext4')).ops[2]!.outcomes
    // copy: a page copied before the write keeps its old bytes; both pages either way: 4 outcomes
    expect(copyDrains).toHaveLength(4)
    expect(copyDrains.some((o) => o.drain!.changedBytes === 0)).toBe(true)
  })
})

describe('the race forks', () => {
  it('so a private buffer vmspliced after it and then stored into drains unchanged (copy-on-write), a shared one changed', () => {
    for (const kind of ['private', 'shared'] as const) {
      const s = scenario({
        name: 'cow-after-race',
        files: [{ id: 'f', size: '4p', cached: false }],
        buffers: [{ id: 'b', size: '1p', kind }],
        pipes: [{ id: 'p' }, { id: 'q' }],
        ops: [
          { op: 'race', ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' }, { op: 'pwrite', file: 'f', offset: 0, len: 10 }] },
          { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'q' },
          { op: 'buf_store', buffer: 'b', offset: 100, len: 100 },
          { op: 'drain', pipe: 'q' },
        ],
      })
      const drains = predict(s, 'stock', defaultEnv('tmpfs')).ops.find((o) => o.path === 'ops[3]')!.outcomes
      expect(drains.map((o) => o.drain!.changedBytes), kind).toEqual([kind === 'private' ? 0 : 100])
    }
  })
})

describe('a race with a write that extends the file', () => {
  it('holds what the splice read against the file before the race: past its old end, zeros', () => {
    const s = scenario({
      name: 'extend-race',
      files: [{ id: 'f', size: 0 }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'race', ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: 1 }, { op: 'pwrite', file: 'f', offset: 0, len: 1, pattern: { fill: 87 } }] },
        { op: 'drain', pipe: 'p' },
      ],
    })
    const p = predict(s, 'stock', defaultEnv('ext4'))
    // the splice first: nothing to read (end of file); the write first: its byte, a change from the zeros there before
    expect(p.ops[0]!.outcomes).toEqual(expect.arrayContaining([{ ret: 0, errno: null }, { ret: 1, errno: null }]))
    expect(p.ops[2]!.outcomes.map((o) => o.drain!.changed)).toContainEqual([{ start: 0, end: 1, holds: 'current' }])
  })
})
