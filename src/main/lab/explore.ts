/**
 * `splice-lab explore`: generate scenarios, run them in batches on a target, compare each with the
 * model under the policy the kernel is held to, and shrink every disagreement to a minimal
 * scenario, re-run to tell a deterministic disagreement from a race.
 *
 * Two oracles: the model (any kernel: an outcome the model does not allow under `policy`), and on a
 * fix kernel the fix's own promise (no drained byte differs from what it was at splice time) — a
 * finding about the fix, reported as such.
 */
import type { Lab } from './lab'
import type { BatchOutcome } from './batch'
import type { Scenario } from '../../shared/scenario/schema'
import type { Policy } from '../../shared/results'
import type { Filesystem } from '../../shared/vocabulary'
import { generateScenario } from '../../shared/explore/generate'
import { shrinkScenarioBatched } from '../../shared/explore/shrink'
import { scratchSetup } from '../../shared/scenario/mount'
import { ScratchError } from './scratch'
import type { ExploreCase, ExploreCounters, ExploreEvent } from '../../shared/explore/messages'
import { POLICIES } from '../../shared/results'
import type { Target } from '../target/types'
import { stringify } from 'yaml'

export type FindingKind = 'model' | 'fix'

/** Shrink candidates run per batch: one probe session for six. */
const SHRINK_PARALLEL = 6

export interface ExploreOptions {
  filesystems: Filesystem[]
  seed: number
  /** Stop after this many scenarios (default: unbounded, then budgetMs must be given). */
  count?: number
  /** Stop after this long. */
  budgetMs?: number
  /** The policy the kernel is held to: stock on stock kernels, the boot argument's on the fix kernel. */
  policy: Policy
  /** Also hold the kernel to the fix's promise (no drained byte changes). */
  fixOracle: boolean
  /** Scenarios per probe session. Default 40. */
  batchSize?: number
  /** Calls of the kernel a shrink may make. Default 150. */
  shrinkAttempts?: number
  /** How often a minimal case is re-run to tell a deterministic disagreement from a race. Default 5. */
  reruns?: number
  signal?: AbortSignal
  onProgress?: (p: ExploreProgress) => void
  onFinding?: (f: Finding) => void
}

/** What explore reports as it goes: the counters the app's Explore view shows, too. */
export type ExploreProgress = ExploreCounters

export interface Finding {
  kind: FindingKind
  fs: Filesystem
  /** The generated scenario that first showed it. */
  original: Scenario
  /** The smallest scenario that still shows it. */
  minimal: Scenario
  /** The minimal case's run: observation and comparison. */
  outcome: BatchOutcome
  /** Why it is a finding, for people: the disagreements or the changed drains. */
  reasons: string[]
  shrinkAttempts: number
  /** Of `reruns` re-runs of the minimal case, how many showed it again. */
  reproduced: number
  reruns: number
}

/** A generated scenario that gave no verdict, kept so that it can be run again on its own. */
export interface Unfinished {
  scenario: Scenario
  fs: Filesystem
  reason: string
}

export interface ExploreSummary {
  seed: number
  policy: Policy
  filesystems: Filesystem[]
  tried: number
  failed: number
  /** Each scenario counted in `failed`, with why: the probe did not finish it, or the target cannot make its scratch mount. */
  unfinished: Unfinished[]
  elapsedMs: number
  rate: number
  findings: Finding[]
  /** Generated scenarios whose disagreement shrank to a case already found. */
  duplicates: number
  stoppedBy: 'count' | 'budget' | 'cancelled'
}

/** Why an outcome is a finding of `kind`, or [] when it is not. */
export function findingReasons(o: BatchOutcome, kind: FindingKind, policy: Policy): string[] {
  if (kind === 'model') {
    return o.comparison.ops.flatMap((op) => {
      const p = op.byPolicy[policy]
      return p.agreement === 'disagree' ? p.reasons.map((r) => `${op.path} (${op.op}): ${r}`) : []
    })
  }
  // A race's drain is compared with the file before the race, and a page read after the punch
  // arrives zeroed under every policy: that is not data changing in the pipe.
  if (o.scenario.ops.some((x) => x.op === 'race')) return []
  return o.observation.ops.flatMap((op) =>
    op.outcome.drain && op.outcome.drain.changedBytes > 0 ? [`${op.path} (drain): ${op.outcome.drain.changedBytes} bytes changed after they were put into the pipe`] : [],
  )
}

/**
 * The op kinds at which an outcome shows a finding. Shrinking keeps a candidate only if it shows
 * the finding at the same kinds of op, so it cannot slip to another, easier disagreement (an mmap
 * of an empty file) and report that instead of the one it started from.
 */
function findingOps(o: BatchOutcome, kind: FindingKind, policy: Policy): Set<string> {
  if (kind === 'model') return new Set(o.comparison.ops.filter((op) => op.byPolicy[policy].agreement === 'disagree').map((op) => op.op))
  return new Set(o.observation.ops.filter((op) => (op.outcome.drain?.changedBytes ?? 0) > 0).map((op) => op.op))
}

/** A finding's identity: the minimal scenario without its name (two seeds can shrink to one case). */
function caseKey(kind: FindingKind, fs: Filesystem, s: Scenario): string {
  const { name: _n, title: _t, description: _d, ...rest } = s
  return `${kind}:${fs}:${JSON.stringify(rest)}`
}

export async function explore(lab: Lab, o: ExploreOptions): Promise<ExploreSummary> {
  if (o.count === undefined && o.budgetMs === undefined) throw new Error('explore needs a count or a time budget')
  const batchSize = o.batchSize ?? 40
  const reruns = o.reruns ?? 5
  const kinds: FindingKind[] = o.fixOracle ? ['fix', 'model'] : ['model']
  const started = Date.now()
  const findings: Finding[] = []
  const known = new Set<string>()
  let tried = 0
  const unfinished: Unfinished[] = []
  let duplicates = 0
  let runMs = 0
  let next = 0
  let stoppedBy: ExploreSummary['stoppedBy'] = 'count'
  const progress = (phase: ExploreProgress['phase']): void =>
    o.onProgress?.({ tried, elapsedMs: Date.now() - started, rate: runMs ? (tried * 1000) / runMs : 0, found: findings.length + duplicates, shrunk: findings.length, failed: unfinished.length, phase })
  const outOfTime = (): boolean => o.budgetMs !== undefined && Date.now() - started >= o.budgetMs

  while (!o.signal?.aborted) {
    if (o.count !== undefined && tried >= o.count) break
    if (outOfTime()) {
      stoppedBy = 'budget'
      break
    }
    const n = o.count !== undefined ? Math.min(batchSize, o.count - tried) : batchSize
    const generated = Array.from({ length: n }, () => generateScenario(next++, { seed: o.seed, filesystems: o.filesystems }))
    for (const group of groupByScratch(generated)) {
      const t0 = Date.now()
      let outcomes: BatchOutcome[]
      try {
        outcomes = await lab.batch(group.scenarios, { fs: group.fs, signal: o.signal })
      } catch (e) {
        // A scratch mount this target cannot make (a VM's disks are made before it boots, so no
        // mkfs options): those scenarios cannot run here; count them and go on with the rest.
        if (!(e instanceof ScratchError)) throw e
        tried += group.scenarios.length
        for (const scenario of group.scenarios) unfinished.push({ scenario, fs: group.fs, reason: `the target cannot make its scratch mount: ${e.message}` })
        continue
      }
      runMs += Date.now() - t0
      tried += outcomes.length
      for (const outcome of outcomes) {
        if (outcome.observation.incomplete) {
          unfinished.push({ scenario: outcome.scenario, fs: group.fs, reason: `the probe did not finish it: ${outcome.observation.incomplete.reason}` })
          continue
        }
        const kind = kinds.find((k) => findingReasons(outcome, k, o.policy).length > 0)
        if (!kind) continue
        progress('shrinking')
        const finding = await shrinkFinding(lab, outcome, kind, group.fs, o, reruns)
        if (!finding) continue
        const key = caseKey(kind, group.fs, finding.minimal)
        if (known.has(key)) {
          duplicates++
          continue
        }
        known.add(key)
        findings.push(finding)
        o.onFinding?.(finding)
      }
      progress('running')
      if (o.signal?.aborted) break
    }
  }
  if (o.signal?.aborted) stoppedBy = 'cancelled'
  const elapsedMs = Date.now() - started
  return { seed: o.seed, policy: o.policy, filesystems: o.filesystems, tried, failed: unfinished.length, unfinished, elapsedMs, rate: runMs ? (tried * 1000) / runMs : 0, findings, duplicates, stoppedBy }
}

/** Scenarios grouped by the scratch mount they need (filesystem and its mkfs/mount options). */
function groupByScratch(scenarios: Scenario[]): { fs: Filesystem; scenarios: Scenario[] }[] {
  const groups = new Map<string, { fs: Filesystem; scenarios: Scenario[] }>()
  for (const s of scenarios) {
    const fs = s.fs ?? 'tmpfs'
    const variant = scratchSetup(fs, s.mount).variant
    let g = groups.get(variant)
    if (!g) groups.set(variant, (g = { fs, scenarios: [] }))
    g.scenarios.push(s)
  }
  return [...groups.values()]
}

/** Scenarios run in batches of one scratch mount each, their outcomes in the order given. */
async function batchInOrder(lab: Lab, scenarios: Scenario[], fs: Filesystem, signal?: AbortSignal): Promise<BatchOutcome[]> {
  const out: BatchOutcome[] = []
  const groups = new Map<string, number[]>()
  scenarios.forEach((s, i) => {
    const variant = scratchSetup(fs, s.mount).variant
    groups.set(variant, [...(groups.get(variant) ?? []), i])
  })
  for (const indices of groups.values()) {
    const outcomes = await lab.batch(indices.map((i) => scenarios[i]!), { fs, signal })
    indices.forEach((i, k) => (out[i] = outcomes[k]!))
  }
  return out
}

async function shrinkFinding(lab: Lab, first: BatchOutcome, kind: FindingKind, fs: Filesystem, o: ExploreOptions, reruns: number): Promise<Finding | null> {
  const originalOps = findingOps(first, kind, o.policy)
  const shows = (r: BatchOutcome | null): r is BatchOutcome => {
    if (r === null) return false
    const ops = findingOps(r, kind, o.policy)
    return ops.size > 0 && [...ops].every((op) => originalOps.has(op))
  }
  // Candidates are asked about a batch at a time: one probe session for several runs.
  const shrunk = await shrinkScenarioBatched(
    first.scenario,
    async (candidates) => (await batchInOrder(lab, candidates.map((c) => ({ ...c, fs })), fs, o.signal)).map((r) => !r.observation.incomplete && shows(r)),
    { maxAttempts: o.shrinkAttempts ?? 150, signal: o.signal, parallel: SHRINK_PARALLEL },
  )
  const minimal: Scenario = { ...shrunk.scenario, fs, name: `found-${kind}-${fs}-${first.scenario.name}`, title: `Found by explore: ${kind === 'fix' ? 'data the fix still lets change' : `the kernel disagrees with ${o.policy}`}` }
  const again = await lab.batch(Array.from({ length: reruns }, () => minimal), { fs, signal: o.signal })
  const showing = again.filter(shows)
  const outcome = showing[0] ?? (shows(first) && shrunk.steps === 0 ? first : null)
  if (!outcome) return null
  return {
    kind,
    fs,
    original: first.scenario,
    minimal,
    outcome,
    reasons: findingReasons(outcome, kind, o.policy),
    shrinkAttempts: shrunk.attempts,
    reproduced: showing.length,
    reruns,
  }
}

/** The policy a kernel follows: the fix kernel's `splice_policy=` boot argument, else stock. */
export async function kernelPolicy(target: Target): Promise<Policy> {
  const r = await target.exec('cat /proc/cmdline').catch(() => null)
  const m = /(?:^|\s)splice_policy=(\S+)/.exec(r?.output ?? '')
  return m && (POLICIES as readonly string[]).includes(m[1]!) ? (m[1] as Policy) : 'stock'
}

/** A minimal case as a preset file: what it shows in a comment, then the scenario. */
export function findingText(f: Finding, seed: number): string {
  const header = [f.minimal.title, ...f.reasons, `seed ${seed}, ${f.reproduced}/${f.reruns} re-runs showed it; ${f.fs}`].map((l) => `# ${l}`).join('\n')
  return `${header}\n${stringify(f.minimal)}`
}

/** An unfinished scenario as YAML, with why it gave no verdict, to run again on its own. */
export function unfinishedText(u: Unfinished, seed: number): string {
  return `# ${u.scenario.title}: no verdict on ${u.fs} — ${u.reason}\n# seed ${seed}\n${stringify(u.scenario)}`
}

export function findingCase(f: Finding, seed: number): ExploreCase {
  return {
    kind: f.kind,
    fs: f.fs,
    name: f.minimal.name,
    text: findingText(f, seed),
    reasons: f.reasons,
    reproduced: f.reproduced,
    reruns: f.reruns,
    shrinkAttempts: f.shrinkAttempts,
    drains: f.outcome.observation.ops.flatMap((o) => (o.outcome.drain ? [{ path: o.path, outcome: o.outcome.drain }] : [])),
  }
}

/**
 * An explore run for the app: the kernel's policy read from the target, every step reported as
 * an ExploreEvent; never throws (a failure is the `done` event's error).
 */
export async function exploreWithEvents(
  lab: Lab,
  exploreId: string,
  o: Omit<ExploreOptions, 'policy' | 'fixOracle' | 'onProgress' | 'onFinding'>,
  emit: (e: ExploreEvent) => void,
): Promise<void> {
  let counters: ExploreProgress = { tried: 0, elapsedMs: 0, rate: 0, found: 0, shrunk: 0, failed: 0, phase: 'running' }
  let policy: Policy = 'stock'
  try {
    policy = await kernelPolicy(lab.target)
    const summary = await explore(lab, {
      ...o,
      policy,
      fixOracle: policy !== 'stock',
      onProgress: (p) => emit({ type: 'progress', exploreId, counters: (counters = p) }),
      onFinding: (f) => emit({ type: 'case', exploreId, case: findingCase(f, o.seed) }),
    })
    emit({ type: 'done', exploreId, counters: { ...counters, tried: summary.tried, elapsedMs: summary.elapsedMs, rate: summary.rate }, policy, stoppedBy: summary.stoppedBy })
  } catch (e) {
    emit({ type: 'done', exploreId, counters, policy, stoppedBy: o.signal?.aborted ? 'cancelled' : 'count', error: e instanceof Error ? e.message : String(e) })
  }
}
