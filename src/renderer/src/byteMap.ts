/**
 * A drain as a strip of segments: unchanged bytes and changed runs (what they hold now). Pure, so
 * the byte map's logic is tested without a canvas.
 */
import type { ChangedRange, DrainOutcome } from '../../shared/results'

export type SegmentKind = 'same' | ChangedRange['holds']
export interface Segment {
  start: number
  end: number
  kind: SegmentKind
}

export function segments(d: DrainOutcome): Segment[] {
  const out: Segment[] = []
  let pos = 0
  const ranges = [...d.changed].sort((a, b) => a.start - b.start)
  for (const r of ranges) {
    const start = Math.max(pos, Math.min(r.start, d.read))
    const end = Math.min(r.end, d.read)
    if (start > pos) out.push({ start: pos, end: start, kind: 'same' })
    if (end > start) out.push({ start, end, kind: r.holds })
    pos = Math.max(pos, end)
  }
  if (pos < d.read) out.push({ start: pos, end: d.read, kind: 'same' })
  return out
}

/** Pixel spans for a strip `width` pixels wide; every changed run gets at least one pixel so it stays visible. */
export function toPixels(segs: Segment[], total: number, width: number): { x: number; w: number; kind: SegmentKind }[] {
  if (total <= 0) return []
  return segs.map((s) => {
    const x = (s.start / total) * width
    const w = Math.max(s.kind === 'same' ? 0 : 1, ((s.end - s.start) / total) * width)
    return { x, w, kind: s.kind }
  })
}
