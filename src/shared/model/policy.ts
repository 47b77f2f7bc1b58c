/**
 * The three policies as objects: what a splice from the page cache, a vmsplice and a tee put into
 * the pipe. `stock` is today's kernels (fs/splice.c filemap_splice_read and iter_to_pipe take page
 * references; tee's link_pipe takes one more), `copy` is read()+write() semantics, and
 * `steal-or-copy` is the RFC (DESIGN.md "What the RFC itself defined", seed cover letter): steal a
 * page nobody else holds, else copy it.
 *
 * The steal conditions are named lists, one function per condition, each returning null when the
 * page passes it or the reason it must be copied (the reason becomes a note people read). A page is
 * stolen only when every condition of its list passes; the first failing one is the reason given.
 */
import type { Filesystem } from '../scenario/schema'
import type { Policy } from '../results'
import type { Content } from './content'
import type { OpAcc } from './acc'
import { dropUserPage } from './memory'
import type { BufferState, FileState, Page, Slot, World } from './state'

/** A page-cache page a splice would put into the pipe: bytes [s, e) of page i of file f. */
export interface FilePageCandidate {
  fs: Filesystem
  f: FileState
  i: number
  s: number
  e: number
  pageSize: number
  /** This splice read the page from disk (it was not cached). */
  justRead: boolean
  /** fadvise DONTNEED started the writeback of this page, which may still run (FileState.writebackMayRun). */
  writtenBack: boolean
}

/** A process page a vmsplice would put into the pipe: bytes [s, e) (buffer page-space) of page k. */
export interface UserPageCandidate {
  b: BufferState
  k: number
  s: number
  e: number
  pageSize: number
  gift: boolean
  page: Page
}

/** One condition of a steal: null when the page passes, else why the page is copied. */
export type StealCondition<C> = (c: C) => string | null

/**
 * shmem has no backing store: a page removed from it would lose the file's data (the RFC touches
 * mm/shmem.c so tmpfs splice copies). Modelled as: tmpfs always copies.
 */
export function hasBackingStore(c: FilePageCandidate): string | null {
  return c.fs === 'tmpfs' ? 'tmpfs pages have no backing store to reload from' : null
}

/** RFC patch 1: a page that was truncated is not stolen. */
export function insideFile(c: FilePageCandidate): string | null {
  return c.i * c.pageSize >= c.f.size ? 'truncated (past the end of file)' : null
}

/**
 * A dirty page cannot leave the page cache without losing data the file has not written yet. A page
 * fadvise DONTNEED found dirty is not dirty any more: generic_fadvise (mm/fadvise.c) started its
 * writeback (__filemap_fdatawrite_range, WB_SYNC_NONE), which clears the dirty flag as it sets the
 * writeback one; the page was then evicted (and a splice reads it back clean) or stays clean, under
 * writeback until its I/O completes (writebackMayRun).
 */
export function clean(c: FilePageCandidate): string | null {
  return c.f.dirty[c.i] && !c.writtenBack ? 'dirty page (its data is not on disk yet)' : null
}

/** RFC patch 1: remove_mapping() fails for a page a process maps (page_mapped). */
export function notMapped(c: FilePageCandidate): string | null {
  return c.f.mappedPage[c.i] || c.f.mapped ? 'mapped into a process (page_mapped)' : null
}

/** RFC patch 1: remove_mapping() fails when another reference (a pipe buffer) holds the page. */
export function noOtherFileReference(c: FilePageCandidate): string | null {
  const page = c.f.cache[c.i]
  return page && page.pipeRefs > 0 ? 'another reference holds it (already in a pipe)' : null
}

/** The pipe buffer must cover the whole folio to own it: pages of a large folio are copied. */
export function order0Folio(c: FilePageCandidate): string | null {
  return c.f.folioPages[c.i]! > 1 ? 'part of a large folio (the pipe buffer does not cover the whole folio)' : null
}

/** Only a splice of the whole page can take the page. */
export function wholeFilePage(c: FilePageCandidate): string | null {
  return c.s !== c.i * c.pageSize || c.e !== (c.i + 1) * c.pageSize ? 'the splice covers only part of the page' : null
}

/**
 * Page-cache splice (RFC patch 1, mm/filemap.c): lock the page; fail if it was truncated or is not
 * up to date; wait for writeback; if it can then be removed from the page cache it is moved,
 * otherwise copied. In the order the reasons are given.
 */
export const FILE_STEAL_CONDITIONS: readonly StealCondition<FilePageCandidate>[] = [
  hasBackingStore, insideFile, clean, notMapped, noOtherFileReference, order0Folio, wholeFilePage,
]

/**
 * A page that passes every condition above may still be copied for a reason whose timing the model
 * cannot know; each of these returns that reason, or null. The model predicts the steal and allows
 * the copy (OpAcc.stealsMayCopy: /proc/fs/splice counts and page-cache deletions as a range).
 */
export function readStillInFlight(c: FilePageCandidate): string | null {
  // btrfs locks the extent range of a read (EXTENT_LOCKED in its io tree) and unlocks it when the
  // bio's completion has gone through its pages, which can be after a page is uptodate and its
  // folio unlocked; until then try_release_extent_state() refuses, filemap_release_folio() fails
  // and the fix copies (reason private). Seen on fix-6.1: streaming-readonly on btrfs copied 107 and
  // 1397 of the 16,128 pages it reloaded in two runs, none of the 256 that were cached.
  return c.fs === 'btrfs' && c.justRead ? 'btrfs may still hold the read of this page locked (filemap_release_folio fails): copied then' : null
}

/**
 * The writeback fadvise DONTNEED started on a dirty page may not have finished when the splice looks
 * at it: splice_file_page_check() and splice_take_file_folio() copy a folio under writeback
 * (folio_test_writeback, reason writeback) without waiting. Seen on fix-6.1 (ext4, explore seed
 * 2911): a page written, fadvised and spliced was stolen in 3 of 5 runs.
 */
export function writebackMayRun(c: FilePageCandidate): string | null {
  return c.writtenBack ? 'the writeback fadvise DONTNEED started may still run (folio_test_writeback): copied then' : null
}

/** Steal conditions the kernel decides by timing: the steal is predicted and a copy allowed. */
export const FILE_STEAL_MAY_COPY: readonly StealCondition<FilePageCandidate>[] = [readStillInFlight, writebackMayRun]

/** A page the model stole may still be in the page cache: the kernel may have copied it instead. */
export function maybeCopied(f: FileState, i: number, acc: OpAcc): void {
  acc.stealsMayCopy++
  ;(f.maybeCached ??= new Set()).add(i)
}

/** vmsplice steals only what the caller gives away (SPLICE_F_GIFT). */
export function gifted(c: UserPageCandidate): string | null {
  return c.gift ? null : 'no SPLICE_F_GIFT'
}

/** RFC patch 2: a single whole page at offset 0. */
export function wholeUserPage(c: UserPageCandidate): string | null {
  return c.s !== c.k * c.pageSize || c.e !== (c.k + 1) * c.pageSize ? 'not a whole page at offset 0' : null
}

/**
 * The shared zero page is nobody's to give: a private page dropped (MADV_DONTNEED, an earlier steal)
 * and only read since maps it, and vmsplice's read-only GUP returns it (fix-6.1: is_zero_page() in
 * vmsplice_page_check(), reason zero_page).
 */
export function notZeroPage(c: UserPageCandidate): string | null {
  return c.b.zero[c.k] ? 'the shared zero page (the page was dropped and not written since)' : null
}

/** RFC patch 2: anonymous memory of this process only, not shmem. */
export function privateMemory(c: UserPageCandidate): string | null {
  return c.b.kind !== 'private' ? "shared memory (shmem) page, not the process's own" : null
}

/** RFC patch 2: mapped exactly once. */
export function mappedOnce(c: UserPageCandidate): string | null {
  return c.b.unmapped ? 'the buffer is not mapped' : null
}

/** RFC patch 2: few references (none from a pipe). */
export function noOtherUserReference(c: UserPageCandidate): string | null {
  return c.page.pipeRefs > 0 ? 'more references than the mapping (already in a pipe)' : null
}

/**
 * vmsplice (RFC patch 2): stolen only with SPLICE_F_GIFT, a single whole page at offset 0, few
 * references, mapped exactly once, not pinned; otherwise copied. In the order the reasons are given.
 */
export const USER_STEAL_CONDITIONS: readonly StealCondition<UserPageCandidate>[] = [gifted, wholeUserPage, notZeroPage, privateMemory, mappedOnce, noOtherUserReference]

/** null when every condition passes, else the first failing condition's reason. */
export function whyCopy<C>(conditions: readonly StealCondition<C>[], c: C): string | null {
  for (const cond of conditions) {
    const why = cond(c)
    if (why !== null) return why
  }
  return null
}

/** What goes into a pipe slot: the page itself (shared or stolen), or null for a copy the pipe owns. */
export interface PolicyRules {
  readonly name: Policy
  /**
   * splice file → pipe of bytes [s, e) of page i of f, whose cached page is `page` (read from disk by
   * this splice: `justRead`; a dirty page whose writeback fadvise started: `writtenBack`).
   */
  fromPageCache(w: World, acc: OpAcc, f: FileState, i: number, s: number, e: number, page: Page, justRead: boolean, writtenBack: boolean): Page | null
  /** vmsplice of bytes [s, e) of page k of b, which the process maps as `page`. */
  fromProcess(w: World, acc: OpAcc, b: BufferState, k: number, s: number, e: number, page: Page, gift: boolean): Page | null
  /** tee of `take` bytes of `src`: the new slot's page and snapshot. */
  tee(acc: OpAcc, src: Slot, take: number): { page: Page | null; snap: Content }
}

/** A copy into a page the pipe owns: represented by the slot's snapshot alone (null page). */
function copyPage(acc: OpAcc, bytes: number): null {
  acc.pages.copied++
  acc.bytesCopied += bytes
  return null
}

/** 'copied: <reason>' built once per reason (it is noted per page in hot loops). */
const copiedNotes = new Map<string, string>()
function copiedNote(why: string): string {
  let n = copiedNotes.get(why)
  if (n === undefined) copiedNotes.set(why, (n = `copied: ${why}`))
  return n
}

/** 'stolen, or copied: <reason>' built once per reason. */
const maybeNotes = new Map<string, string>()
function maybeNote(why: string): string {
  let n = maybeNotes.get(why)
  if (n === undefined) maybeNotes.set(why, (n = `stolen, or copied: ${why}`))
  return n
}

/** link_pipe(): the same page, one more reference (fs/splice.c). */
function shareOnTee(acc: OpAcc, src: Slot): { page: Page | null; snap: Content } {
  acc.pages.shared++
  return { page: src.page, snap: src.snap }
}

const stock: PolicyRules = {
  name: 'stock',
  fromPageCache(_w, acc, _f, _i, _s, _e, page) {
    acc.pages.shared++
    return page
  },
  fromProcess(_w, acc, _b, _k, _s, _e, page, gift) {
    acc.pages.shared++
    if (gift) acc.note('SPLICE_F_GIFT changes nothing a reader sees on stock kernels')
    return page
  },
  tee: shareOnTee,
}

const copy: PolicyRules = {
  name: 'copy',
  fromPageCache(_w, acc, _f, _i, s, e) {
    acc.stats.filemapCopied++
    return copyPage(acc, e - s)
  },
  fromProcess(_w, acc, _b, _k, s, e) {
    acc.stats.vmspliceCopied++
    return copyPage(acc, e - s)
  },
  tee(acc, src, take) {
    const snap = src.page ? src.page.content : src.snap
    return { page: copyPage(acc, take), snap }
  },
}

const stealOrCopy: PolicyRules = {
  name: 'steal-or-copy',
  fromPageCache(w, acc, f, i, s, e, page, justRead, writtenBack) {
    const candidate = { fs: w.fs, f, i, s, e, pageSize: w.pageSize, justRead, writtenBack }
    const why = whyCopy(FILE_STEAL_CONDITIONS, candidate)
    if (why !== null) {
      acc.stats.filemapCopied++
      acc.note(copiedNote(why))
      return copyPage(acc, e - s)
    }
    const maybe = whyCopy(FILE_STEAL_MAY_COPY, candidate)
    f.cache[i] = null
    f.onDisk[i] = true
    f.dirty[i] = false
    acc.pages.stolen++
    acc.stats.filemapMoved++
    acc.pcDel++
    acc.note('stolen: removed from the page cache, the pipe owns it (RFC mm/filemap.c)')
    if (maybe !== null) {
      maybeCopied(f, i, acc)
      acc.note(maybeNote(maybe))
    }
    return page
  },
  fromProcess(w, acc, b, k, s, e, page, gift) {
    const why = whyCopy(USER_STEAL_CONDITIONS, { b, k, s, e, pageSize: w.pageSize, gift, page })
    if (why !== null) {
      acc.stats.vmspliceCopied++
      acc.note(copiedNote(why))
      return copyPage(acc, e - s)
    }
    dropUserPage(b, k, w.pageSize)
    acc.pages.stolen++
    acc.stats.vmspliceStole++
    acc.note('gifted page stolen: it leaves the process, which will fault a zero page in')
    return page
  },
  tee: shareOnTee,
}

export const POLICY_RULES: Readonly<Record<Policy, PolicyRules>> = { stock, copy, 'steal-or-copy': stealOrCopy }
