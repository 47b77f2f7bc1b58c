/**
 * Cumulative curves over a run's progress: after each op, how many pages the kernel and each policy
 * have shared, stolen, copied, reloaded, or how many bytes went through pipes. The model predicts
 * per op, so on this axis its lines grow beside the kernel's and are comparable all along.
 */
import type { OpPrediction, Policy, Prediction } from '../../shared/results'
import type { LiveCounts, LiveSeriesName, SeriesCounting } from '../../shared/vocabulary'
import { bytesCopiedIntoPipes } from '../../shared/run/cost'

export interface Point {
  x: number
  y: number
}

const PIPE_OPS = new Set(['splice', 'vmsplice', 'tee'])

/** What the model predicts for one op in a series; null where it predicts nothing (bytes of a non-pipe op are 0). */
export function predictedValue(o: OpPrediction, m: LiveSeriesName): number {
  if (m === 'reloads') return o.reloads
  // What the kernel's splice_copy bytes= count: bytes copied into pipes from a file or user memory.
  if (m === 'bytesCopied') return bytesCopiedIntoPipes(o)
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

/** The series the fix's splice_steal / splice_copy tracepoints count where a kernel has them. */
const TRACEPOINT_COUNTED: ReadonlySet<LiveSeriesName> = new Set(['stolen', 'copied', 'bytesCopied'])

/** How the kernel's value of a series was had: measured from the fix's tracepoints, inferred, or counted from stock events. */
export function kernelCounting(m: LiveSeriesName, counting: SeriesCounting): 'measured' | 'inferred' | 'counted' {
  return TRACEPOINT_COUNTED.has(m) ? counting : 'counted'
}

/** The kernel line's legend label for a series: says whether its counts are measured or inferred. */
export function kernelLabel(m: LiveSeriesName, counting: SeriesCounting, when = ''): string {
  const how = kernelCounting(m, counting)
  const parts = [when, how === 'counted' ? '' : how].filter(Boolean)
  return parts.length ? `kernel (${parts.join(', ')})` : 'kernel'
}
