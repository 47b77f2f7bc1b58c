/**
 * The comparison's reasons for one op and policy, split into what disagrees (the finding) and what
 * agrees (checks that passed, and the model's other allowed outcomes as notes). The comparison
 * (src/shared/compare/compare.ts) words an agreeing check "…; <policy> allows that" and a note
 * "note: …"; everything else it says is a disagreement.
 */
import { POLICIES, type Policy, type Verdict } from '../../shared/results'

export interface SplitReasons {
  disagree: string[]
  agree: string[]
}

export function splitReasons(reasons: readonly string[]): SplitReasons {
  const disagree: string[] = []
  const agree: string[] = []
  for (const r of reasons) {
    if (r.startsWith('note:') || / allows that$/.test(r)) agree.push(r)
    else if (!disagree.includes(r)) disagree.push(r)
  }
  return { disagree, agree }
}

/** The verdict's summary without its counts "(stock: 0 disagreements, …)": the chips beside it say them. */
export function summaryWithoutCounts(summary: string): string {
  return summary.replace(/ \((?:[^():]+: \d+ disagreements?(?:, )?)+\)/g, '')
}

/**
 * The card's sentence beside the big policy name: what the name alone does not say — which
 * policies the ops rule out and how often — instead of repeating "behaves like X".
 */
export function verdictSentence(v: Verdict): string {
  const text = summaryWithoutCounts(v.summary)
  if (text !== `this kernel behaves like ${v.behavesLike}`) return text.charAt(0).toUpperCase() + text.slice(1) + '.'
  const c = v.perPolicy[v.behavesLike as Policy]
  const total = c.agree + c.disagree + c.unknown
  const others = POLICIES.filter((p) => p !== v.behavesLike && v.perPolicy[p].disagree > 0).map((p) => `${p} on ${v.perPolicy[p].disagree}`)
  return `All ${total} op${total === 1 ? '' : 's'} agree with ${v.behavesLike}${others.length ? `; the others disagree: ${others.join(', ')}` : ''}.`
}
