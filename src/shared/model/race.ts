/**
 * A race (schema.ts: `{ op: race, ops: [splice, change] }`): a splice from a file into a pipe while
 * a second task punches, zeroes or writes a range of the same file. Nothing tells the model in
 * which order the kernel served the two on a given page: filemap_splice_read() (mm/filemap.c) takes
 * the file folio by folio through filemap_get_pages(), and the change goes page by page too
 * (truncate_pagecache_range() in mm/truncate.c for a punch or zero range, generic_perform_write()
 * for a write). So every page both touch is read either before the change reached it or after, and
 * the two pages beside it may have gone either way (docs/stock-rules.md section 10: a trial drains
 * intact and zeroed pages mixed, each page whole). The model runs one world per choice, page by page
 * (sim.ts allows the union of their outcomes); validation bounds the pages (RACE_MAX_PAGES), since
 * n pages make 2^n worlds.
 *
 * The reference the drain compares with is the file as it was when the race began (the probe
 * snapshots its shadow before it releases both ops): a page read after a punch reached it drains as
 * zeros, and that is a change.
 */
import type { LeafOp, RaceOp } from '../scenario/schema'
import { resolveSize } from '../scenario/size'
import type { OpOutcome } from '../results'
import type { OpAcc } from './acc'
import { fresh, type Content } from './content'
import { opOutcome, runOp, type Sim } from './ops'
import { logicalOf } from './pagecache'
import { Page } from './state'
import { maybeCopied } from './policy'

/** Where a world stands in its choices: bit k of `mask` says whether the k-th raced page was changed before the splice read it. */
export interface RaceChoices {
  mask: number
  next: number
}

const TP_ADD = 'filemap:mm_filemap_add_to_page_cache'
const TP_DEL = 'filemap:mm_filemap_delete_from_page_cache'

/** Runs a race in one world; `accs` are the two ops' accumulators (ops[0] the splice, ops[1] the change). */
export function runRace(sim: Sim, op: RaceOp, accs: readonly [OpAcc, OpAcc], choices: RaceChoices): void {
  const [splice, change] = op.ops
  if (splice.op !== 'splice' || !('file' in splice.from) || !('pipe' in splice.to) || !('file' in change) || !('offset' in change) || !('len' in change)) {
    // validation refuses these; run them one after the other rather than guess
    runOp(sim, accs[0], splice)
    runOp(sim, accs[1], change)
    return
  }
  const w = sim.world
  const P = w.pageSize
  const f = w.files.get(splice.from.file)!
  const pipe = w.pipes.get(splice.to.pipe)!
  const s = resolveSize(splice.from.offset, P)
  const e = s + resolveSize(splice.len, P)
  const ms = resolveSize(change.offset, P)
  const me = ms + resolveSize(change.len, P)

  // The change in pieces at page boundaries; a piece on a page the splice reads goes first or last by the world's choice.
  const first: LeafOp[] = []
  const last: LeafOp[] = []
  const before = new Map<number, Content>()
  for (let x = ms; x < me; ) {
    const k = Math.floor(x / P)
    const y = Math.min(me, (k + 1) * P)
    const piece = { ...change, offset: x, len: y - x } as LeafOp
    const raced = y > s && x < e
    // past the end of the file the probe's snapshot holds zeros (the shadow has no bytes there)
    if (raced) before.set(k, k * P < f.size ? logicalOf(f, k, P) : fresh(k * P, (k + 1) * P, null, 0))
    const early = !raced || ((choices.mask >> choices.next++) & 1) === 1
    ;(early ? first : last).push(piece)
    x = y
  }

  accs[0].iterations++
  accs[1].iterations++
  const pieces: OpOutcome[] = first.map((p) => opOutcome(sim, accs[1], p))
  const slotsBefore = pipe.slots.length
  accs[0].outcome(opOutcome(sim, accs[0], splice))
  // What the splice put in is held against the file before the race, whatever it read.
  for (let j = slotsBefore; j < pipe.slots.length; j++) {
    const slot = pipe.slots[j]!
    // A raced page the splice stole may have been copied instead: the other task can hold its lock
    // or a reference, or have truncated it since the splice looked it up (docs/steal-rules.md F9,
    // F10, F12; seen on fix-6.1: whitlock-punch-race copied with reasons locked, truncated,
    // not_pagecache and refs). Either way the pipe owns what was read.
    // (A stolen page has left the page cache for the disk; a shared one is still cached, a copy has
    // no page, and a tmpfs hole's zeros were never on disk.)
    if (slot.file === f && before.has(slot.idx) && slot.page && !f.cache[slot.idx] && f.onDisk[slot.idx]) maybeCopied(f, slot.idx, accs[0])
    const was = slot.file === f ? before.get(slot.idx) : undefined
    if (!was || was === slot.snap) continue
    // A copy the pipe owns keeps what it read: it becomes a page of the pipe's own, so the drain compares it with `was`.
    if (!slot.page) {
      slot.page = new Page(slot.snap)
      slot.page.pipeRefs++
    }
    slot.snap = was
  }
  pieces.push(...last.map((p) => opOutcome(sim, accs[1], p)))
  accs[1].outcome(wholeOutcome(change, pieces, me - ms))
  forkedChild(sim, accs[1])
  accs[0].note('raced: each page the other op changes is read either before or after the change; the other task\'s page-cache events count with this op\'s')
  accs[1].note('raced with the splice, in a second process')
}

/**
 * The second op ran in a child the probe forked: fork (copy_page_range, mm/memory.c) write-protects
 * every private anonymous page of the probe, and the child's exit does not undo it, so the probe's
 * next store into a private buffer page faults, and do_wp_page copies a page a pipe still holds
 * (found by explore: a buffer vmspliced after a race and then stored into drained unchanged).
 */
function forkedChild(sim: Sim, acc: OpAcc): void {
  for (const b of sim.world.buffers.values()) if (b.kind === 'private' && !b.unmapped) b.cow.fill(true)
  if (sim.world.buffers.size) acc.note("the race's child was forked: private buffers are copy-on-write from here on")
}

/** The outcome of the whole change from its pieces': the first error, else a write's length or 0. */
function wholeOutcome(change: LeafOp, pieces: OpOutcome[], len: number): OpOutcome {
  const failed = pieces.find((o) => o.ret < 0)
  if (failed) return failed
  return { ret: change.op === 'pwrite' ? len : 0, errno: null }
}

/**
 * The page-cache events of a race's ops are not predicted: the probe counts the second task's events
 * (a punch deletes pages, a zeroed edge reads one in) with the splice's, since its counters are
 * inherited by the process it forks for the race, and readahead into pages a punch is removing has no
 * rule here.
 */
export function unpredictedRaceTracepoints(): readonly string[] {
  return [TP_ADD, TP_DEL]
}
