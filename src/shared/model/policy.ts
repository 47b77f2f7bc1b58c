/**
 * The steal-or-copy rules of the RFC (DESIGN.md "What the RFC itself defined", seed cover letter):
 * each returns null when the page can be stolen, else the reason it must be copied (shown to people
 * in the op's notes). The stock and copy policies need no rules: stock always shares (fs/splice.c
 * filemap_splice_read / iter_to_pipe take page references), copy always copies (read()+write()).
 */
import type { Filesystem } from '../scenario/schema'
import type { BufferState, FileState, Page } from './sim'

/**
 * Page-cache splice (RFC patch 1, mm/filemap.c): lock the page; fail if it was truncated or is not
 * up to date; wait for writeback; if it can then be removed from the page cache it is moved,
 * otherwise copied.
 */
export function stealFilePage(fs: Filesystem, f: FileState, i: number, s: number, e: number, pageSize: number): string | null {
  // shmem has no backing store: a page removed from it would lose the file's data (RFC touches
  // mm/shmem.c so tmpfs splice copies). Modelled as: tmpfs always copies.
  if (fs === 'tmpfs') return 'tmpfs pages have no backing store to reload from'
  if (i * pageSize >= f.size) return 'truncated (past the end of file)'
  // A dirty page cannot leave the page cache without losing data the file has not written yet.
  if (f.dirty[i]) return 'dirty page (its data is not on disk yet)'
  if (f.mappedPage[i] || f.mapped) return 'mapped into a process (page_mapped)'
  const page = f.cache[i]
  if (page && page.pipeRefs > 0) return 'another reference holds it (already in a pipe)'
  if (f.folioPages[i]! > 1) return 'part of a large folio (the pipe buffer does not cover the whole folio)'
  if (s !== i * pageSize || e !== (i + 1) * pageSize) return 'the splice covers only part of the page'
  return null
}

/**
 * vmsplice (RFC patch 2): stolen only with SPLICE_F_GIFT, a single whole page at offset 0, few
 * references, mapped exactly once, not pinned; otherwise copied.
 */
export function stealUserPage(b: BufferState, k: number, s: number, e: number, pageSize: number, gift: boolean, page: Page): string | null {
  if (!gift) return 'no SPLICE_F_GIFT'
  if (s !== k * pageSize || e !== (k + 1) * pageSize) return 'not a whole page at offset 0'
  if (b.kind !== 'private') return 'shared memory (shmem) page, not the process\'s own'
  if (b.unmapped) return 'the buffer is not mapped'
  if (page.pipeRefs > 0) return 'more references than the mapping (already in a pipe)'
  return null
}
