/**
 * A repeat body, run `times` times, at a cost that does not grow with `times` once the body has
 * reached a steady state.
 *
 * The simulation is deterministic and reads nothing but the world (the accumulators are written,
 * never read back), so if the world after iteration t is the same as after iteration t − p (the
 * same pages, contents and slots, up to which objects hold them), iterations t+1… repeat
 * iterations t−p+1…t exactly: the same outcomes and notes (already recorded) and the same counts.
 * Then the rest of the repeat is a closed form: the counts of that cycle, times the whole cycles
 * left, and only the last partial cycle is run. "The same world" is decided exactly, by comparing
 * a canonical serialization of it (fingerprint()), never by a hash.
 *
 * Looking costs one fingerprint per iteration over a window of MAX_PERIOD + 1 iterations; windows
 * start after 1, 2, 4, … iterations, so looking costs about as much as running.
 */
import type { LeafOp } from '../scenario/schema'
import type { Content } from './content'
import type { AccSnapshot, OpAcc } from './acc'
import { runOp, type Sim } from './ops'
import type { BufferState, FileState, Page, World } from './state'

/** Longest cycle looked for, in iterations (a ring that fills up and empties again cycles with its slot count). */
const MAX_PERIOD = 32
/**
 * Worlds whose fingerprint would exceed this many numbers (about 10 000 pages) are run iteration by
 * iteration: keeping MAX_PERIOD + 1 such fingerprints would cost tens of MB.
 */
const MAX_FINGERPRINT = 100_000

/** Runs `body` `times` times into `accs` (one accumulator per body op). */
export function runRepeat(sim: Sim, body: readonly LeafOp[], times: number, accs: readonly OpAcc[]): void {
  let t = 0
  let nextLook = 1
  let looking = true
  while (t < times) {
    if (looking && t >= nextLook) {
      const r = lookForCycle(sim, body, times - t, accs)
      t += r.iterations
      if (r.done) looking = false
      else nextLook = 2 * t
      continue
    }
    runBody(sim, body, accs)
    t++
  }
}

/** Runs the body `times` times without looking for a cycle (the reference the closed form must equal). */
export function runRepeatIterating(sim: Sim, body: readonly LeafOp[], times: number, accs: readonly OpAcc[]): void {
  for (let t = 0; t < times; t++) runBody(sim, body, accs)
}

function runBody(sim: Sim, body: readonly LeafOp[], accs: readonly OpAcc[]): void {
  for (let j = 0; j < body.length; j++) runOp(sim, accs[j]!, body[j]!)
}

/**
 * Runs up to MAX_PERIOD + 1 iterations (at most `left`), fingerprinting the world after each. When
 * a world repeats, adds the whole cycles that fit in what is left in one step. Returns the
 * iterations accounted for, and whether looking again is pointless (a cycle was used, or the world
 * is too big to fingerprint).
 */
function lookForCycle(sim: Sim, body: readonly LeafOp[], left: number, accs: readonly OpAcc[]): { iterations: number; done: boolean } {
  const first = fingerprint(sim.world)
  if (first === null) return { iterations: 0, done: true }
  const seen = new Map<string, number>([[first, 0]])
  const snaps: AccSnapshot[][] = [accs.map((a) => a.snapshot())]
  for (let step = 1; step <= Math.min(MAX_PERIOD + 1, left); step++) {
    runBody(sim, body, accs)
    const fp = fingerprint(sim.world)
    if (fp === null) return { iterations: step, done: true }
    snaps.push(accs.map((a) => a.snapshot()))
    const prev = seen.get(fp)
    if (prev !== undefined) {
      const period = step - prev
      const cycles = Math.floor((left - step) / period)
      if (cycles > 0) accs.forEach((a, j) => a.addDelta(snaps[step]![j]!, snaps[prev]![j]!, cycles))
      return { iterations: step + cycles * period, done: true }
    }
    seen.set(fp, step)
  }
  return { iterations: Math.min(MAX_PERIOD + 1, left), done: false }
}

/**
 * The world as a string that two worlds share exactly when one is the other with its page and
 * content objects renamed: every field of every file, buffer and live pipe slot, with each Page and
 * Content written out at its first appearance and referred to by number after that (the rules
 * compare them by identity: a page still holding its file's current content, a slot whose page
 * changed since the splice). Null when it would exceed MAX_FINGERPRINT numbers.
 */
export function fingerprint(w: World): string | null {
  const out: number[] = []
  const pages = new Map<Page, number>()
  const contents = new Map<Content, number>()
  const content = (c: Content): void => {
    const id = contents.get(c)
    if (id !== undefined) {
      out.push(-1, id)
      return
    }
    contents.set(c, contents.size)
    out.push(c.length)
    for (const seg of c) {
      const pat = seg.pat
      out.push(seg.s, seg.e, pat === null ? 0 : 'fill' in pat ? 1 : 2, pat === null ? 0 : 'fill' in pat ? pat.fill : pat.seq, seg.shift)
    }
  }
  const page = (p: Page | null): void => {
    const id = p === null ? undefined : pages.get(p)
    if (p === null) out.push(-2)
    else if (id !== undefined) out.push(-1, id)
    else {
      pages.set(p, pages.size)
      out.push(p.pipeRefs)
      content(p.content)
    }
  }
  const fileIds = new Map<FileState, number>()
  for (const f of w.files.values()) {
    fileIds.set(f, fileIds.size)
    if (!fileFields(f, out, content, page)) return null
  }
  const bufIds = new Map<BufferState, number>()
  for (const b of w.buffers.values()) {
    bufIds.set(b, bufIds.size)
    out.push(b.unmapped ? 1 : 0, b.pages.length)
    for (let k = 0; k < b.pages.length; k++) {
      content(b.logical[k]!)
      page(b.pages[k]!)
      out.push(b.cow[k] ? 1 : 0, b.zapped[k] ? 1 : 0, b.zero[k] ? 1 : 0)
    }
    if (out.length > MAX_FINGERPRINT) return null
  }
  for (const p of w.pipes.values()) {
    out.push(p.readClosed ? 1 : 0, p.writeClosed ? 1 : 0, p.slots.length - p.head)
    for (let j = p.head; j < p.slots.length; j++) {
      const slot = p.slots[j]!
      page(slot.page)
      content(slot.snap)
      out.push(slot.s, slot.e, slot.idx, slot.file ? fileIds.get(slot.file)! : -1, slot.buf ? bufIds.get(slot.buf)! : -1)
    }
    if (out.length > MAX_FINGERPRINT) return null
  }
  return out.join(',')
}

function fileFields(f: FileState, out: number[], content: (c: Content) => void, page: (p: Page | null) => void): boolean {
  const gone = f.maybeGone ? [...f.maybeGone].sort((a, b) => a - b) : []
  const ahead = f.maybeCached ? [...f.maybeCached].sort((a, b) => a - b) : []
  const wb = f.writebackMayRun ? [...f.writebackMayRun].sort((a, b) => a - b) : []
  out.push(f.size, f.mapped ? 1 : 0, f.mapLen, f.btrfsAfterSync ? 1 : 0, gone.length, ...gone, ahead.length, ...ahead, wb.length, ...wb, f.logical.length, f.cache.length)
  for (let i = 0; i < f.logical.length; i++) {
    content(f.logical[i]!)
    page(f.cache[i] ?? null)
    out.push(f.folioStart[i]!, f.folioPages[i]!, f.dirty[i] ? 1 : 0, f.onDisk[i] ? 1 : 0, f.mappedPage[i] ? 1 : 0)
    if (out.length > MAX_FINGERPRINT) return false
  }
  return true
}
