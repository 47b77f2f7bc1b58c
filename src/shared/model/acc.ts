/**
 * What one op of a scenario adds up to: the per-op accumulator of the simulator. Every op handler
 * gets the accumulator of the op it runs as an argument and writes its counts, outcome and notes
 * there; a repeat body op keeps one accumulator over all its iterations.
 *
 * Everything except the outcome and note sets is an additive counter (see snapshot() and
 * addDelta()), which is what lets a repeat that has reached a steady state add the rest of its
 * iterations in one step (repeat.ts).
 */
import type { OpKind } from '../scenario/schema'
import type { CountRange, OpOutcome, PageCounts, SpliceStats } from '../results'
import type { Tracepoint } from '../vocabulary'

/** At most this many distinct outcomes are kept per op (a repeat may produce many). */
const MAX_OUTCOMES = 16
/** At most this many distinct notes are kept per op. */
const MAX_NOTES = 8

export class OpAcc {
  iterations = 0
  readonly outcomes = new Map<string, OpOutcome>()
  readonly pages: PageCounts = { shared: 0, stolen: 0, copied: 0 }
  bytesCopied = 0
  reloads = 0
  faults = 0
  changedBytes = 0
  readonly stats: SpliceStats = { filemapCopied: 0, filemapMoved: 0, directCopied: 0, vmspliceCopied: 0, vmspliceStole: 0 }
  readonly tp = new Map<Tracepoint, CountRange>()
  /** Page-cache additions and deletions (filemap tracepoints), and readahead's possible extra additions. */
  pcAdd = 0
  pcAddExtra = 0
  pcDel = 0
  /**
   * Pages this op stole that the kernel may have copied instead, for a reason whose timing the model
   * cannot know: a race (the other task holds the folio lock or a reference, or has truncated the
   * page since the lookup: docs/steal-rules.md F9, F10, F12), btrfs's read of the page still in
   * flight (F11, policy.ts readStillInFlight).
   */
  stealsMayCopy = 0
  /** Page-granular steps simulated (the benchmark's unit of work). */
  pageEvents = 0
  readonly notes = new Set<string>()
  private lastNote = ''
  private lastOutcome: OpOutcome | null = null

  constructor(
    readonly path: string,
    readonly op: OpKind,
  ) {}

  tpAdd(name: Tracepoint, min: number, max = min): void {
    const r = this.tp.get(name)
    if (r) {
      r.min += min
      r.max += max
    } else this.tp.set(name, { min, max })
  }

  note(n: string): void {
    // called per page in hot loops with the same constant string: skip the Set when it repeats
    if (n === this.lastNote) return
    this.lastNote = n
    if (this.notes.size < MAX_NOTES) this.notes.add(n)
  }

  outcome(o: OpOutcome): void {
    if (o.drain) this.changedBytes += o.drain.changedBytes
    // a repeat body op mostly repeats its last outcome: check that first, without building a key
    if (this.lastOutcome && sameOutcome(this.lastOutcome, o)) return
    this.lastOutcome = o
    let key = `${o.ret}|${o.errno}`
    if (o.drain) key += `|${o.drain.read}|${o.drain.changedBytes}${o.drain.changedBytes ? JSON.stringify(o.drain.changed) : ''}`
    if (this.outcomes.size < MAX_OUTCOMES && !this.outcomes.has(key)) this.outcomes.set(key, o)
  }

  /** The additive counters now (tracepoint ranges copied), for delta() and addDelta(). */
  snapshot(): AccSnapshot {
    const p = this.pages
    const s = this.stats
    const nums = [
      this.iterations, p.shared, p.stolen, p.copied, this.bytesCopied, this.reloads, this.faults, this.changedBytes,
      s.filemapCopied, s.filemapMoved, s.directCopied, s.vmspliceCopied, s.vmspliceStole, this.pcAdd, this.pcAddExtra, this.pcDel, this.pageEvents, this.stealsMayCopy,
    ]
    const tp = new Map<Tracepoint, CountRange>()
    for (const [name, r] of this.tp) tp.set(name, { min: r.min, max: r.max })
    return { nums, tp }
  }

  /** Adds `times` × (later − earlier): what the iterations between two snapshots added, repeated. */
  addDelta(later: AccSnapshot, earlier: AccSnapshot, times: number): void {
    const p = this.pages
    const s = this.stats
    let k = 0
    const next = (): number => (later.nums[k]! - earlier.nums[k++]!) * times
    this.iterations += next()
    p.shared += next()
    p.stolen += next()
    p.copied += next()
    this.bytesCopied += next()
    this.reloads += next()
    this.faults += next()
    this.changedBytes += next()
    s.filemapCopied += next()
    s.filemapMoved += next()
    s.directCopied += next()
    s.vmspliceCopied += next()
    s.vmspliceStole += next()
    this.pcAdd += next()
    this.pcAddExtra += next()
    this.pcDel += next()
    this.pageEvents += next()
    this.stealsMayCopy += next()
    for (const [name, r] of later.tp) {
      const e = earlier.tp.get(name) ?? { min: 0, max: 0 }
      this.tpAdd(name, (r.min - e.min) * times, (r.max - e.max) * times)
    }
  }
}

/** The additive counters of an accumulator at one moment. */
export interface AccSnapshot {
  nums: number[]
  tp: Map<Tracepoint, CountRange>
}

function sameOutcome(a: OpOutcome, b: OpOutcome): boolean {
  if (a.ret !== b.ret || a.errno !== b.errno) return false
  if (!a.drain || !b.drain) return a.drain === b.drain
  if (a.drain.read !== b.drain.read || a.drain.changedBytes !== b.drain.changedBytes) return false
  const x = a.drain.changed
  const y = b.drain.changed
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i]!.start !== y[i]!.start || x[i]!.end !== y[i]!.end || x[i]!.holds !== y[i]!.holds) return false
  return true
}
