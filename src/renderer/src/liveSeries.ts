/**
 * Live time series for the run charts, outside Vue's reactivity (50 000 events/s must not become
 * 50 000 reactive writes): cumulative counts per series at each bucket time, decimated by halving
 * once a series exceeds MAX_POINTS, so drawing cost stays flat however long a run streams.
 */
import type { TraceBucket } from '../../shared/run/types'
import { LIVE_SERIES, emptyLiveCounts, type LiveSeriesName, type SeriesCounting } from '../../shared/vocabulary'

/** Points kept per series. 1 200 ≈ one per pixel on a wide chart; beyond that nothing is visible. */
export const MAX_POINTS = 1200
export { LIVE_SERIES, type LiveSeriesName }

export interface Point {
  x: number
  y: number
}

export class LiveSeries {
  readonly points = Object.fromEntries(LIVE_SERIES.map((s) => [s, [] as Point[]])) as Record<LiveSeriesName, Point[]>
  readonly totals: Record<LiveSeriesName, number> = emptyLiveCounts()
  lost = 0
  /** How stolen, copied and bytes copied were counted (the tracer says with each batch; older records: inferred). */
  counting: SeriesCounting = 'inferred'

  /** The series the kernel's counts say something about: bytes copied only where they were measured. */
  has(name: LiveSeriesName): boolean {
    return name !== 'bytesCopied' || this.counting === 'measured'
  }
  /** Latest bucket time seen (ms since the first event). */
  lastT = 0
  version = 0

  push(buckets: TraceBucket[], lost: number, counting?: SeriesCounting): void {
    this.lost = Math.max(this.lost, lost)
    if (counting) this.counting = counting
    for (const b of buckets) {
      for (const name of LIVE_SERIES) {
        this.totals[name] += b.counts[name] ?? 0
        const arr = this.points[name]
        const last = arr[arr.length - 1]
        if (last && last.x === b.t) last.y = this.totals[name]
        else arr.push({ x: b.t, y: this.totals[name] })
        if (arr.length > MAX_POINTS) decimate(arr)
      }
      this.lastT = Math.max(this.lastT, b.t)
    }
    this.version++
  }
}

/** Keeps every other point (cumulative series: the shape survives, the last point is kept). */
export function decimate(arr: Point[]): void {
  const last = arr[arr.length - 1]!
  let w = 0
  for (let r = 0; r < arr.length; r += 2) arr[w++] = arr[r]!
  arr.length = w
  if (arr[w - 1] !== last) arr.push(last)
}
