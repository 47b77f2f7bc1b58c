import { describe, expect, it } from 'vitest'
import { decimate, LiveSeries, MAX_POINTS } from './liveSeries'

describe('LiveSeries', () => {
  it('keeps cumulative totals exact while bounding the points drawn', () => {
    const s = new LiveSeries()
    for (let i = 0; i < 10_000; i++) s.push([{ t: i * 10, counts: { copied: 1 } }], 0)
    expect(s.totals.copied).toBe(10_000)
    expect(s.points.copied.length).toBeLessThanOrEqual(MAX_POINTS + 1)
    expect(s.points.copied.at(-1)).toEqual({ x: 99_990, y: 10_000 })
  })

  it('merges buckets with the same time', () => {
    const s = new LiveSeries()
    s.push([{ t: 0, counts: { bytes: 10 } }, { t: 0, counts: { bytes: 5 } }], 0)
    expect(s.points.bytes).toEqual([{ x: 0, y: 15 }])
  })

  it('decimate keeps the first and the last point', () => {
    const pts = Array.from({ length: 7 }, (_, i) => ({ x: i, y: i }))
    decimate(pts)
    expect(pts.map((p) => p.x)).toEqual([0, 2, 4, 6])
  })
})
