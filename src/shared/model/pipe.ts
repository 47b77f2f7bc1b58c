/**
 * The pipe ring: what splice, vmsplice and tee put into it (by the policy's rules), what a drain
 * reads out of it (and which bytes changed since they went in), and splice from it into a file.
 */
import type { ChangedRange, OpOutcome } from '../results'
import { DiffAcc, diff, slice } from './content'
import type { OpAcc } from './acc'
import { load, logicalOf, writeFile } from './pagecache'
import { touchUserPage } from './memory'
import type { PolicyRules } from './policy'
import { Page, usedSlots, type BufferState, type FileState, type PipeState, type Slot, type World } from './state'

/**
 * Slots drained from the front of a ring are dropped in bulk once there are more than this many and
 * they are more than half of the array (keeps a ring that is never empty from growing forever).
 */
const COMPACT_AFTER = 1024

/** Data put into a pipe whose read end is closed (wait_for_space in fs/splice.c; the probe ignores SIGPIPE). */
const epipe = (): OpOutcome => ({ ret: -1, errno: 'EPIPE' })

function pushSlot(acc: OpAcc, p: PipeState, slot: Slot): void {
  if (slot.page) slot.page.pipeRefs++
  p.slots.push(slot)
  acc.pageEvents++
}

/** The slot at the head has been read to its end: it leaves the ring. */
function popSlot(p: PipeState, slot: Slot): void {
  if (slot.page) slot.page.pipeRefs--
  p.head++
}

/**
 * The page a tmpfs hole gives the pipe: zeros no file page holds, under every policy. No page-cache
 * page is involved, so no steal rule applies: 6.1's shmem_file_read_iter() fills the pipe with
 * iov_iter_zero() (anonymous pages), 6.18's shmem_file_splice_read() with ZERO_PAGE, and the fix's
 * steal-or-copy decision (copy_page_to_iter_pipe → splice_steal_file_page) is never reached:
 * /proc/fs/splice counts nothing (docs/steal-rules.md, "tmpfs holes"; seen on fix-6.1 under
 * steal-or-copy and copy: tmpfs-hole-zero-page, large-folio-split-frees-page). No policy counts it
 * as a page shared, stolen or copied.
 */
function zeroPageOfHole(acc: OpAcc, zeros: Slot['snap']): Page {
  acc.note('a tmpfs hole: the pipe gets zeros no file page holds (no page-cache page shared, stolen or copied)')
  return new Page(zeros)
}

/**
 * 6.1's tmpfs (KernelRules.tmpfsHoleZerosPack): zeros of a hole at x go into `open`, the buffer this
 * splice filled last, while it has room and its data ends at x. shmem_file_read_iter fills a hole
 * with iov_iter_zero, whose append_pipe (lib/iov_iter.c) adds to the last buffer when
 * i->last_offset is inside the page: a buffer append_pipe made itself, or one the fix's
 * own_page_to_iter_pipe made for a copy. A page-cache page's buffer (last_offset negative) and a
 * full one take nothing.
 */
function packsInto(w: World, f: FileState, open: Slot | null, x: number): open is Slot {
  const i = Math.floor(x / w.pageSize)
  return open !== null && open.e === x && open.e - open.s < w.pageSize && w.fs === 'tmpfs' && !f.cache[i] && !f.onDisk[i]
}

/** Adds zeros up to `e` to the buffer `open` (its page is the pipe's own: nothing else sees it change). */
function packTail(acc: OpAcc, open: Slot, e: number): number {
  const zeros = [...slice(open.snap, open.s, open.e, 0), { s: open.e, e, pat: null, shift: 0 }]
  if (open.page) open.page.content = zeros
  open.snap = zeros
  open.e = e
  acc.note('a tmpfs hole on 6.1: its zeros go into the pipe buffer this splice filled last, while it has room (append_pipe)')
  return e
}

/** splice file → pipe of [off, off + len): one slot per page, until the end of file or a full ring. */
export function spliceFileToPipe(w: World, policy: PolicyRules, acc: OpAcc, f: FileState, off: number, len: number, p: PipeState): OpOutcome {
  const P = w.pageSize
  if (p.readClosed) return epipe()
  if (usedSlots(p) >= p.capacity) return { ret: -1, errno: 'EAGAIN' }
  const end = Math.min(off + len, f.size)
  if (off >= end) return { ret: 0, errno: null }
  if (f.btrfsAfterSync) {
    f.btrfsAfterSync = false
    acc.pcAddExtra += Math.min(Math.ceil(end / P) - Math.floor(off / P), p.capacity - usedSlots(p))
  }
  const stolenBefore = acc.pages.stolen
  let x = off
  let loaded = 0
  let firstLoaded = -1
  // 6.1's tmpfs: the buffer of this splice zeros of a hole may still be added to (packTail)
  let open: Slot | null = null
  while (x < end && (usedSlots(p) < p.capacity || packsInto(w, f, open, x))) {
    const i = Math.floor(x / P)
    const e = Math.min(end, (i + 1) * P)
    if (open && packsInto(w, f, open, x)) {
      x = packTail(acc, open, Math.min(e, x + P - (open.e - open.s)))
      continue
    }
    let page = f.cache[i]
    const writtenBack = f.writebackMayRun?.has(i) === true
    if (page && f.maybeGone?.has(i)) {
      // fadvise may have evicted it after all (writeback won the race): then this splice reads it
      // back, with readahead for the file's other such pages (seen on btrfs: 0, 4 or 8 additions)
      acc.pcAddExtra += f.maybeGone.size
      f.maybeGone.delete(i)
    }
    if (!page && w.fs === 'tmpfs' && !f.onDisk[i]) {
      // a hole in a tmpfs file: shmem_file_splice_read puts ZERO_PAGE into the pipe and caches
      // nothing, so a later write allocates a page the pipe never sees (seen on 6.18 after a punch)
      const slot: Slot = { page: zeroPageOfHole(acc, logicalOf(f, i, P)), s: x, e, snap: logicalOf(f, i, P), file: f, buf: null, idx: i }
      pushSlot(acc, p, slot)
      open = w.rules.tmpfsHoleZerosPack ? slot : null
      x = e
      continue
    }
    const justRead = !page
    if (!page) {
      page = load(w, acc, f, i, true)
      if (loaded++ === 0) firstLoaded = i
    }
    const snap = page.content
    const held = policy.fromPageCache(w, acc, f, i, x, e, page, justRead, writtenBack)
    const slot: Slot = { page: held, s: x, e, snap, file: f, buf: null, idx: i }
    pushSlot(acc, p, slot)
    // the fix's own_page_to_iter_pipe leaves a copy's buffer open to a hole's zeros that follow
    open = w.rules.tmpfsHoleZerosPack && held !== page ? slot : null
    x = e
  }
  // Readahead may bring in more of an uncached file than was spliced (docs/stock-rules.md section 8):
  // at most the file's pages that were uncached before and that this splice did not load (the
  // pages it stole are uncached now but were not candidates). Counted only when this splice
  // loaded something, so the common all-cached splice pays nothing.
  if (w.fs !== 'tmpfs' && loaded > 0) {
    // a dirty page fadvise may have evicted (maybeGone) is a candidate too: seen on 6.18 (ext4), a
    // splice of an evicted page after fadvise over a file with a dirty page added both pages
    let uncachedNow = 0
    for (let i = 0; i * P < f.size && i < f.cache.length; i++) if (f.cache[i] === null || f.maybeGone?.has(i)) uncachedNow++
    acc.pcAddExtra += Math.max(0, uncachedNow - (acc.pages.stolen - stolenBefore))
    // readahead reads forward from the pages it was asked for: the uncached pages after them may be cached now
    for (let i = Math.max(firstLoaded, Math.floor((x - 1) / P)) + 1; i * P < f.size && i < f.cache.length; i++) if (f.cache[i] === null) (f.maybeCached ??= new Set()).add(i)
  }
  return { ret: x - off, errno: null }
}

/** vmsplice of buffer bytes [off, off + len): one slot per page, until a full ring. */
export function vmsplice(w: World, policy: PolicyRules, acc: OpAcc, b: BufferState, off: number, len: number, p: PipeState, gift: boolean): OpOutcome {
  const P = w.pageSize
  if (p.readClosed) return epipe()
  if (usedSlots(p) >= p.capacity) return { ret: -1, errno: 'EAGAIN' }
  const s0 = b.base + off
  const end = s0 + len
  let x = s0
  while (x < end && usedSlots(p) < p.capacity) {
    const k = Math.floor(x / P)
    const e = Math.min(end, (k + 1) * P)
    const page = touchUserPage(acc, b, k, false)
    const snap = page.content
    const held = policy.fromProcess(w, acc, b, k, x, e, page, gift)
    pushSlot(acc, p, { page: held, s: x, e, snap, file: null, buf: b, idx: k })
    x = e
  }
  return { ret: x - s0, errno: null }
}

/** tee: the first `len` bytes of `from` also go into `to`, without leaving `from`. */
export function tee(policy: PolicyRules, acc: OpAcc, from: PipeState, to: PipeState, len: number): OpOutcome {
  // do_tee (fs/splice.c): ipipe_prep (an empty input with writers: EAGAIN; without: go on), then
  // opipe_prep (a full output: EPIPE without readers, else EAGAIN), then link_pipe, whose first
  // check is the output's readers and whose second is an empty input (0). So an empty input whose
  // writers are gone still gives EAGAIN when the output is full.
  if (usedSlots(from) === 0 && !from.writeClosed) return { ret: -1, errno: 'EAGAIN' }
  if (usedSlots(to) >= to.capacity) return to.readClosed ? epipe() : { ret: -1, errno: 'EAGAIN' }
  if (to.readClosed) return epipe()
  if (usedSlots(from) === 0) return { ret: 0, errno: null }
  let n = 0
  for (let j = from.head; j < from.slots.length && n < len && usedSlots(to) < to.capacity; j++) {
    const src = from.slots[j]!
    const take = Math.min(src.e - src.s, len - n)
    const { page, snap } = policy.tee(acc, src, take)
    pushSlot(acc, to, { ...src, page, snap, e: src.s + take })
    n += take
  }
  return { ret: n, errno: null }
}

/** read() of up to `len` bytes from the pipe, with the bytes that changed since they went in. */
export function drain(w: World, acc: OpAcc, p: PipeState, len: number | 'all'): OpOutcome {
  // slots are popped as soon as they are empty, so an empty ring is head === length
  // an empty pipe with no writer left reads as end of file (pipe_read)
  if (usedSlots(p) === 0) return { ret: p.writeClosed ? 0 : -1, errno: p.writeClosed ? null : 'EAGAIN', drain: { read: 0, changed: [], changedBytes: 0 } }
  const want = len === 'all' ? Infinity : len
  const changes = new DiffAcc()
  let done = 0
  while (done < want && p.head < p.slots.length) {
    const slot = p.slots[p.head]!
    const n = Math.min(want - done, slot.e - slot.s)
    if (slot.page !== null && slot.snap !== slot.page.content) {
      const cur = slot.file ? logicalOf(slot.file, slot.idx, w.pageSize) : slot.buf ? slot.buf.logical[slot.idx]! : null
      diff(slot.snap, slot.page.content, cur, slot.s, slot.s + n, done, changes)
    }
    done += n
    slot.s += n
    acc.pageEvents++
    if (slot.s >= slot.e) popSlot(p, slot)
  }
  if (p.head === p.slots.length) {
    p.slots.length = 0
    p.head = 0
  } else if (p.head > COMPACT_AFTER && p.head * 2 > p.slots.length) {
    p.slots = p.slots.slice(p.head)
    p.head = 0
  }
  const changed: ChangedRange[] = changes.ranges
  return { ret: done, errno: null, drain: { read: done, changed, changedBytes: changes.changedBytes } }
}

/** splice pipe → file: iter_file_splice_write() copies into the file's own page cache. */
export function spliceToFile(w: World, acc: OpAcc, p: PipeState, f: FileState, off: number, len: number): OpOutcome {
  // splice_from_pipe_next: an empty pipe with no writer left ends the splice (0) before NONBLOCK's EAGAIN
  if (usedSlots(p) === 0) return p.writeClosed ? { ret: 0, errno: null } : { ret: -1, errno: 'EAGAIN' }
  let done = 0
  while (done < len && usedSlots(p) > 0) {
    const slot = p.slots[p.head]!
    const n = Math.min(len - done, slot.e - slot.s)
    const shift = off + done - slot.s
    // The copy runs forward (generic_perform_write → copy_folio_from_iter_atomic, a memcpy that is
    // rep movsb here). When the slot holds the very page-cache page it writes into, at a distance
    // 0 < shift < n ahead of where it reads, it reads bytes it has already written: in steps of at
    // most `shift` bytes each step reads what the step before wrote, and the first `shift` source
    // bytes repeat. Seen on 6.18: a 239-byte slot written back 51 bytes further on (btrfs, tmpfs,
    // ext4; explore seed 29) and an 80-byte distance (explore seed 41).
    const overlaps = slot.page !== null && slot.file === f && f.cache[slot.idx] === slot.page && shift > 0 && shift < n
    for (let c = 0; c < n; ) {
      const step = overlaps ? Math.min(shift, n - c) : n - c
      const patch = slice(slot.page ? slot.page.content : slot.snap, slot.s + c, slot.s + c + step, shift)
      writeFile(w, acc, f, off + done + c, off + done + c + step, patch, false)
      c += step
    }
    acc.bytesCopied += n
    done += n
    slot.s += n
    if (slot.s >= slot.e) popSlot(p, slot)
  }
  return { ret: done, errno: null }
}
