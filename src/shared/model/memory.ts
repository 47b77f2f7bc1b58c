/**
 * The process's memory: buffer pages, private (copy-on-write after fork, dropped by MADV_DONTNEED)
 * or shared (shmem). A store changes the page the process maps now; a pipe slot that references an
 * older page of the buffer keeps that page's bytes.
 */
import type { Pattern } from '../scenario/pattern'
import { fresh, overwrite } from './content'
import type { OpAcc } from './acc'
import { Page, type BufferState, type World } from './state'

/** The page the process maps at index k, faulted in (or copied for a write after fork) first. */
export function touchUserPage(acc: OpAcc, b: BufferState, k: number, write: boolean): Page {
  if (b.zapped[k]) {
    b.zapped[k] = false
    b.pages[k] = new Page(b.logical[k]!)
    // A read fault on private anonymous memory maps the shared zero page (do_anonymous_page in
    // mm/memory.c: "Use the zero-page for reads"), read-only; vmsplice reads (no FOLL_WRITE), so the
    // pipe gets the zero page, and the first store faults again and copies it (do_wp_page: the zero
    // page is no anon folio to reuse, wp_page_copy). Seen on 6.18: MADV_DONTNEED, vmsplice, store:
    // the reader sees zeros, unchanged. A write fault allocates the process a page of its own.
    b.cow[k] = !write && b.kind === 'private'
    b.zero[k] = b.cow[k]!
    acc.faults++
    acc.note(write ? 'the page had left the process: the store faults in a fresh zero page of its own' : 'the page had left the process: the read maps the shared zero page, which a later store copies')
  }
  if (write && b.kind === 'private' && b.cow[k]) {
    // do_wp_page: a COW-shared page (or one the pipe still references) is copied for the writer
    b.pages[k] = new Page(b.pages[k]!.content)
    b.cow[k] = false
    b.zero[k] = false
    acc.faults++
    acc.note('copy-on-write after fork: the store goes to a new page, the pipe keeps the old one')
  }
  return b.pages[k]!
}

/** A store of `pat` into the buffer bytes [off, off + len). */
export function storeBuffer(acc: OpAcc, b: BufferState, P: number, off: number, len: number, pat: Pattern): void {
  const s = b.base + off
  const e = s + len
  for (let k = Math.floor(s / P); k * P < e; k++) {
    const page = touchUserPage(acc, b, k, true)
    const old = b.logical[k]!
    const next = overwrite(old, s, e, pat, b.base)
    page.content = page.content === old ? next : overwrite(page.content, s, e, pat, b.base)
    b.logical[k] = next
    acc.pageEvents++
  }
}

/** The page at k leaves the process (MADV_DONTNEED on private memory, or a steal): it reads zeros from now on. */
export function dropUserPage(b: BufferState, k: number, P: number): void {
  b.pages[k] = new Page(fresh(k * P, (k + 1) * P, null, 0))
  b.logical[k] = b.pages[k]!.content
  b.zapped[k] = true
}

/** munmap of the buffer: the process no longer writes the old pages (the pipe keeps its references). */
export function unmapBuffer(b: BufferState): void {
  b.unmapped = true
  b.pages = b.pages.map((pg) => new Page(pg.content))
}

/**
 * fork() write-protects every present page of every private mapping in the parent (copy_present_pte
 * in mm/memory.c, for COW mappings) and clears its anon-exclusive mark, whichever buffer the fork op
 * stores into. The first write afterwards goes through do_wp_page: a page that is not exclusive is
 * reused only if nothing else references it (wp_can_reuse_anon_folio: refcount 1), so a page a pipe
 * holds through vmsplice is copied, even after the child has exited and even when the vmsplice came
 * after the fork (vmsplice reads: it takes a reference without unsharing). Seen on 6.18 with a fork
 * that stored into another buffer (docs/stock-rules.md section 5).
 */
export function forkProtectsPrivateMemory(w: World): void {
  for (const b of w.buffers.values()) {
    if (b.kind !== 'private' || b.unmapped) continue
    for (let k = 0; k < b.pages.length; k++) if (!b.zapped[k]) b.cow[k] = true
  }
}
