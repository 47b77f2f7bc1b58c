/**
 * npm run bench:model — how fast the model simulates, against baselines measured in the same run.
 *
 * 1. streaming-1gib (1 GiB through a 1 MiB pipe, 262 144 page splices, one overwrite every 256
 *    pages) under each policy on ext4. Baseline: a bare loop over the same number of pages that
 *    does the least a page-granular simulator must do (allocate a slot record per page, push it
 *    into a ring, pop it and compare two references).
 * 2. repeat-heavy: 1 M iterations of { pwrite 16 bytes, splice 1 page, drain 1 page } (3 M simulated ops)
 *    on ext4. Baseline: a bare loop over the same 3 M ops (a pwrite replaces a page's content
 *    object, a splice pushes a slot, a drain pops it and compares two references).
 *
 * Each workload runs as the model runs it (a repeat that reaches a steady state is predicted in
 * closed form, src/shared/model/repeat.ts) and with every iteration run ('iterate'), which shows the
 * cost per simulated op without the closed form. Prints best (min) and median ms over interleaved
 * runs, simulated events or ops per second from the best run, and the ratio to the baseline. The
 * minimum is the figure: on a busy machine the median measures the neighbours; the load average is
 * printed so a reader can tell.
 * Aims (issues): streaming >= 20 M page-events/s and < 50 ms per policy; repeat-heavy >= 20 M
 * simulated ops/s and <= 0.2 µs per simulated op.
 */
import { loadavg } from 'node:os'
import { loadPreset } from '../src/main/presets'
import { defaultEnv, predict, simulatedPageEvents, type SimulateOptions } from '../src/shared/model'
import { validateScenario, type Scenario } from '../src/shared/scenario'
import { POLICIES, type Policy } from '../src/shared/results'

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const best = (xs: number[]): number => Math.min(...xs)

function time(f: () => unknown): number {
  const t0 = performance.now()
  f()
  return performance.now() - t0
}

interface SlotLike {
  page: { content: object }
  s: number
  e: number
  snap: object
}

/** The floor of case 1: one slot object per page pushed into a ring and drained, with a reference compare. */
function streamingBaseline(pages: number, perPass: number): number {
  const page = { content: {} }
  const ring: SlotLike[] = []
  let changed = 0
  for (let done = 0; done < pages; done += perPass) {
    for (let i = 0; i < perPass; i++) ring.push({ page, s: i * 4096, e: (i + 1) * 4096, snap: page.content })
    for (let i = 0; i < perPass; i++) {
      const slot = ring[i]!
      if (slot.page.content !== slot.snap) changed++
    }
    ring.length = 0
  }
  return changed
}

/** The floor of case 2: per iteration a pwrite (a new content object), a splice (a slot) and a drain (pop, compare). */
function repeatBaseline(iterations: number): number {
  const page = { content: {} as object }
  const ring: SlotLike[] = []
  let changed = 0
  for (let t = 0; t < iterations; t++) {
    page.content = { t }
    ring.push({ page, s: 0, e: 4096, snap: page.content })
    const slot = ring.pop()!
    if (slot.page.content !== slot.snap) changed++
  }
  return changed
}

const env = defaultEnv('ext4')
const [l1] = loadavg()
console.log(`load average ${l1!.toFixed(1)}; ${env.fs}, ${env.pageSize}-byte pages`)

function line(label: string, runs: number[], work: number, unit: string, baseMs: number, aim: (ms: number, rate: number) => string): void {
  const ms = best(runs)
  const rate = work / (ms / 1000)
  const perOp = (ms * 1e6) / work
  console.log(
    `  ${label.padEnd(26)} best ${ms.toFixed(2).padStart(8)} ms (median ${median(runs).toFixed(2)})  ${(rate / 1e6).toFixed(1).padStart(8)} M ${unit}/s  ${perOp.toFixed(3)} ns/${unit.replace(/s$/, '')}` +
      `  ${(ms / baseMs).toFixed(2)}× baseline  ${aim(ms, rate)}`,
  )
}

/** Runs the model (closed form and iterating) against a baseline, interleaved; prints one line per policy and mode. */
function bench(title: string, scenario: Scenario, work: (p: Policy) => number, unit: string, runs: number, baseline: () => unknown, aim: (ms: number, rate: number) => string): void {
  const modes: [string, SimulateOptions][] = [['', {}], [' (iterate)', { repeats: 'iterate' }]]
  for (const p of POLICIES) for (const [, o] of modes) predict(scenario, p, env, o)
  baseline()
  const baseRuns: number[] = []
  const model = new Map<string, number[]>()
  for (let r = 0; r < runs; r++) {
    baseRuns.push(time(baseline))
    for (const p of POLICIES)
      for (const [m, o] of modes) {
        // iterating is slow: a few runs are enough to see its cost per op
        if (m && r >= 3) continue
        const key = p + m
        if (!model.has(key)) model.set(key, [])
        model.get(key)!.push(time(() => predict(scenario, p, env, o)))
      }
  }
  const baseMs = best(baseRuns)
  console.log(`${title}: best and median of ${runs} interleaved runs (3 when iterating)`)
  console.log(`  baseline (bare loop)        best ${baseMs.toFixed(2).padStart(8)} ms (median ${median(baseRuns).toFixed(2)})`)
  for (const p of POLICIES) for (const [m] of modes) line(p + m, model.get(p + m)!, work(p), unit, baseMs, m ? () => '(reference: every iteration run)' : aim)
}

const streaming = loadPreset('streaming-1gib')
const pages = 1024 ** 3 / env.pageSize
const pageEvents = new Map(POLICIES.map((p) => [p, simulatedPageEvents(predict(streaming, p, env))!]))
bench(`streaming-1gib (${pages} pages)`, streaming, (p) => pageEvents.get(p)!, 'page-events', 15, () => streamingBaseline(pages, 256), (ms, rate) =>
  `[aim < 50 ms ${ms < 50 ? 'met' : 'MISSED'}, >= 20 M/s ${rate >= 20e6 ? 'met' : 'MISSED'}]`,
)

const ITERATIONS = 1_000_000
const heavy = validateScenario(
  {
    name: 'repeat-heavy',
    files: [{ id: 'f', size: '16p' }],
    pipes: [{ id: 'p', size: '16p' }],
    ops: [
      {
        op: 'repeat',
        times: ITERATIONS,
        body: [
          { op: 'pwrite', file: 'f', offset: 100, len: 16, pattern: { fill: 0x42 } },
          { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
          { op: 'drain', pipe: 'p', len: '1p' },
        ],
      },
    ],
  },
  '<bench>',
)
if (!heavy.ok) throw new Error(heavy.problems.map((p) => `${p.path}: ${p.message}`).join('; '))
const ops = ITERATIONS * 3
bench(`repeat-heavy (${ITERATIONS} × pwrite + splice + drain = ${ops} simulated ops)`, heavy.scenario, () => ops, 'ops', 15, () => repeatBaseline(ITERATIONS), (ms, rate) =>
  `[aim <= 0.2 µs/op ${(ms * 1000) / ops <= 0.2 ? 'met' : 'MISSED'}, >= 20 M/s ${rate >= 20e6 ? 'met' : 'MISSED'}]`,
)
