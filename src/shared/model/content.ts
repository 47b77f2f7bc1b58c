/**
 * Page content without bytes: a page's content is a short list of segments, each either zeros or a
 * content pattern (scenario/pattern.ts) seen at a shift. The byte at source position x of a segment
 * is patternByte(pat, x - shift), or 0. Positions are absolute in the source's space (file offset,
 * or buffer page-space position), so the content of a page never needs a copy of its bytes.
 *
 * Comparing two contents counts changed bytes exactly, byte by byte as the probe does (a written byte
 * equal to the original is not a change), in O(segments + ranges) for the common cases: fill against
 * fill, fill against seq (a seq pattern takes each non-zero value once per 255 positions within a
 * 4096-byte pattern page), seq against seq with the same shift (their difference is constant).
 */
import { patternByte, type Pattern } from '../scenario/pattern'
import { MAX_RANGES, type ChangedRange } from '../results'

export interface Seg {
  readonly s: number
  readonly e: number
  /** null: zeros. */
  readonly pat: Pattern | null
  readonly shift: number
}

/** Immutable: an op that changes a page builds a new Content, so holding one is a snapshot. */
export type Content = readonly Seg[]

export function byteOf(seg: Seg, x: number): number {
  return seg.pat === null ? 0 : patternByte(seg.pat, x - seg.shift)
}

function sameSource(a: Seg, b: Seg): boolean {
  if (a.pat === null || b.pat === null) return a.pat === b.pat
  if ('fill' in a.pat) return 'fill' in b.pat && a.pat.fill === b.pat.fill
  return 'seq' in b.pat && a.pat.seq === b.pat.seq && a.shift === b.shift
}

/** Content of [s, e) from `pat` at `shift`, zeros from `dataEnd` on (end of file). */
export function fresh(s: number, e: number, pat: Pattern | null, shift: number, dataEnd = Infinity): Content {
  if (pat === null || dataEnd <= s) return [{ s, e, pat: null, shift: 0 }]
  if (dataEnd >= e) return [{ s, e, pat, shift }]
  return [
    { s, e: dataEnd, pat, shift },
    { s: dataEnd, e, pat: null, shift: 0 },
  ]
}

/** `c` with [s, e) replaced by `pat` at `shift` (clipped to c's range); adjacent equal segments merge. */
export function overwrite(c: Content, s: number, e: number, pat: Pattern | null, shift: number): Content {
  return overlay(c, [{ s, e, pat, shift: pat === null ? 0 : shift }])
}

/** Appends `seg` to `out`, merging it into the last segment when it continues it (same source). */
function pushMerged(out: Seg[], seg: Seg): void {
  if (seg.e <= seg.s) return
  const last = out[out.length - 1]
  if (last && last.e === seg.s && sameSource(last, seg)) out[out.length - 1] = { ...last, e: seg.e }
  else out.push(seg)
}

/** `c` with the segments of `patch` laid over it (patch segments sorted, non-overlapping). */
export function overlay(c: Content, patch: readonly Seg[]): Content {
  if (c.length === 0) return c
  const lo = c[0]!.s
  const hi = c[c.length - 1]!.e
  const out: Seg[] = []
  let i = 0
  let pos = lo
  for (const p of patch) {
    const ps = Math.max(p.s, lo)
    const pe = Math.min(p.e, hi)
    if (pe <= ps) continue
    // copy c's segments up to ps
    while (i < c.length && c[i]!.e <= ps) {
      const seg = c[i]!
      if (seg.e > pos) pushMerged(out, { ...seg, s: Math.max(seg.s, pos) })
      i++
    }
    if (i < c.length && c[i]!.s < ps) pushMerged(out, { ...c[i]!, s: Math.max(c[i]!.s, pos), e: ps })
    pushMerged(out, { ...p, s: ps, e: pe })
    pos = pe
    while (i < c.length && c[i]!.e <= pe) i++
  }
  for (; i < c.length; i++) {
    const seg = c[i]!
    if (seg.e > pos) pushMerged(out, { ...seg, s: Math.max(seg.s, pos) })
  }
  return out
}

/** The segments of `c` inside [s, e), shifted by `delta` (for moving bytes to another position). */
export function slice(c: Content, s: number, e: number, delta: number): Seg[] {
  const out: Seg[] = []
  for (const seg of c) {
    const a = Math.max(seg.s, s)
    const b = Math.min(seg.e, e)
    if (b > a) out.push({ s: a + delta, e: b + delta, pat: seg.pat, shift: seg.pat === null ? 0 : seg.shift + delta })
  }
  return out
}

export function contentEquals(a: Content, b: Content): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x.s !== y.s || x.e !== y.e || !sameSource(x, y)) return false
  }
  return true
}

/** Accumulates the changed ranges of one drain, offsets relative to the drain's first byte. */
export class DiffAcc {
  changedBytes = 0
  ranges: ChangedRange[] = []

  add(start: number, end: number, holds: ChangedRange['holds']): void {
    if (end <= start) return
    this.changedBytes += end - start
    const last = this.ranges[this.ranges.length - 1]
    if (last && last.end === start && last.holds === holds) last.end = end
    else if (this.ranges.length < MAX_RANGES) this.ranges.push({ start, end, holds })
  }
}

/**
 * Adds to `acc` the bytes of [s, e) where `now` differs from `snap` (the content at splice time),
 * classified against `cur` (what the source holds now): 'zero', 'current' or 'other'.
 * `base` is the drain offset of position s.
 */
export function diff(snap: Content, now: Content, cur: Content | null, s: number, e: number, base: number, acc: DiffAcc): void {
  if (snap === now || contentEquals(snap, now)) return
  // Walk the three segment lists together over [s, e).
  let i = 0
  let j = 0
  let k = 0
  let x = s
  while (x < e) {
    while (i < snap.length && snap[i]!.e <= x) i++
    while (j < now.length && now[j]!.e <= x) j++
    if (cur) while (k < cur.length && cur[k]!.e <= x) k++
    const a = snap[i]
    const b = now[j]
    const c = cur ? cur[k] : undefined
    if (!a || !b) break
    let end = Math.min(e, a.e, b.e)
    if (c && c.s <= x) end = Math.min(end, c.e)
    else if (c) end = Math.min(end, c.s)
    diffRun(a, b, c && c.s <= x ? c : undefined, x, end, base + (x - s), acc)
    x = end
  }
}

function holdsOf(b: Seg, c: Seg | undefined): ChangedRange['holds'] | null {
  if (b.pat === null) return 'zero'
  if (c && sameSource(b, c)) return 'current'
  return null // decide per byte
}

/** One run where snap, now and cur are each a single segment. */
function diffRun(a: Seg, b: Seg, c: Seg | undefined, s: number, e: number, base: number, acc: DiffAcc): void {
  if (sameSource(a, b)) return
  const fixedHolds = holdsOf(b, c)
  const a0 = a.pat === null || 'fill' in a.pat ? (a.pat === null ? 0 : a.pat.fill) : -1
  const b0 = b.pat === null || 'fill' in b.pat ? (b.pat === null ? 0 : b.pat.fill) : -1
  if (fixedHolds && a0 >= 0 && b0 >= 0) {
    // constant against constant, and they differ (sameSource is false)
    acc.add(base, base + (e - s), fixedHolds)
    return
  }
  if (fixedHolds && (a0 >= 0 || b0 >= 0) && (a0 === 0 || b0 === 0)) {
    // zeros against a pattern: patterns never produce 0, so every byte differs
    acc.add(base, base + (e - s), fixedHolds)
    return
  }
  if (fixedHolds && a.pat && b.pat && 'seq' in a.pat && 'seq' in b.pat && a.shift === b.shift) {
    // same shift: the difference of two seq patterns is (s1 - s2) * 97 mod 255, the same everywhere
    if (((a.pat.seq - b.pat.seq) * 97) % 255 !== 0) acc.add(base, base + (e - s), fixedHolds)
    return
  }
  if (fixedHolds && (a0 > 0) !== (b0 > 0)) {
    diffFillSeq(a0 > 0 ? b : a, a0 > 0 ? a0 : b0, s, e, base, fixedHolds, acc)
    return
  }
  diffBytes(a, b, c, s, e, base, acc)
}

/**
 * A non-zero constant `fill` against the seq pattern of `seg` over [s, e): they are equal exactly at
 * one position in 255 within each 4096-byte pattern page; every other byte differs. Steps over the
 * equal ones instead of comparing byte by byte.
 */
function diffFillSeq(seg: Seg, fill: number, s: number, e: number, base: number, holds: ChangedRange['holds'], acc: DiffAcc): void {
  let x = s
  while (x < e) {
    const rel = x - seg.shift
    const pageEnd = Math.min(e, seg.shift + (Math.floor(rel / 4096) + 1) * 4096)
    // first position y >= x in this pattern page with byteOf(seg, y) === fill
    let eq = -1
    for (let y = x; y < Math.min(pageEnd, x + 255); y++) {
      if (byteOf(seg, y) === fill) {
        eq = y
        break
      }
    }
    let from = x
    if (eq >= 0) {
      for (let y = eq; y < pageEnd; y += 255) {
        acc.add(base + (from - s), base + (y - s), holds)
        from = y + 1
      }
    }
    acc.add(base + (from - s), base + (pageEnd - s), holds)
    x = pageEnd
  }
}

/** The general case: byte by byte (different shifts, or a class that varies by byte). */
function diffBytes(a: Seg, b: Seg, c: Seg | undefined, s: number, e: number, base: number, acc: DiffAcc): void {
  let runStart = -1
  let runHolds: ChangedRange['holds'] = 'other'
  for (let x = s; x < e; x++) {
    const nb = byteOf(b, x)
    const changed = byteOf(a, x) !== nb
    const h: ChangedRange['holds'] = !changed ? 'other' : nb === 0 ? 'zero' : c && byteOf(c, x) === nb ? 'current' : 'other'
    if (changed && runStart >= 0 && h === runHolds) continue
    if (runStart >= 0) acc.add(base + (runStart - s), base + (x - s), runHolds)
    runStart = changed ? x : -1
    runHolds = h
  }
  if (runStart >= 0) acc.add(base + (runStart - s), base + (e - s), runHolds)
}
