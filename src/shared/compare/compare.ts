/**
 * Comparing a model's predictions with what a kernel did, the herdtools way (DESIGN.md): for every
 * op and policy, an observed outcome outside the predicted set is a disagreement; an allowed outcome
 * never observed is only a note. Return values and errno, drained changed ranges (exact: start,
 * end and what the bytes hold), tracepoint counts (those the model predicts, where the probe could
 * count them), /proc/fs/splice deltas (only when the kernel reported them) and, on a kernel with the
 * fix's splice_steal / splice_copy tracepoints, their counts against the steals and copies the
 * model predicts for /proc/fs/splice, are compared. A tracepoint name outside the vocabulary on
 * either side is refused (VocabularyError), never skipped.
 * Pure: no I/O, no clock.
 *
 * A disagreement is a finding about the model or the kernel; it is never loosened here.
 */
import { POLICIES, type CountRange, type Comparison, type OpComparison, type OpObservation, type OpOutcome, type OpPrediction, type Observation, type Policy, type Prediction, type SpliceStats, type Verdict, type Agreement } from '../results'
import { describeOutcome } from './describe'
import { TRACEPOINTS, isOptionalTracepoint, isTracepoint, type OptionalTracepoint } from '../vocabulary'

/**
 * A tracepoint name outside the lab's vocabulary on either side: the model and the probe no longer
 * speak of the same events, so counts cannot be compared at all (src/shared/vocabulary.ts).
 */
export class VocabularyError extends Error {
  constructor(
    readonly side: 'model' | 'probe',
    readonly tracepoint: string,
  ) {
    super(`the ${side} reported tracepoint "${tracepoint}", which is not in the lab's vocabulary (${TRACEPOINTS.join(', ')}); the model and the probe have drifted apart — nothing was compared`)
    this.name = 'VocabularyError'
  }
}

/** Throws VocabularyError for the first name only one side can know. */
export function checkVocabulary(predictions: Record<Policy, Prediction>, observation: Observation): void {
  for (const p of POLICIES) for (const op of predictions[p].ops) for (const name of Object.keys(op.tracepoints)) if (!isTracepoint(name)) throw new VocabularyError('model', name)
  for (const op of observation.ops) for (const name of Object.keys(op.tracepoints ?? {})) if (!isTracepoint(name) && !isOptionalTracepoint(name)) throw new VocabularyError('probe', name)
}

/**
 * What the fix's tracepoints count, from the /proc/fs/splice deltas the model predicts: one event
 * per page stolen or copied into a pipe, from a file or from user memory (fs/splice.c of the patch
 * series fires them where it counts filemap and vmsplice; a splice of an O_DIRECT file counts
 * `direct copied` and fires none).
 */
export const OPTIONAL_FROM_STATS: Readonly<Record<OptionalTracepoint, { of: (s: SpliceStats) => number; stats: string }>> = {
  'splice:splice_steal': { of: (s) => s.filemapMoved + s.vmspliceStole, stats: 'filemap moved + vmsplice stole' },
  'splice:splice_copy': { of: (s) => s.filemapCopied + s.vmspliceCopied, stats: 'filemap copied + vmsplice copied' },
}

const STAT_NAMES: Record<keyof SpliceStats, string> = {
  filemapCopied: 'filemap copied',
  filemapMoved: 'filemap moved',
  directCopied: 'direct copied',
  vmspliceCopied: 'vmsplice copied',
  vmspliceStole: 'vmsplice stole',
}

/** The counts a fix tracepoint may take: from the predicted /proc/fs/splice deltas, or their ranges where the kernel decides. */
export function optionalRange(name: OptionalTracepoint, pred: OpPrediction): CountRange {
  const { of } = OPTIONAL_FROM_STATS[name]
  const r = pred.statsRange
  if (!r) return { min: of(pred.stats), max: of(pred.stats) }
  const mins = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.min])) as unknown as SpliceStats
  const maxes = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.max])) as unknown as SpliceStats
  return { min: of(mins), max: of(maxes) }
}

export function sameOutcome(a: OpOutcome, b: OpOutcome): boolean {
  if (a.ret !== b.ret || (a.errno ?? null) !== (b.errno ?? null)) return false
  if (!a.drain || !b.drain) return !a.drain && !b.drain
  if (a.drain.read !== b.drain.read || a.drain.changedBytes !== b.drain.changedBytes) return false
  if (a.drain.changed.length !== b.drain.changed.length) return false
  return a.drain.changed.every((r, i) => {
    const s = b.drain!.changed[i]!
    return r.start === s.start && r.end === s.end && r.holds === s.holds
  })
}

/** The distinct outcomes a kernel showed for one op (the histogram when repeated, else the one). */
function observedOutcomes(o: OpObservation): OpOutcome[] {
  if (o.histogram && o.histogram.length) return o.histogram.map((h) => h.outcome)
  return [o.outcome]
}

/** Allowed outcomes never seen listed one by one (a race allows one per combination of its pages); the rest are counted. */
const MAX_UNSEEN_NOTES = 8

/** "not seen in 200 runs": how many executions the histogram covers (one run: "not observed"). */
function notSeenIn(obs: OpObservation): string {
  const n = obs.histogram?.length ? obs.histogram.reduce((a, h) => a + h.count, 0) : 1
  if (n <= 1) return 'not observed'
  return `not seen in ${n} ${obs.iterations > 1 ? 'iterations' : 'runs'}`
}

export function compareOp(policy: Policy, pred: OpPrediction | undefined, obs: OpObservation): { agreement: Agreement; reasons: string[] } {
  if (!pred) return { agreement: 'unknown', reasons: [`the ${policy} model has no prediction for ${obs.path}`] }
  const reasons: string[] = []
  const notes: string[] = []
  let disagree = false
  const opName = obs.op

  if (pred.op !== obs.op) {
    return { agreement: 'disagree', reasons: [`the probe reported ${obs.op} at ${obs.path} but the model has ${pred.op} there (scenario mismatch)`] }
  }

  // A repeat cut short (time limit, kill) ran fewer iterations than predicted: its summed counts
  // cannot be compared with the model's, and that says nothing about which policy the kernel follows.
  if (pred.iterations !== obs.iterations) {
    return { agreement: 'unknown', reasons: [`${obs.path} ran ${obs.iterations} of ${pred.iterations} iterations; not compared`] }
  }

  const seen = observedOutcomes(obs)
  for (const outcome of seen) {
    const allowed = pred.outcomes.some((p) => sameOutcome(p, outcome))
    if (allowed) reasons.push(`${describeOutcome(outcome, opName)}; ${policy} allows that`)
    else {
      disagree = true
      const allowedText = pred.outcomes.length ? pred.outcomes.map((p) => describeOutcome(p, opName)).join(' — or — ') : 'no outcome at all'
      reasons.push(`${describeOutcome(outcome, opName)}; ${policy} forbids that: it allows only ${allowedText}`)
    }
  }
  const unseen = pred.outcomes.filter((p) => !seen.some((s) => sameOutcome(p, s)))
  for (const p of unseen.slice(0, MAX_UNSEEN_NOTES)) notes.push(`note: ${policy} also allows ${describeOutcome(p, opName)}, ${notSeenIn(obs)}`)
  if (unseen.length > MAX_UNSEEN_NOTES) notes.push(`note: ${policy} allows ${unseen.length - MAX_UNSEEN_NOTES} more outcomes, ${notSeenIn(obs)}`)

  if (obs.tracepoints) {
    for (const [name, range] of Object.entries(pred.tracepoints)) {
      const count = obs.tracepoints[name]
      if (count === undefined) continue
      if (count < range.min || count > range.max) {
        disagree = true
        const expected = range.min === range.max ? `${range.min}` : `${range.min}..${range.max}`
        reasons.push(`${name} fired ${count} times; ${policy} expects ${expected}`)
      }
    }
    for (const [name, { stats }] of Object.entries(OPTIONAL_FROM_STATS)) {
      const count = obs.tracepoints[name]
      if (count === undefined) continue
      const range = optionalRange(name as OptionalTracepoint, pred)
      if (count >= range.min && count <= range.max) continue
      disagree = true
      const expected = range.min === range.max ? `${range.min}` : `${range.min}..${range.max}`
      reasons.push(`${name} fired ${count} times; ${policy} expects ${expected} (${stats})`)
    }
  }

  if (obs.stats) {
    for (const key of Object.keys(STAT_NAMES) as (keyof SpliceStats)[]) {
      const range = pred.statsRange?.[key] ?? { min: pred.stats[key], max: pred.stats[key] }
      if (obs.stats[key] < range.min || obs.stats[key] > range.max) {
        disagree = true
        const expected = range.min === range.max ? `${range.min}` : `${range.min}..${range.max}`
        reasons.push(`/proc/fs/splice ${STAT_NAMES[key]} changed by ${obs.stats[key]}; ${policy} expects ${expected}`)
      }
    }
  }

  return { agreement: disagree ? 'disagree' : 'agree', reasons: [...reasons, ...notes] }
}

export function compare(predictions: Record<Policy, Prediction>, observation: Observation): Comparison {
  checkVocabulary(predictions, observation)
  const byPath = Object.fromEntries(POLICIES.map((p) => [p, new Map(predictions[p].ops.map((o) => [o.path, o]))])) as Record<Policy, Map<string, OpPrediction>>
  const ops: OpComparison[] = observation.ops.map((obs) => ({
    path: obs.path,
    op: obs.op,
    byPolicy: Object.fromEntries(POLICIES.map((p) => [p, compareOp(p, byPath[p].get(obs.path), obs)])) as OpComparison['byPolicy'],
  }))
  return { ops, verdict: verdictOf(ops, observation) }
}

export function verdictOf(ops: OpComparison[], observation?: Observation): Verdict {
  const perPolicy = Object.fromEntries(
    POLICIES.map((p) => {
      const c = { agree: 0, disagree: 0, unknown: 0 }
      for (const op of ops) c[op.byPolicy[p].agreement]++
      return [p, c]
    }),
  ) as Verdict['perPolicy']
  const consistent = POLICIES.filter((p) => perPolicy[p].disagree === 0 && perPolicy[p].agree > 0)
  const behavesLike: Policy | 'none' = consistent[0] ?? 'none'
  const counts = POLICIES.map((p) => `${p}: ${perPolicy[p].disagree} disagreement${perPolicy[p].disagree === 1 ? '' : 's'}`).join(', ')
  let summary: string
  if (ops.length === 0) summary = 'nothing to compare: the probe reported no op'
  else if (behavesLike === 'none') summary = `no policy explains this kernel (${counts})`
  else if (consistent.length === 1) summary = `this kernel behaves like ${behavesLike} (${counts})`
  else summary = `this kernel behaves like ${behavesLike}; this scenario cannot tell it from ${consistent.slice(1).join(' and ')} (${counts})`
  if (observation?.incomplete) {
    const n = `${ops.length} op${ops.length === 1 ? '' : 's'}`
    summary = `the run did not finish (${observation.incomplete.reason}); on the ${n} it did: ${summary}`
  }
  return { behavesLike, perPolicy, summary }
}
