/**
 * Two run records side by side, per op path: each run's observed outcome, each policy's prediction
 * and agreement in each run, and what differs between the two (stock against a fix, 6.1 against 6.18).
 */
import type { RunRecord } from '../../shared/run/types'
import { POLICIES, type Agreement, type Policy } from '../../shared/results'
import { outcome } from './format'

export interface PolicyPair {
  left: { agreement: Agreement | null; predicted: string }
  right: { agreement: Agreement | null; predicted: string }
  differs: boolean
}

export interface CompareRow {
  path: string
  op: string
  left: string
  right: string
  /** The kernels' outcomes differ. */
  differs: boolean
  policies: Record<Policy, PolicyPair>
}

function side(r: RunRecord, path: string, p: Policy): PolicyPair['left'] {
  const pred = r.predictions[p]?.ops.find((o) => o.path === path)
  const agreement = r.comparison.ops.find((o) => o.path === path)?.byPolicy[p]?.agreement ?? null
  return { agreement, predicted: pred ? pred.outcomes.map(outcome).join(' | ') : '—' }
}

export function compareRuns(a: RunRecord, b: RunRecord): CompareRow[] {
  const left = new Map(a.observation.ops.map((o) => [o.path, o]))
  const right = new Map(b.observation.ops.map((o) => [o.path, o]))
  const order = [...a.predictions.stock.ops.map((o) => o.path), ...b.predictions.stock.ops.map((o) => o.path), ...left.keys(), ...right.keys()]
  const paths = [...new Set(order)]
  const kind = (path: string): string => left.get(path)?.op ?? right.get(path)?.op ?? a.predictions.stock.ops.find((o) => o.path === path)?.op ?? b.predictions.stock.ops.find((o) => o.path === path)?.op ?? ''
  return paths.map((path) => {
    const ls = outcome(left.get(path)?.outcome)
    const rs = outcome(right.get(path)?.outcome)
    const policies = Object.fromEntries(
      POLICIES.map((p) => {
        const l = side(a, path, p)
        const r = side(b, path, p)
        return [p, { left: l, right: r, differs: l.agreement !== r.agreement || l.predicted !== r.predicted }]
      }),
    ) as Record<Policy, PolicyPair>
    return { path, op: kind(path), left: ls, right: rs, differs: ls !== rs, policies }
  })
}
