/**
 * One run of a scenario under one policy: the ops in order (a repeat body once per iteration), each
 * into its own accumulator, then the prediction those accumulators add up to.
 */
import type { Scenario } from '../scenario/schema'
import { resolveSize } from '../scenario/size'
import type { CountRange, ModelEnv, OpPrediction, Policy, Prediction, SpliceStats } from '../results'
import type { Tracepoint } from '../vocabulary'
import { OpAcc } from './acc'
import { resolveRules, type KernelRules } from './kernels'
import { POLICY_RULES } from './policy'
import { runOp, type Sim } from './ops'
import { makeWorld, type WorldEnv } from './state'
import { runRepeat, runRepeatIterating } from './repeat'
import { runRace, unpredictedRaceTracepoints, type RaceChoices } from './race'
import { raceOverlapPages } from '../scenario/bounds'

const TP_ADD: Tracepoint = 'filemap:mm_filemap_add_to_page_cache'
const TP_DEL: Tracepoint = 'filemap:mm_filemap_delete_from_page_cache'

export interface SimulateOptions {
  /**
   * 'closed-form' (default): a repeat that reaches a steady state adds its remaining iterations in
   * one step (repeat.ts). 'iterate': every iteration is run; the same prediction, slower (for tests
   * and benchmarks that compare the two).
   */
  repeats?: 'closed-form' | 'iterate'
}

/**
 * Page-granular steps each prediction took to simulate, the model benchmark's unit of work: kept
 * beside the prediction, not in it, so the product type carries no benchmark field. Only for
 * predictions simulate() made in this thread (one that crossed a worker's boundary has none).
 */
const simulated = new WeakMap<Prediction, number>()

export function simulatedPageEvents(p: Prediction): number | undefined {
  return simulated.get(p)
}

export function simulate(scenario: Scenario, policy: Policy, env: ModelEnv, options: SimulateOptions = {}): Prediction {
  const { rules, notes } = resolveRules(env.kernel)
  // the run applies the scenario's mkfs/mount options unless the environment names others
  const world: WorldEnv = { fs: env.fs, pageSize: env.pageSize, rules, mount: env.mount ?? scenario.mount }
  // A race's pages each go either way (race.ts): one world per combination, their outcomes allowed together.
  const racePages = scenario.ops.reduce((n, op) => n + (op.op === 'race' ? raceOverlapPages(op, env.pageSize) : 0), 0)
  const main = simulateWorld(scenario, policy, env, world, 1, options, 0)
  for (let mask = 1; mask < 2 ** racePages; mask++) allowBoth(main, simulateWorld(scenario, policy, env, world, 1, options, mask))
  if (notes.length) main.notes = notes
  if (!readaheadMayGiveLargeFolios(scenario, world.rules, env, policy)) return main
  // The folio size readahead picks is the kernel's choice: allow the outcomes of both worlds.
  for (let mask = 0; mask < 2 ** racePages; mask++) allowBoth(main, simulateWorld(scenario, policy, env, world, rules.readaheadLargeFolioPages, options, mask))
  return main
}

/** Adds another world's outcomes, tracepoint ranges and /proc/fs/splice ranges to `main`'s. */
function allowBoth(main: Prediction, other: Prediction): void {
  main.ops.forEach((op, i) => {
    const keys = new Set(op.outcomes.map((o) => JSON.stringify(o)))
    for (const o of other.ops[i]!.outcomes) if (!keys.has(JSON.stringify(o))) op.outcomes.push(o)
    for (const [name, r] of Object.entries(other.ops[i]!.tracepoints)) {
      const mine = op.tracepoints[name]
      if (mine) op.tracepoints[name] = { min: Math.min(mine.min, r.min), max: Math.max(mine.max, r.max) }
    }
    const range = unionStats(statsRangeOf(op.stats, op.statsRange), statsRangeOf(other.ops[i]!.stats, other.ops[i]!.statsRange))
    if (Object.values(range).some((r) => r.min !== r.max)) op.statsRange = range
  })
  simulated.set(main, simulated.get(main)! + simulated.get(other)!)
}

/** The range of each /proc/fs/splice counter an op allows: its range, else exactly its stats. */
function statsRangeOf(s: SpliceStats, range: Record<keyof SpliceStats, CountRange> | undefined): Record<keyof SpliceStats, CountRange> {
  if (range) return range
  const exact = (n: number): CountRange => ({ min: n, max: n })
  return { filemapCopied: exact(s.filemapCopied), filemapMoved: exact(s.filemapMoved), directCopied: exact(s.directCopied), vmspliceCopied: exact(s.vmspliceCopied), vmspliceStole: exact(s.vmspliceStole) }
}

/** Both ranges, counter by counter. */
function unionStats(a: Record<keyof SpliceStats, CountRange>, b: Record<keyof SpliceStats, CountRange>): Record<keyof SpliceStats, CountRange> {
  const out = { ...a }
  for (const key of Object.keys(b) as (keyof SpliceStats)[]) out[key] = { min: Math.min(a[key].min, b[key].min), max: Math.max(a[key].max, b[key].max) }
  return out
}

/**
 * Steals the kernel may have made copies (acc.stealsMayCopy: a race, a read in flight): filemap
 * moved may be that many lower and filemap copied that many higher.
 */
function mayCopyStatsRange(a: OpAcc): Record<keyof SpliceStats, CountRange> {
  const range = statsRangeOf(a.stats, undefined)
  range.filemapMoved.min -= a.stealsMayCopy
  range.filemapCopied.max += a.stealsMayCopy
  return range
}

/** Whether a file read from disk (uncached, or stolen from under steal-or-copy) is big enough for readahead to choose large folios on this filesystem. */
function readaheadMayGiveLargeFolios(scenario: Scenario, rules: KernelRules, env: ModelEnv, policy: Policy): boolean {
  if (!rules.largeFolioReadahead.includes(env.fs)) return false
  // under steal-or-copy a cached file's stolen pages are read back too (fix-6.1, xfs: streaming-readonly
  // stole the 256 pages it found cached and copied the 16,128 it read back, large_folio)
  return scenario.files.some((f) => (!f.cached || policy === 'steal-or-copy') && resolveSize(f.size, env.pageSize) > rules.readaheadOrder0Pages * env.pageSize)
}

function simulateWorld(scenario: Scenario, policy: Policy, env: ModelEnv, world: WorldEnv, readaheadFolioPages: number, options: SimulateOptions, raceMask: number): Prediction {
  const sim: Sim = { world: makeWorld(scenario, world, readaheadFolioPages), policy: POLICY_RULES[policy], sizes: new Map() }
  const accs: OpAcc[] = []
  const choices: RaceChoices = { mask: raceMask, next: 0 }
  const raced = new Set<OpAcc>()
  scenario.ops.forEach((op, i) => {
    const path = `ops[${i}]`
    if (op.op === 'race') {
      const pair = [new OpAcc(`${path}.ops[0]`, op.ops[0].op), new OpAcc(`${path}.ops[1]`, op.ops[1].op)] as const
      runRace(sim, op, pair, choices)
      accs.push(...pair)
      pair.forEach((a) => raced.add(a))
    } else if (op.op === 'repeat') {
      const body = op.body.map((b, j) => new OpAcc(`${path}.body[${j}]`, b.op))
      if (options.repeats === 'iterate') runRepeatIterating(sim, op.body, op.times, body)
      else runRepeat(sim, op.body, op.times, body)
      accs.push(...body)
    } else {
      const acc = new OpAcc(path, op.op)
      runOp(sim, acc, op)
      accs.push(acc)
    }
  })
  return prediction(accs, policy, env, raced)
}

function prediction(accs: OpAcc[], policy: Policy, env: ModelEnv, raced: ReadonlySet<OpAcc>): Prediction {
  const c = env.costs
  const ops: OpPrediction[] = accs.map((a) => ({
    path: a.path,
    op: a.op,
    iterations: a.iterations,
    outcomes: [...a.outcomes.values()],
    pages: a.pages,
    bytesCopied: a.bytesCopied,
    reloads: a.reloads,
    stats: a.stats,
    ...(a.stealsMayCopy ? { statsRange: mayCopyStatsRange(a) } : {}),
    tracepoints: tracepointsOf(a, raced.has(a)),
    costNs:
      a.pages.shared * c.shareNsPerPage + a.pages.stolen * c.stealNsPerPage + a.bytesCopied / c.copyBytesPerNs + a.reloads * c.reloadNsPerPage + a.faults * c.minorFaultNs,
    notes: [...a.notes],
  }))
  const totals = { pages: { shared: 0, stolen: 0, copied: 0 }, bytesCopied: 0, reloads: 0, costNs: 0, changedBytes: 0 }
  let pageEvents = 0
  ops.forEach((o, i) => {
    totals.pages.shared += o.pages.shared
    totals.pages.stolen += o.pages.stolen
    totals.pages.copied += o.pages.copied
    totals.bytesCopied += o.bytesCopied
    totals.reloads += o.reloads
    totals.costNs += o.costNs
    totals.changedBytes += accs[i]!.changedBytes
    pageEvents += accs[i]!.pageEvents
  })
  const p: Prediction = { policy, env, ops, totals }
  simulated.set(p, pageEvents)
  return p
}

/**
 * Tracepoint ranges: syscall entries exactly; page-cache additions/deletions only for the ops where
 * they can be predicted honestly (splice, vmsplice, tee, drain: docs/stock-rules.md section 8) —
 * not for writes, punches or fsync, where the kernel showed folio splits and other noise.
 */
function tracepointsOf(a: OpAcc, raced: boolean): Record<string, CountRange> {
  const out = Object.fromEntries(a.tp)
  if (raced) {
    for (const name of unpredictedRaceTracepoints()) delete out[name]
    return out
  }
  if (a.op === 'splice' || a.op === 'vmsplice' || a.op === 'tee' || a.op === 'drain') {
    out[TP_ADD] = { min: a.pcAdd, max: a.pcAdd + a.pcAddExtra }
    // a steal the kernel may have made a copy deletes nothing
    out[TP_DEL] = { min: a.pcDel - a.stealsMayCopy, max: a.pcDel }
  }
  return out
}
