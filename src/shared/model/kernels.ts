/**
 * The rules of the stock model that can differ between kernel versions, each keyed by version with
 * the evidence for it. A simulation resolves them once for its kernel (ModelEnv.kernel): a version
 * with evidence uses its own entry; any other uses the nearest version that has one and says so in
 * the prediction's notes ("extrapolated").
 *
 * Adding what an experiment found on another kernel is one entry in a rule's `byVersion`, with the
 * experiment as its evidence. Every rule has 6.18 evidence (docs/stock-rules.md, measured on this
 * machine's 6.18.44) and 6.1 evidence (the same experiments in the guest of vm:debian-6.1, Debian's
 * 6.1.192 under qemu: docs/stock-rules/*-6.1.txt, scripts/stock-rules-vm.ts), each with the source
 * of that kernel that explains it.
 */
import type { Filesystem } from '../scenario/schema'

/** A kernel version as the model keys rules: major and minor ("6.18.44-fc-v657" → 6.18). */
export interface KernelVersion {
  major: number
  minor: number
}

/** major.minor of a kernel release string ("6.18.44-fc-v657", "6.1", "v6.1.192"), or null when it has none. */
export function parseKernel(release: string): KernelVersion | null {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+~_.].*)?$/.exec(release.trim())
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null
}

export const kernelKey = (v: KernelVersion): string => `${v.major}.${v.minor}`

/** What O_DIRECT does on a filesystem. */
export type DirectIo =
  /** around the page cache: cached folios of the range are invalidated, the data goes to disk */
  | 'direct'
  /** a buffered write (tmpfs has no direct I/O) */
  | 'buffered'
  /** no direct I/O at all: open(O_DIRECT) fails with EINVAL (no direct_IO in the mapping's address_space_operations) and nothing is written */
  | 'einval'
  /** btrfs: direct for a sector-aligned range, checksums or not; else a buffered write, written back and invalidated */
  | 'direct-if-aligned'
  /** btrfs: direct only for a nodatasum file and a sector-aligned range, else a buffered write, written back and invalidated */
  | 'direct-if-nodatasum'

/** The version-dependent rules, as values for one kernel. */
export interface KernelRules {
  /** Filesystems whose page cache takes large folios for one big buffered write. */
  largeFolioWrites: readonly Filesystem[]
  /** Filesystems whose readahead may read an uncached file into large folios (the kernel chooses: both worlds are allowed). */
  largeFolioReadahead: readonly Filesystem[]
  /** Files up to this many pages were read back by readahead in order-0 folios; larger ones may get large folios. */
  readaheadOrder0Pages: number
  /** The large folio (pages) readahead was seen to use above that: the model's second world (state.ts World.readaheadFolioPages). */
  readaheadLargeFolioPages: number
  /** What O_DIRECT does, per filesystem. */
  directIo: Readonly<Record<Filesystem, DirectIo>>
  /** Filesystems whose punch/zero range rounds the range out to pages (removes and zeroes whole pages). */
  punchRoundsOut: readonly Filesystem[]
  /** Filesystems that zero a punch's or zero range's partial edge block through the page cache, reading it in when it is not cached. */
  zeroesEdgesThroughCache: readonly Filesystem[]
  /** Filesystems whose zero range allocates the blocks past the old end of file before zeroing its partial edge blocks through the page cache (so those pages are read in too). */
  zeroRangeAllocatesEdges: readonly Filesystem[]
  /** Filesystems that zero the partial block at a truncate's new end through the page cache, reading it in when it is not cached. */
  truncateZeroesEdgeThroughCache: readonly Filesystem[]
  /** Filesystems whose truncate zeroes the new end's block through the page cache before it truncates the page cache (the straddling folio is dirty then). */
  truncateDirtiesEdgeFirst: readonly Filesystem[]
  /** Filesystems without FALLOC_FL_ZERO_RANGE (EOPNOTSUPP). */
  noZeroRange: readonly Filesystem[]
  /**
   * A splice of a tmpfs hole packs its zeros into the pipe's last buffer while that one has room
   * (true), or gives every file page of the hole a buffer of its own (false).
   */
  tmpfsHoleZerosPack: boolean
}

/** One rule's value for each kernel version that has evidence, with that evidence. */
export type Keyed<T> = Readonly<Record<string, { value: T; evidence: string }>>

const STOCK_RULES_618 = 'docs/stock-rules.md, measured on 6.18.44'
const STOCK_RULES_61 = 'docs/stock-rules.md, measured on 6.1.192 in the guest of vm:debian-6.1'

/** Every version-dependent rule, keyed by kernel version (major.minor). */
export const KERNEL_RULES: { readonly [K in keyof KernelRules]: Keyed<KernelRules[K]> } = {
  largeFolioWrites: {
    '6.1': {
      value: [],
      evidence: `${STOCK_RULES_61} section 1 (folios-6.1.txt: one write() gives order-0 folios on every filesystem; results-6.1.txt: every /ow experiment as its /pp twin): iomap_write_begin takes __filemap_get_folio() without an order (fs/iomap/buffered-io.c), and ext4 has no large folios before 6.16`,
    },
    '6.18': { value: ['ext4', 'xfs'], evidence: `${STOCK_RULES_618} section 1 (docs/stock-rules/folios-6.18.txt): iomap_get_folio() with fgf_set_order(len)` },
  },
  largeFolioReadahead: {
    '6.1': {
      value: ['xfs'],
      evidence: `${STOCK_RULES_61} section 1 (results-6.1.txt pwrite-uncached: xfs adds one folio for a 4-page file, ext4 four pages; vm-matrix uncached-file: 1 addition for 2 pages of an 8-page xfs file): page_cache_ra_order (mm/readahead.c) reads order-2 folios into a mapping with large folio support (xfs_inode_alloc sets it, fs/xfs/xfs_icache.c), order 0 elsewhere`,
    },
    '6.18': { value: ['ext4', 'xfs'], evidence: `${STOCK_RULES_618} section 1: order-2 folios for ext4 and xfs files read back above 640 pages` },
  },
  readaheadOrder0Pages: {
    '6.1': {
      value: 3,
      evidence: `${STOCK_RULES_61} section 1 (folios-6.1.txt): page_cache_ra_order (mm/readahead.c) never makes a folio past the end of file and skips order 1, so a file of up to 3 pages is read in order 0; from 4 pages the first read of the file starts a readahead window of at least 4 pages in order-2 folios`,
    },
    '6.18': { value: 512, evidence: `${STOCK_RULES_618} section 1: order 0 observed for files up to 640 pages read back` },
  },
  readaheadLargeFolioPages: {
    '6.1': { value: 4, evidence: `${STOCK_RULES_61} section 1: page_cache_ra_order starts at order 0 + 2 (mm/readahead.c); pwrite-uncached and uncached-file on xfs add one folio for the first 4 pages` },
    '6.18': { value: 4, evidence: `${STOCK_RULES_618} section 1: order-2 folios for files read back above 640 pages` },
  },
  directIo: {
    '6.1': {
      value: { tmpfs: 'einval', ext4: 'direct', xfs: 'direct', btrfs: 'direct-if-aligned' },
      evidence: `${STOCK_RULES_61} section 4 (results-6.1.txt odirect-write: tmpfs "O_DIRECT open: Invalid argument", btrfs intact with a page-cache deletion like ext4 and xfs; inputs-6.1.txt): shmem_aops has no direct_IO before 6.6, so do_dentry_open (fs/open.c) refuses O_DIRECT; btrfs_direct_write (fs/btrfs/file.c) falls back to a buffered write only when check_direct_IO finds the range unaligned, checksums or not`,
    },
    '6.18': {
      value: { tmpfs: 'buffered', ext4: 'direct', xfs: 'direct', btrfs: 'direct-if-nodatasum' },
      evidence: `${STOCK_RULES_618} section 4 and section 12 (docs/stock-rules/inputs-6.18.txt: nodatasum with a 4 KiB write is direct, a 512-byte one falls back)`,
    },
  },
  punchRoundsOut: {
    '6.1': { value: ['xfs'], evidence: `${STOCK_RULES_61} section 3 (results-6.1.txt punch-partial: xfs removes the page and reads it back): xfs_flush_unmap_range rounds out to max(allocation unit, page)` },
    '6.18': { value: ['xfs'], evidence: `${STOCK_RULES_618} section 3: xfs_flush_unmap_range rounds out to pages` },
  },
  zeroesEdgesThroughCache: {
    '6.1': { value: ['ext4', 'btrfs'], evidence: `${STOCK_RULES_61} section 12 (inputs-6.1.txt): ext4_zero_partial_blocks after truncate_pagecache_range (ext4_punch_hole, fs/ext4/inode.c), btrfs_truncate_block (btrfs_punch_hole)` },
    '6.18': { value: ['ext4', 'btrfs'], evidence: `${STOCK_RULES_618} section 12 (inputs-6.18.txt: an unaligned edge of an uncached file is read in; an edge on an ext4 block boundary is not)` },
  },
  zeroRangeAllocatesEdges: {
    '6.1': { value: ['ext4'], evidence: `${STOCK_RULES_61} section 12 (inputs-6.1.txt): ext4_zero_range (fs/ext4/extents.c) preallocates the unaligned edges (ext4_alloc_file_blocks) before ext4_zero_partial_blocks` },
    '6.18': {
      value: ['ext4'],
      evidence: `${STOCK_RULES_618} section 12: zero range 1+1 of an empty ext4 file, then a splice: no page-cache addition (ext4_zero_range: ext4_alloc_file_blocks, then ext4_zero_partial_blocks); btrfs adds the page on the splice`,
    },
  },
  truncateZeroesEdgeThroughCache: {
    '6.1': { value: ['ext4', 'xfs'], evidence: `${STOCK_RULES_61} section 12 (inputs-6.1.txt truncate-edge): ext4_setattr → ext4_truncate → ext4_block_truncate_page; xfs_setattr_size → xfs_truncate_page` },
    '6.18': { value: ['ext4', 'xfs'], evidence: `${STOCK_RULES_618} section 12 (inputs-6.18.txt truncate-edge: ext4 and xfs read the page in, btrfs does not)` },
  },
  truncateDirtiesEdgeFirst: {
    '6.1': { value: ['xfs'], evidence: `${STOCK_RULES_61} section 13: xfs_setattr_size (fs/xfs/xfs_iops.c) calls xfs_truncate_page before truncate_setsize; ext4_setattr truncates the page cache first (only a large folio shows it: on 6.1, one xfs gets from readahead)` },
    '6.18': {
      value: ['xfs'],
      evidence: `${STOCK_RULES_618} section 13: a truncate into a clean large folio the pipe holds keeps it cached on xfs (xfs_truncate_page before truncate_setsize) and removes it on ext4 (truncate_pagecache before ext4_truncate)`,
    },
  },
  noZeroRange: {
    '6.1': { value: ['tmpfs'], evidence: `${STOCK_RULES_61} section 7 (returns-6.1.txt: fallocate zero range on tmpfs → EOPNOTSUPP): shmem_fallocate (mm/shmem.c) takes only KEEP_SIZE and PUNCH_HOLE` },
    '6.18': { value: ['tmpfs'], evidence: `${STOCK_RULES_618} section 3: shmem_fallocate has no FALLOC_FL_ZERO_RANGE` },
  },
  tmpfsHoleZerosPack: {
    '6.1': {
      value: true,
      evidence: `${STOCK_RULES_61} section 14 (preset tmpfs-hole-packs; explore seed 2911 on fix-6.1, and vm:debian-6.1: a splice of 4096 bytes from offset 84 of a punched 8 KiB file into a one-page pipe returned 4096): shmem has no splice_read of its own, generic_file_splice_read gives shmem_file_read_iter an ITER_PIPE iterator, which fills a hole with iov_iter_zero (mm/shmem.c) → pipe_zero → append_pipe (lib/iov_iter.c), which adds to the last buffer while i->last_offset says it has room (a buffer append_pipe made, or under the fix's policies one own_page_to_iter_pipe made) before it needs a free slot`,
    },
    '6.18': {
      value: false,
      evidence: `${STOCK_RULES_618} section 14 (preset tmpfs-hole-packs: the same splice returned 4012): shmem_file_splice_read (mm/shmem.c) puts one ZERO_PAGE buffer per file page of a hole (splice_zeropage_into_pipe)`,
    },
  },
}

/** The rules for one kernel, and what the model says about where they come from. */
export interface ResolvedRules {
  rules: KernelRules
  /** One line per version the rules were taken from when it is not the kernel's own (empty when every rule has evidence for it). */
  notes: string[]
}

const distance = (a: KernelVersion, b: KernelVersion): number => Math.abs((a.major - b.major) * 1000 + (a.minor - b.minor))

/** The entry of `keyed` for `v`, else the nearest version's (the newer one on a tie). */
function pick<T>(keyed: Keyed<T>, v: KernelVersion): { key: string; value: T } {
  let best: { key: string; value: T; d: number; kv: KernelVersion } | null = null
  for (const [key, entry] of Object.entries(keyed)) {
    const kv = parseKernel(key)!
    const d = distance(kv, v)
    const newer = best !== null && (kv.major > best.kv.major || (kv.major === best.kv.major && kv.minor > best.kv.minor))
    if (!best || d < best.d || (d === best.d && newer)) best = { key, value: entry.value, d, kv }
  }
  return { key: best!.key, value: best!.value }
}

/** Resolves every rule for `kernel` (a release string; one the model cannot read is treated as unknown: the newest evidence). */
export function resolveRules(kernel: string): ResolvedRules {
  const v = parseKernel(kernel) ?? { major: Infinity, minor: 0 }
  const own = Number.isFinite(v.major) ? kernelKey(v) : kernel
  const rules = {} as Record<keyof KernelRules, unknown>
  const from = new Map<string, string[]>()
  for (const name of Object.keys(KERNEL_RULES) as (keyof KernelRules)[]) {
    const { key, value } = pick(KERNEL_RULES[name] as Keyed<unknown>, v)
    rules[name] = value
    if (key !== own) from.set(key, [...(from.get(key) ?? []), name])
  }
  const notes = [...from].map(([key, names]) => `kernel ${own}: no evidence for this kernel; rules extrapolated from ${key} (${names.join(', ')})`)
  return { rules: rules as KernelRules, notes }
}
