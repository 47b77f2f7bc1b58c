/** Two run records side by side: per op path, each run's observed outcome and whether they differ. */
import type { RunRecord } from '../../shared/run/types'
import { outcome } from './format'

export interface CompareRow {
  path: string
  op: string
  left: string
  right: string
  differs: boolean
}

export function compareRuns(a: RunRecord, b: RunRecord): CompareRow[] {
  const right = new Map(b.observation.ops.map((o) => [o.path, o]))
  const paths = [...new Set([...a.observation.ops.map((o) => o.path), ...b.observation.ops.map((o) => o.path)])]
  const left = new Map(a.observation.ops.map((o) => [o.path, o]))
  return paths.map((path) => {
    const l = left.get(path)
    const r = right.get(path)
    const ls = outcome(l?.outcome)
    const rs = outcome(r?.outcome)
    return { path, op: (l ?? r)!.op, left: ls, right: rs, differs: ls !== rs }
  })
}
