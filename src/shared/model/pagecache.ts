/**
 * A file's page cache under the stock kernel's rules (docs/stock-rules.md): reading pages in,
 * writing through it, and the ways pages leave it (punch hole and zero range, truncate, O_DIRECT,
 * fadvise DONTNEED). A page that leaves keeps its object and content, so a pipe slot that holds it
 * keeps the old bytes; a change in place gives the page a new content, which a pipe slot sees.
 */
import type { Pattern } from '../scenario/pattern'
import type { OpOutcome } from '../results'
import { overlay, overwrite, fresh, type Seg } from './content'
import type { OpAcc } from './acc'
import { Page, type FileState, type World } from './state'

/** What a read of page `i` returns now, growing the file's arrays with zero pages past its end. */
export function logicalOf(f: FileState, i: number, P: number): (typeof f.logical)[number] {
  const c = f.logical[i]
  if (c) return c
  // a page past the end of the file as it was created: zeros
  while (f.logical.length <= i) {
    const j = f.logical.length
    f.logical.push(fresh(j * P, (j + 1) * P, null, 0))
    f.cache.push(null)
    f.folioStart.push(j)
    f.folioPages.push(1)
    f.dirty.push(false)
    f.onDisk.push(false)
    f.mappedPage.push(false)
  }
  return f.logical[i]!
}

/** The cached page of `i`, reading it in (order-0 folio) when it is not cached. */
export function load(w: World, acc: OpAcc, f: FileState, i: number, needData: boolean): Page {
  const P = w.pageSize
  logicalOf(f, i, P)
  const cached = f.cache[i]
  if (cached) return cached
  const group = w.readaheadFolioPages
  if (group > 1 && needData && f.onDisk[i] && w.rules.largeFolioReadahead.includes(w.fs) && f.size > w.rules.readaheadOrder0Pages * P) {
    // the other world: readahead reads an aligned group of pages into one folio, never one that
    // reaches past the end of file (page_cache_ra_order, mm/readahead.c: the order shrinks, and
    // 6.1 skips order 1, so a tail shorter than a group is read in order 0)
    const start = i - (i % group)
    const end = start + group
    if (end <= Math.ceil(f.size / P) && f.cache.slice(start, end).every((c) => c === null)) {
      for (let j = start; j < end; j++) {
        logicalOf(f, j, P)
        f.cache[j] = new Page(f.logical[j]!)
        f.folioStart[j] = start
        f.folioPages[j] = end - start
        if (f.onDisk[j]) acc.reloads++
        f.onDisk[j] = false
        f.dirty[j] = false
      }
      countAdd(acc, f, start, end)
      acc.note('readahead may give a large folio here (the kernel chooses; both worlds allowed)')
      return f.cache[i]!
    }
  }
  const p = new Page(f.logical[i]!)
  f.cache[i] = p
  f.folioStart[i] = i
  f.folioPages[i] = 1
  // read in, it is clean: whatever was dirty left with the folio before (written back and
  // invalidated by O_DIRECT, or thrown away; fix-6.1, explore seed 1129: an O_DIRECT write over a
  // dirty page, then a splice of it, stole the page the model thought still dirty)
  f.dirty[i] = false
  acc.pageEvents++
  // shmem adds its pages without the filemap tracepoint (docs/stock-rules.md section 8)
  if (w.fs !== 'tmpfs') countAdd(acc, f, i, i + 1)
  if (needData && f.onDisk[i]) {
    acc.reloads++
    acc.note('a page that had left the page cache is read back (reload)')
  }
  f.onDisk[i] = false
  return p
}

/** Page i is dirty (again): a writeback fadvise started on it before no longer makes it clean. */
function markDirty(f: FileState, i: number): void {
  f.dirty[i] = true
  f.writebackMayRun?.delete(i)
}

/** One page-cache addition for the folio of pages [s, e): certain, unless an earlier readahead may have read it in already. */
function countAdd(acc: OpAcc, f: FileState, s: number, e: number): void {
  let maybe = false
  for (let j = s; j < e; j++) if (f.maybeCached?.delete(j)) maybe = true
  if (maybe) {
    acc.pcAddExtra++
    acc.note('an earlier readahead may have read this page in already')
  } else acc.pcAdd++
}

/** Page i is known not to be cached now (removed, evicted or invalidated): a readahead that may have read it no longer matters. */
export function forgetReadahead(f: FileState, i: number): void {
  f.maybeCached?.delete(i)
}

/** Removes the whole folio holding page i from the page cache; pipe slots keep the pages as they are. */
export function removeFolio(acc: OpAcc, f: FileState, i: number, keepsData: (j: number) => boolean): void {
  const start = f.folioStart[i]!
  const n = f.folioPages[i]!
  for (let j = start; j < start + n; j++) {
    if (!f.cache[j]) continue
    f.cache[j] = null
    f.onDisk[j] = keepsData(j)
    f.mappedPage[j] = false
    f.folioStart[j] = j
    f.folioPages[j] = 1
    acc.pageEvents++
  }
}

/**
 * Who holds the folio of page i besides the page cache: 'held' when a pipe or a mapping references
 * one of its pages, 'dirty' when only unwritten data keeps it, 'free' when nothing does.
 */
export function folioUse(f: FileState, i: number): 'held' | 'dirty' | 'free' {
  const start = f.folioStart[i]!
  let dirty = false
  for (let j = start; j < start + f.folioPages[i]!; j++) {
    const pj = f.cache[j]
    if (!pj) continue
    if (pj.pipeRefs > 0 || f.mappedPage[j]) return 'held'
    if (f.dirty[j]) dirty = true
  }
  return dirty ? 'dirty' : 'free'
}

/** An in-place change of the bytes [s, e) of the file to `patch` (a buffered write or a store). */
export function writeFile(w: World, acc: OpAcc, f: FileState, s: number, e: number, patch: Seg[], viaMapping: boolean): void {
  if (e <= s) return
  const P = w.pageSize
  const first = Math.floor(s / P)
  const last = Math.floor((e - 1) / P)
  for (let i = first; i <= last; i++) {
    const ps = i * P
    const pe = ps + P
    const partial = s > ps || (e < pe && e < f.size)
    if (viaMapping && !f.cache[i]) faultReadAround(w, f, i)
    if (f.cache[i] && f.maybeGone?.delete(i)) {
      // fadvise may have evicted this dirty page after all (its writeback won the race): the write
      // then adds it again (seen on 6.18, xfs and btrfs: a splice from a pipe into such a page added
      // it in 3 or 4 of 5 runs)
      acc.pcAddExtra++
      acc.note('fadvise may have evicted this page: the write may add it again')
    }
    const page = load(w, acc, f, i, partial)
    const old = f.logical[i]!
    const next = overlay(old, patch)
    page.content = page.content === old ? next : overlay(page.content, patch)
    f.logical[i] = next
    markDirty(f, i)
    if (viaMapping) f.mappedPage[i] = true
    acc.pageEvents++
  }
  if (e > f.size) f.size = e
}

/**
 * A fault on a page of a file mapping that is not cached reads around it first (filemap_fault →
 * do_sync_mmap_readahead, "mmap read-around": ra_pages pages from pgoff - ra_pages / 2, holes too).
 * How far is the device's read-ahead size (read_ahead_kb: 2560 KiB, 640 pages, on this machine's
 * loop devices) and the file's mmap_miss count, which the scenario does not give the model; so the
 * file's other uncached pages may be cached now, and a later read of one adds 0 or 1 (maybeCached).
 * Seen on 6.18 (ext4, xfs, btrfs): a store through the mapping into page 0 or 1 of an uncached
 * 2-page file added both pages, and the next splice of the other page added none. shmem's fault
 * reads nothing around (and tmpfs adds no counted pages).
 */
function faultReadAround(w: World, f: FileState, i: number): void {
  if (w.fs === 'tmpfs') return
  for (let j = 0; j * w.pageSize < f.size && j < f.cache.length; j++) if (j !== i && !f.cache[j]) (f.maybeCached ??= new Set()).add(j)
}

/** The bytes of `pat` over [s, e), as a patch for writeFile. */
export function patternPatch(s: number, e: number, pat: Pattern): Seg[] {
  return [{ s, e, pat, shift: 0 }]
}

/**
 * fallocate punch hole / zero range (docs/stock-rules.md section 3): folios wholly inside the
 * removal range leave the page cache (pipe copies stay intact); the rest of the range is zeroed in
 * place. ext4/btrfs/tmpfs remove whole blocks inside the range (truncate_pagecache_range on the
 * block-aligned inner range) and zero partial blocks in place; xfs (xfs_flush_unmap_range) rounds
 * the range OUT to pages and removes/zeroes that. `hole`: a punch hole (else a zero range); where a
 * range past the end of file ends in the page cache: cacheEnd.
 */
export function punch(w: World, acc: OpAcc, f: FileState, a: number, b: number, oldSize = f.size, hole = false): void {
  const P = w.pageSize
  if (!hole) btrfsZeroEofBlock(w, acc, f, b, oldSize)
  if (Math.min(b, f.size) <= a) {
    // nothing of the file is in the range; a zero range still zeroes its edge blocks
    if (!hole) zeroEdgesThroughCache(w, acc, f, a, b, b, false)
    return
  }
  const end = cacheEnd(w, f, b, hole)
  const outward = w.rules.punchRoundsOut.includes(w.fs)
  const rs = outward ? Math.floor(a / P) * P : Math.ceil(a / P) * P
  const re = outward ? Math.ceil(end / P) * P : Math.floor(end / P) * P
  // xfs_flush_unmap_range writes the rounded range back before it truncates the page cache
  if (outward) cleanFolios(f, P, rs, re)
  removeOrZeroFolios(acc, f, P, a, end, outward ? rs : a, outward ? re : end, rs, re)
  if (!outward) zeroEdgesThroughCache(w, acc, f, a, b, end, hole)
  for (let i = Math.floor(a / P); i * P < end; i++) {
    const old = logicalOf(f, i, P)
    const next = overwrite(old, a, end, null, 0)
    const page = f.cache[i]
    if (page && page.content === old) page.content = next
    f.logical[i] = next
    if (!page && i * P >= a && (i + 1) * P <= end) f.onDisk[i] = false
    if (!f.cache[i]) forgetReadahead(f, i)
  }
  if (outward) xfsZeroEdges(acc, f, P, a, b, Math.min(end, oldSize))
}

/**
 * The edge block zeroed through the page cache is a write: its folio is dirty until written back
 * (ext4_block_zero_page_range → mark_buffer_dirty; btrfs_truncate_block → set_page_dirty). A clean
 * page in that state is not stolen under steal-or-copy: seen on fix-6.1 as `reason=dirty` for the
 * edge page of a zero range spliced again (zero-range-edge-reread, ext4 and btrfs) and for a punch's
 * edge page read in (punch-edge-block-size, btrfs). The model takes a cached edge page to have its
 * block allocated (a cached hole's block is not, and ext4 skips it: not modelled).
 */
function dirtyEdge(acc: OpAcc, f: FileState, i: number): void {
  const start = f.folioStart[i]!
  for (let j = start; j < start + f.folioPages[i]!; j++) markDirty(f, j)
  acc.note('the partial edge block is zeroed through the page cache: its folio is dirty')
}

/**
 * ext4 (ext4_zero_partial_blocks) and btrfs (btrfs_truncate_block) zero a partial edge block of a
 * punch or zero range through the page cache, reading it in when it is not cached (seen on 6.18: one
 * page-cache add during a 1-byte punch of an uncached file, none on the next splice of that page).
 * An edge on a block boundary needs no zeroing: with 1 KiB ext4 blocks, an edge at 1024 reads
 * nothing in (docs/stock-rules.md section 12). This comes after the page cache was truncated
 * (ext4_truncate_page_cache_block_range first): an edge page of a large folio that left whole is read
 * back in (seen on 6.18: 3 additions, not 4, when all 4 pages of such a folio were spliced again; 0,
 * not 1, for an edge page spliced again).
 *
 * A zero range that allocates its edge blocks first (ext4_zero_range: ext4_alloc_file_blocks over
 * the range rounded out to blocks, then ext4_zero_partial_blocks over the range as given) reads each
 * partial edge in wherever it is: in a hole, past the end of file, with or without KEEP_SIZE. Seen
 * on 6.18 (ext4): [2, 20) of a 1-byte file with KEEP_SIZE, [4200, 4300) in a punched page, [8000,
 * 8100) past the end of a 5000-byte file and [1, 2) of an empty file each read the edge page in;
 * [0, 4096) of a 1-byte file, whose edges are block boundaries, read nothing.
 */
function zeroEdgesThroughCache(w: World, acc: OpAcc, f: FileState, a: number, b: number, end: number, hole: boolean): void {
  if (!w.rules.zeroesEdgesThroughCache.includes(w.fs)) return
  const allocates = !hole && w.rules.zeroRangeAllocatesEdges.includes(w.fs)
  for (const x of [a, allocates ? b : end]) {
    const i = Math.floor(x / w.pageSize)
    if (x % w.blockSize !== 0 && !f.cache[i] && (allocates || (x < f.size && f.onDisk[i]))) load(w, acc, f, i, true)
    if (x % w.blockSize !== 0 && f.cache[i] && (x < f.size || allocates)) dirtyEdge(acc, f, i)
  }
}

/**
 * Where a punch hole or zero range ends in the page cache when its range reaches past the end of
 * file. It is not cut at the end of file: tmpfs (shmem_fallocate → shmem_truncate_range(offset,
 * offset + len - 1)), btrfs (btrfs_punch_hole and btrfs_zero_range: truncate_pagecache_range over the
 * range's whole sectors) and ext4's zero range take the range as given, and ext4's punch hole
 * (ext4_punch_hole: "If the hole extends beyond i_size, set the hole to end after the page that
 * contains i_size", end = round_up(i_size, PAGE_SIZE)) even stretches it to the end of the last
 * page. So the last, partial page leaves the page cache whole (and is a hole from then on) when the
 * range covers it to its end — for an ext4 punch whenever the range passes the end of file. Seen on
 * 6.18: punching [0, 4096) of a 256-byte file deletes the page on all four filesystems, and the next
 * splice adds it again (ext4/xfs/btrfs) or splices the zero page (tmpfs: a later write is not seen);
 * an ext4 punch of [0, 2) of a 1-byte file and a zero range of [0, 4096) with KEEP_SIZE of a cached
 * 1-byte file (ext4, xfs, btrfs) delete the page too. xfs rounds out to pages anyway
 * (xfs_flush_unmap_range). Pages past the last one hold nothing.
 */
function cacheEnd(w: World, f: FileState, b: number, hole: boolean): number {
  if (b <= f.size) return b
  const lastPageEnd = Math.ceil(f.size / w.pageSize) * w.pageSize
  return hole && w.fs === 'ext4' ? lastPageEnd : Math.min(b, lastPageEnd)
}

/**
 * btrfs, a fallocate other than punch hole whose range passes the end of file: before the zero range
 * itself, btrfs_fallocate (fs/btrfs/file.c) zeroes the rest of the block holding i_size so that no
 * stale bytes show past it — btrfs_truncate_block(inode, i_size, 0, 0), or btrfs_cont_expand, which
 * starts with the same call, when the range starts past that block. That goes through the page
 * cache and reads the page in even when it is a hole. Seen on 6.18: a zero range reaching past the
 * end of a 1-byte file (uncached, or punched) adds the page during the fallocate, none on the next
 * splice; likewise [8000, 8100) with KEEP_SIZE past the end of a 5000-byte file.
 */
function btrfsZeroEofBlock(w: World, acc: OpAcc, f: FileState, b: number, oldSize: number): void {
  const P = w.pageSize
  if (w.fs !== 'btrfs' || b <= oldSize || oldSize % P === 0) return
  const i = Math.floor(oldSize / P)
  if (!f.cache[i]) {
    load(w, acc, f, i, true)
    acc.note('btrfs zeroes the rest of the end-of-file block through the page cache first: its page is read in')
  }
  dirtyEdge(acc, f, i)
}

/** Writeback of the folios over [s, e): they are clean after it. */
function cleanFolios(f: FileState, P: number, s: number, e: number): void {
  for (let i = Math.floor(s / P); i * P < e && i < f.cache.length; i++) {
    if (!f.cache[i]) continue
    const start = f.folioStart[i]!
    for (let j = start; j < start + f.folioPages[i]!; j++) f.dirty[j] = false
  }
}

/**
 * The page-cache half of a punch over [a, end): folios wholly inside [rs, re) leave (the pages
 * of [a, end) lose their data on disk too); the cached pages that stay are zeroed in place over
 * [zs, ze) ∩ the page.
 */
function removeOrZeroFolios(acc: OpAcc, f: FileState, P: number, a: number, end: number, zs0: number, ze0: number, rs: number, re: number): void {
  const first = Math.floor(Math.min(a, rs) / P)
  const last = Math.ceil(Math.max(end, re) / P)
  const partial = new Set<number>()
  splitFreeFolios(f, P, first, Math.min(last, f.cache.length), rs, re)
  for (let i = first; i < last && i < f.cache.length; i++) {
    const page = f.cache[i]
    if (!page) continue
    const fs0 = f.folioStart[i]! * P
    const fe = fs0 + f.folioPages[i]! * P
    if (fs0 >= rs && fe <= re) {
      removeFolio(acc, f, i, (j) => !(j * P >= a && (j + 1) * P <= end))
      acc.note('whole folio inside the range: removed from the page cache, the pipe keeps its page intact')
      continue
    }
    const zs = Math.max(zs0, i * P)
    const ze = Math.min(ze0, (i + 1) * P)
    if (ze > zs) {
      page.content = overwrite(page.content === f.logical[i] ? f.logical[i]! : page.content, zs, ze, null, 0)
      acc.note(f.folioPages[i]! > 1 ? 'part of a large folio: zeroed in place (mm/truncate.c truncate_inode_partial_folio)' : 'partial page: zeroed in place')
      acc.pageEvents++
      if (f.folioPages[i]! > 1) partial.add(f.folioStart[i]!)
    }
  }
  for (const start of partial) dropUnsplittableFolio(acc, f, start, () => true)
}

/**
 * A large folio that the range cuts into and that no pipe holds is split
 * (truncate_inode_partial_folio → try_folio_split_to_order, mm/truncate.c), so its pages wholly
 * inside the range leave the page cache like order-0 pages and the others stay. Seen on 6.18 (ext4,
 * xfs): punching the last page of a 4-page folio, then splicing that page, adds it again. The
 * model makes the pieces order 0 (the kernel's split leaves the page at the cut order 0 and the rest
 * in the largest aligned pieces; no rule here depends on their size yet).
 */
function splitFreeFolios(f: FileState, P: number, first: number, last: number, rs: number, re: number): void {
  for (let i = first; i < last; i++) {
    const start = f.folioStart[i]!
    const n = f.folioPages[i]!
    if (n <= 1 || !f.cache[i]) continue
    if (start * P >= rs && (start + n) * P <= re) continue
    let held = false
    for (let j = start; j < start + n; j++) if ((f.cache[j]?.pipeRefs ?? 0) > 0) held = true
    if (held) continue
    for (let j = start; j < start + n; j++) {
      f.folioStart[j] = j
      f.folioPages[j] = 1
    }
  }
}

/**
 * After zeroing part of a large folio, truncate_inode_partial_folio() (mm/truncate.c) tries to split
 * it; the split fails while a pipe holds a reference to one of its pages, and then a clean folio is
 * removed whole (truncate_inode_folio) — the zeroes are already in it, so the pipe's reader sees
 * them — while a dirty one stays. A later access reads the pages back: seen on 6.18 as a page-cache
 * addition on the next splice of another page of a 32 KiB folio after a 1-byte zero range (ext4,
 * xfs), where the model without this rule predicted none, and as a later write into the spliced
 * page not reaching the reader (truncate and punch on ext4, punch on xfs, which writes the range back
 * first) unless the folio was dirty (a dirty file on ext4; an xfs truncate, whose edge zeroing
 * dirties the folio before the page cache is truncated). A split that succeeds (no pipe) keeps the
 * pages cached; the model keeps their folio as it was.
 */
function dropUnsplittableFolio(acc: OpAcc, f: FileState, start: number, keepsData: (j: number) => boolean): void {
  const n = f.folioPages[start]!
  if (n <= 1 || !f.cache[start]) return
  let held = false
  for (let j = start; j < start + n; j++) {
    if (f.dirty[j]) return
    if ((f.cache[j]?.pipeRefs ?? 0) > 0) held = true
  }
  if (!held) return
  removeFolio(acc, f, start, keepsData)
  acc.note('the large folio cannot be split while the pipe holds it and is clean: it leaves the page cache whole')
}

/**
 * xfs then zeroes the partial blocks through the page cache (xfs_free_file_space →
 * xfs_zero_range → iomap_zero_range), which reads their pages back in: new pages, dirty, holding
 * the zeroed bytes. The pipe keeps the old ones. xfs_free_file_space unmaps the whole blocks of
 * [a, b) first and then zeroes [a, b) clamped to the end of file as it was (`if (offset >=
 * XFS_ISIZE(ip)) return 0`): what is left to zero is the head and tail outside the whole blocks,
 * or the whole range when it holds no whole block ([0, 1) of a 1-byte file). A zero range that
 * extends the file does this before the size grows, so nothing past the old end is read in. Seen
 * on 6.18 as one page-cache add per partial block during the punch, and no add on the next splice
 * of that page. (xfs block size = page size here.)
 */
function xfsZeroEdges(acc: OpAcc, f: FileState, P: number, a: number, b: number, zeroEnd: number): void {
  if (zeroEnd <= a) return
  const whole0 = Math.ceil(a / P) * P
  const whole1 = Math.floor(b / P) * P
  const pieces: [number, number][] = whole0 < whole1 ? [[a, Math.min(whole0, zeroEnd)], [whole1, zeroEnd]] : [[a, zeroEnd]]
  for (const [s, e] of pieces) {
    if (e <= s) continue
    for (let i = Math.floor(s / P); i * P < e; i++) xfsZeroPage(acc, f, P, i)
  }
}

/** Page i of a partial block xfs zeroes: read back in unless cached, or a hole (iomap_zero_range skips holes). */
function xfsZeroPage(acc: OpAcc, f: FileState, P: number, i: number): void {
  if (f.cache[i] || !f.onDisk[i]) return
  logicalOf(f, i, P)
  f.cache[i] = new Page(f.logical[i]!)
  f.folioStart[i] = i
  f.folioPages[i] = 1
  markDirty(f, i)
  f.onDisk[i] = false
  acc.pageEvents++
  acc.note('xfs zeroes a partial block through the page cache: its page is read back in')
}

/**
 * fadvise(POSIX_FADV_DONTNEED) over [s, e): invalidate_mapping_pages → mapping_evict_folio evicts
 * only clean, unmapped folios nobody else references. Dirty ones start writeback and may or may not
 * go (maybeGone).
 */
export function fadviseDontneed(acc: OpAcc, f: FileState, P: number, s: number, e: number): void {
  for (let i = Math.ceil(s / P); (i + 1) * P <= Math.ceil(e / P) * P && i < f.cache.length; i++) {
    // a page readahead may have read is clean and unreferenced: evicted if it is there; one whose
    // writeback may still run is not (mapping_evict_folio refuses a folio under writeback)
    if (!f.writebackMayRun?.has(i)) forgetReadahead(f, i)
    if (!f.cache[i]) continue
    const use = folioUse(f, i)
    if (use === 'free') {
      removeFolio(acc, f, i, () => true)
      continue
    }
    acc.note('fadvise DONTNEED cannot evict a page the pipe (or a mapping, or dirt) holds')
    if (use === 'dirty') {
      const start = f.folioStart[i]!
      for (let j = start; j < start + f.folioPages[i]!; j++) {
        ;(f.maybeGone ??= new Set()).add(j)
        ;(f.writebackMayRun ??= new Set()).add(j)
      }
    }
  }
}

/**
 * O_DIRECT write of `pat` over [s, s + len) (docs/stock-rules.md sections 4 and 12). ext4 and xfs go
 * around the page cache: kiocb_invalidate_pages → invalidate_inode_pages2_range makes cached folios
 * leave, the data goes to disk. tmpfs has no direct I/O: a buffered write on 6.6 and later, an open
 * that fails before (EINVAL). btrfs goes direct for a range aligned to its sector (check_direct_IO),
 * on 6.18 only for a file without checksums (nodatasum); otherwise it falls back to a buffered write,
 * then writes back and invalidates (btrfsDirectFallbackInvalidate).
 */
export function odirectWrite(w: World, acc: OpAcc, f: FileState, s: number, len: number, pat: Pattern): OpOutcome {
  const P = w.pageSize
  const mode = w.rules.directIo[w.fs]
  if (mode === 'einval') {
    // do_dentry_open (fs/open.c): no a_ops->direct_IO, no FMODE_CAN_ODIRECT, open(O_DIRECT) is EINVAL
    acc.note(`${w.fs} has no direct I/O on this kernel: open(O_DIRECT) fails with EINVAL, nothing is written`)
    return { ret: -1, errno: 'EINVAL' }
  }
  const aligned = s % P === 0 && len % P === 0
  const direct = mode === 'direct' || (mode === 'direct-if-aligned' && aligned) || (mode === 'direct-if-nodatasum' && w.nodatasum && aligned)
  if (direct) {
    for (let i = Math.floor(s / P); i * P < s + len && i < f.cache.length; i++) {
      if (f.cache[i]) {
        removeFolio(acc, f, i, () => true)
        acc.note('O_DIRECT: the cached folio is invalidated; the pipe keeps the old page')
      }
    }
    for (let i = Math.floor(s / P); i * P < s + len; i++) {
      logicalOf(f, i, P)
      f.logical[i] = overwrite(f.logical[i]!, s, s + len, pat, 0)
      if (!f.cache[i]) f.onDisk[i] = true
      forgetReadahead(f, i)
    }
    if (s + len > f.size) f.size = s + len
    return { ret: len, errno: null }
  }
  if (mode === 'buffered') {
    acc.note(`O_DIRECT on ${w.fs} is a buffered write`)
    writeFile(w, acc, f, s, s + len, patternPatch(s, s + len, pat), false)
    return { ret: len, errno: null }
  }
  acc.note(mode === 'direct-if-aligned' || w.nodatasum ? `btrfs${w.nodatasum ? ' (nodatasum)' : ''} falls back to a buffered write for a range not aligned to its sector` : 'btrfs falls back to buffered writes for checksummed files')
  writeFile(w, acc, f, s, s + len, patternPatch(s, s + len, pat), false)
  btrfsDirectFallbackInvalidate(acc, f, P, s, s + len)
  return { ret: len, errno: null }
}

/**
 * btrfs_direct_write() after its buffered fallback keeps O_DIRECT's promise: it writes the range
 * back and waits (filemap_fdatawrite_range + filemap_fdatawait_range), then
 * invalidate_mapping_pages() over the pages it touched. That evicts only folios nobody else
 * holds (mapping_evict_folio: not mapped, no extra reference such as a pipe's), so a page in the
 * pipe stays cached and keeps the write in place, and the others leave (a later access reloads
 * them). Seen on 6.18 as page-cache deletions during the write and additions on the next splice.
 */
function btrfsDirectFallbackInvalidate(acc: OpAcc, f: FileState, P: number, s: number, e: number): void {
  for (let i = Math.floor(s / P); i * P < e && i < f.cache.length; i++) f.dirty[i] = false
  for (let i = Math.floor(s / P); i * P < e && i < f.cache.length; i++) {
    if (!f.cache[i] || folioUse(f, i) !== 'free') continue
    removeFolio(acc, f, i, () => true)
    acc.note('btrfs O_DIRECT fallback: written back and invalidated; the page leaves the page cache')
  }
}

/**
 * truncate: folios wholly past the new end leave; the folio straddling it is zeroed in place to its
 * end. Shrinking to inside a block, ext4 (ext4_block_truncate_page) and xfs (iomap_truncate_page)
 * zero the rest of that block through the page cache, reading the page in when it is not cached;
 * btrfs does not (docs/stock-rules.md section 12).
 */
export function truncate(w: World, acc: OpAcc, f: FileState, size: number): void {
  const P = w.pageSize
  // A truncate to the same size zeroes that block's tail too: ext4_setattr calls ext4_truncate
  // "even if i_size didn't change" (size <= oldsize), and xfs_setattr_size calls
  // xfs_truncate_page for any size not above the old one (seen on 6.18: no page-cache addition on
  // the next splice of a 1-byte file truncated to 1 byte).
  const edge = Math.floor(size / P)
  const zeroesEdge = size <= f.size && w.rules.truncateZeroesEdgeThroughCache.includes(w.fs) && size % w.blockSize !== 0
  const edgeFirst = w.rules.truncateDirtiesEdgeFirst.includes(w.fs)
  if (zeroesEdge && edgeFirst) {
    if (!f.cache[edge] && f.onDisk[edge]) load(w, acc, f, edge, true)
    // xfs_setattr_size zeroes the block's tail (xfs_truncate_page) before truncate_setsize: a write
    // that dirties the folio, so a large one the pipe holds stays cached (dropUnsplittableFolio)
    const start = f.folioStart[edge]!
    for (let j = start; j < start + f.folioPages[edge]!; j++) markDirty(f, j)
  }
  if (size < f.size) {
    let straddling: number | null = null
    for (let i = Math.floor(size / P); i < f.cache.length; i++) {
      const page = f.cache[i]
      if (!page) {
        if (i * P >= size) f.onDisk[i] = false
        forgetReadahead(f, i)
        continue
      }
      const fs0 = f.folioStart[i]! * P
      const fe = fs0 + f.folioPages[i]! * P
      if (fs0 >= size) {
        removeFolio(acc, f, i, () => false)
        acc.note('folio past the new end of file: removed, the pipe keeps its page intact')
      } else if (fe > size) {
        page.content = overwrite(page.content, Math.max(size, i * P), (i + 1) * P, null, 0)
        acc.note('folio straddling the new end of file: zeroed in place up to the end of the folio')
        acc.pageEvents++
        if (i + 1 === fe / P) straddling = f.folioStart[i]!
      }
    }
    if (straddling !== null) dropUnsplittableFolio(acc, f, straddling, (j) => j * P < size)
    for (let i = Math.floor(size / P); i < f.logical.length; i++) {
      const old = f.logical[i]!
      const next = overwrite(old, Math.max(size, i * P), (i + 1) * P, null, 0)
      const page = f.cache[i]
      if (page && page.content === old) page.content = next
      f.logical[i] = next
    }
  }
  // ext4_setattr truncates the page cache (truncate_pagecache) before ext4_truncate zeroes the new
  // last block's tail (ext4_block_truncate_page), so a page that just left — a clean large folio the
  // pipe holds, which cannot be split — is read back in. Seen on 6.18: a 3-page one_write file
  // truncated to 1098 bytes while a pipe holds its first page: +1 -2 during the truncate, and the
  // next splice of [0, 1098) adds nothing.
  if (zeroesEdge && !edgeFirst && !f.cache[edge] && f.onDisk[edge]) load(w, acc, f, edge, true)
  f.size = size
}
