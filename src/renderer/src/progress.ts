/**
 * Cumulative curves over a run's progress: after each op, how many pages the kernel and each policy
 * have shared, stolen, copied, reloaded, or how many bytes went through pipes. The model predicts
 * per op, so on this axis its lines grow beside the kernel's and are comparable all along.
 */
import type { OpPrediction, Policy, Prediction } from '../../shared/results'
import type { LiveCounts, LiveSeriesName } from '../../shared/vocabulary'

export interface Point {
  x: number
  y: number
}

const PIPE_OPS = new Set(['splice', 'vmsplice', 'tee'])

/** What the model predicts for one op in a series; null where it predicts nothing (bytes of a non-pipe op are 0). */
export function predictedValue(o: OpPrediction, m: LiveSeriesName): number {
  if (m === 'reloads') return o.reloads
  if (m === 'bytes') {
    // Bytes put into or moved between pipes: the op's return value (the kernel series sums the same syscalls' returns).
    if (!PIPE_OPS.has(o.op)) return 0
    const ret = o.outcomes[0]?.ret ?? 0
    return Math.max(0, ret) * o.iterations
  }
  return o.pages[m]
}

/** Running sum from (0, 0): x = ops done. A null value (not known) ends the curve there. */
export function cumulative(values: (number | null)[]): Point[] {
  const out: Point[] = [{ x: 0, y: 0 }]
  let sum = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || v === undefined) break
    sum += v
    out.push({ x: i + 1, y: sum })
  }
  return out
}

export function policyCurve(p: Prediction, m: LiveSeriesName): Point[] {
  return cumulative(p.ops.map((o) => predictedValue(o, m)))
}

/** The kernel's curve over the same ops, from per-op counts of its trace; ops it has no count for end it. */
export function kernelCurve(paths: string[], perOp: Map<string, LiveCounts> | null, m: LiveSeriesName): Point[] {
  if (!perOp || perOp.size === 0) return []
  return cumulative(paths.map((p) => perOp.get(p)?.[m] ?? null))
}

export function opPaths(predictions: Record<Policy, Prediction> | null, observed: { path: string }[]): string[] {
  return predictions?.stock.ops.map((o) => o.path) ?? observed.map((o) => o.path)
}
