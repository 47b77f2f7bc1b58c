/**
 * Issue 15, part 2, kept from coming back: 10,000 generated hostile scenarios — sizes past every
 * bound and at it, floats, negatives, giant unit strings, repeat counts, lists at and past the
 * probe's tables, nesting up to 10,000 levels, references to ids that exist and that do not — each
 * must give a clear error (a field path and a short message) within a time budget, or validate and
 * then be within the probe's limits (it compiles) and predicted by the model within a time and
 * memory budget. A failure prints fast-check's seed; FUZZ_SEED=<n> replays it.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseScenarioText, OP_KINDS } from '../../../src/shared/scenario'
import { compileProgram } from '../../../src/shared/probe'
import { defaultEnv, predictAll } from '../../../src/shared/model'

/**
 * Per scenario: validation (the worst case, a text just under 1 MB, parses in 1-3 s on a busy
 * 2-core machine; 100,000 ops took 22 s before the bounds) and the model on a valid one.
 */
const VALIDATE_BUDGET_MS = 10_000
const MODEL_BUDGET_MS = 10_000
/** Heap the model may grow by on one scenario (the largest bounded one needs ~300 MB). */
const MODEL_HEAP_BUDGET = 1024 ** 3

/** Sizes: mostly ones a person writes, sometimes past every bound or not a size at all. */
const sizeArb = fc.oneof(
  { weight: 30, arbitrary: fc.oneof(fc.integer({ min: 0, max: 16_384 }), fc.constantFrom('1p', '4p', '16p', '1p+100', '16KiB')) },
  { weight: 1, arbitrary: fc.constantFrom('1MiB', '256MiB', '1GiB', '1GiB+1', '262144p', '262145p', 1024 ** 3, 1024 ** 3 + 1) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53 - 1, 2 ** 53, 1e20, -1, 1.5, '99999999999999999999GiB', '9007199254740993', 'lots', '', '-1p', ' 4 p ') },
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: 2 ** 24 }), fc.constantFrom('p', 'KiB', 'MiB', 'GiB', '')).map(([n, u]) => `${n}${u}`) },
)
const timesArb = fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 65_536, 1_000_000, 1_000_001, 100_000_000, 2 ** 31, 1e300) })
const BAD_IDS = ['missing', '', '1bad', 'x'.repeat(40), 'a b', '../etc']
const ref = (prefix: string): fc.Arbitrary<string> => fc.oneof({ weight: 40, arbitrary: fc.integer({ min: 0, max: 3 }).map((i) => `${prefix}${Math.min(i, 1) && i - 1}`) }, { weight: 1, arbitrary: fc.constantFrom(...BAD_IDS) })

const leafArb: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    op: fc.oneof({ weight: 60, arbitrary: fc.constantFrom(...OP_KINDS.filter((k) => k !== 'repeat')) }, { weight: 1, arbitrary: fc.constantFrom('rm_rf', '', 'repeat') }),
    file: ref('f'),
    buffer: ref('b'),
    pipe: ref('p'),
    other: ref('p'),
    offset: sizeArb,
    len: sizeArb,
    size: sizeArb,
    store: fc.constantFrom('child', 'parent'),
    end: fc.constantFrom('read', 'write'),
  })
  .map((r) => {
    switch (r.op) {
      case 'splice':
        return { op: 'splice', from: { file: r.file, offset: r.offset }, to: { pipe: r.pipe }, len: r.len }
      case 'tee':
        return { op: 'tee', from: r.pipe, to: r.other, len: r.len }
      case 'vmsplice':
        return { op: 'vmsplice', buffer: r.buffer, offset: r.offset, len: r.len, pipe: r.pipe }
      case 'buf_store': case 'madvise_dontneed':
        return { op: r.op, buffer: r.buffer, offset: r.offset, len: r.len }
      case 'drain':
        return { op: 'drain', pipe: r.pipe, len: r.len === 0 ? 'all' : r.len }
      case 'close':
        return { op: 'close', pipe: r.pipe, end: r.end }
      case 'truncate':
        return { op: 'truncate', file: r.file, size: r.size }
      case 'mmap': case 'fsync':
        return { op: r.op, file: r.file }
      case 'munmap':
        return { op: 'munmap', file: r.file }
      case 'fork':
        return { op: 'fork', store: r.store, buffer: r.buffer, offset: r.offset, len: r.len }
      default:
        return { op: r.op, file: r.file, offset: r.offset, len: r.len }
    }
  })

const opArb = fc.oneof(
  { weight: 4, arbitrary: leafArb },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat'), times: timesArb, body: fc.array(leafArb, { minLength: 1, maxLength: 4 }) }) },
)

/** A list of `n` declarations or ops: mostly a few, sometimes at or past the probe's tables. */
const countArb = (few: number, limit: number, weight: number): fc.Arbitrary<number> =>
  fc.oneof({ weight, arbitrary: fc.integer({ min: 1, max: few }) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(limit, limit + 1, limit * 20) })
const listOf = <T>(arb: fc.Arbitrary<T>, count: fc.Arbitrary<number>): fc.Arbitrary<T[]> =>
  fc.tuple(fc.array(arb, { minLength: 1, maxLength: 3 }), count).map(([items, n]) => Array.from({ length: n }, (_, i) => items[i % items.length]!))

const scenarioArb = fc.record({
  name: fc.oneof({ weight: 30, arbitrary: fc.constant('fuzz') }, { weight: 1, arbitrary: fc.constantFrom('', '1x', 'a'.repeat(100)) }),
  title: fc.oneof(fc.constant(undefined), fc.constant('\u001b]0;owned\u0007\u001b[2J'), fc.string({ minLength: 1, maxLength: 20 })),
  files: listOf(fc.record({ id: ref('f'), size: sizeArb, cached: fc.boolean(), state: fc.constantFrom('synced', 'dirty') }), countArb(3, 64, 60)),
  buffers: listOf(fc.record({ id: ref('b'), size: sizeArb, offset: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: sizeArb }) }), countArb(3, 64, 60)),
  pipes: listOf(fc.record({ id: ref('p'), size: sizeArb }), countArb(3, 64, 60)),
  ops: listOf(opArb, countArb(6, 4096, 300)),
  runs: fc.oneof({ weight: 30, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 10_000, 10_001, 1e9) }),
})

/** Declarations get unique ids in order (f0, f1…) most of the time, so many scenarios get past the references. */
function tidy(s: ReturnType<typeof scenarioArb.generate>['value'] & Record<string, unknown>, unique: boolean): Record<string, unknown> {
  if (!unique) return s
  return {
    ...s,
    files: s.files.map((f, i) => ({ ...f, id: `f${i}` })),
    buffers: s.buffers.map((b, i) => ({ ...b, id: `b${i}` })),
    pipes: s.pipes.map((p, i) => ({ ...p, id: `p${i}` })),
  }
}

const caseArb = fc.record({
  scenario: scenarioArb,
  unique: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  nesting: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(5, 33, 1_000, 10_000) }),
  pageSize: fc.constantFrom(4096, 4096, 65536),
})

function textOf(c: { scenario: Record<string, unknown>; unique: boolean; nesting: number }): string {
  let text = JSON.stringify(tidy(c.scenario as never, c.unique))
  if (c.nesting) text = text.replace('"ops":', `"deep":${'['.repeat(c.nesting)}${']'.repeat(c.nesting)},"ops":`)
  return text
}

describe('hostile scenario fuzzer', () => {
  it('gives 10,000 generated scenarios a clear error or a bounded prediction', () => {
    const tally = { refused: 0, predicted: 0, slowestValidateMs: 0, slowestModelMs: 0 }
    fc.assert(
      fc.property(caseArb, (c) => {
        const text = textOf(c)
        const t0 = performance.now()
        const r = parseScenarioText(text, 'fuzz.json', c.pageSize)
        const validateMs = performance.now() - t0
        tally.slowestValidateMs = Math.max(tally.slowestValidateMs, validateMs)
        expect(validateMs).toBeLessThan(VALIDATE_BUDGET_MS)
        if (!r.ok) {
          tally.refused++
          expect(r.problems.length).toBeGreaterThan(0)
          for (const p of r.problems) {
            expect(typeof p.path).toBe('string')
            expect(p.message.length).toBeGreaterThan(0)
            expect(p.message.length).toBeLessThan(1_000)
          }
          return
        }
        // Valid: within the probe's tables (it compiles) and the model's budget.
        expect(() => compileProgram(r.scenario, { pageSize: c.pageSize })).not.toThrow()
        const heap0 = process.memoryUsage().heapUsed
        const t1 = performance.now()
        predictAll(r.scenario, defaultEnv(r.scenario.fs ?? 'tmpfs', c.pageSize))
        const modelMs = performance.now() - t1
        tally.slowestModelMs = Math.max(tally.slowestModelMs, modelMs)
        expect(modelMs).toBeLessThan(MODEL_BUDGET_MS)
        expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(MODEL_HEAP_BUDGET)
        tally.predicted++
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 10_000), ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    )
    console.log(`scenario fuzzer: ${tally.refused} refused, ${tally.predicted} predicted; slowest validation ${tally.slowestValidateMs.toFixed(0)} ms, slowest prediction ${tally.slowestModelMs.toFixed(0)} ms`)
    // Both outcomes occur, or the generator has drifted away from one of them.
    expect(tally.refused).toBeGreaterThan(1_000)
    expect(tally.predicted).toBeGreaterThan(500)
  }, 600_000)
})
