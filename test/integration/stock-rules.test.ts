/**
 * The kernel experiments behind docs/stock-rules.md, run for real: docs/stock-rules/run.sh builds
 * experiments.c and runs it on tmpfs and on ext4, xfs and btrfs loop devices (it unmounts and
 * detaches on every exit path). Each assertion is one rule of the document, so a kernel that stops
 * behaving as documented (and as the model's stock policy assumes) fails here by name.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')
const isRoot = process.getuid?.() === 0
const haveTools = ['gcc', 'mkfs.ext4', 'mkfs.xfs', 'mkfs.btrfs', 'losetup'].every((t) => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})
const canRun = isRoot && haveTools
if (process.env.CI === 'true' && !canRun) throw new Error('stock-rules experiments need root, gcc, mkfs.xfs and mkfs.btrfs on CI')

interface Seen {
  read: number
  changed: number
  ranges: string
  /** Page-cache tracepoints of this process: [additions, deletions] during the splice, then during the mutation. */
  splice: [number, number]
  after: [number, number]
  raw: string
}
type Results = Record<string, Record<string, Seen>>

function parse(text: string): Results {
  const out: Results = {}
  let fs = ''
  for (const line of text.split('\n')) {
    const header = /^== (\w+)/.exec(line)
    if (header) {
      fs = header[1]!
      out[fs] = {}
      continue
    }
    const m = /^(\S+)\s+read=(\d+)\S*\s+changed=(\d+)((?:\s+\d+-\d+:\w+|\s+\.\.\.)*)\s+\[splice \+(\d+) -(\d+), then \+(\d+) -(\d+)\]/.exec(line)
    if (m && fs) {
      const n = (i: number): number => Number(m[i])
      out[fs]![m[1]!] = { read: n(2), changed: n(3), ranges: m[4]!.trim(), splice: [n(5), n(6)], after: [n(7), n(8)], raw: line }
    }
  }
  return out
}

describe.skipIf(!canRun)('stock rules on this kernel (tmpfs, ext4, xfs, btrfs)', () => {
  let r: Results
  const FS = ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const
  const seen = (fs: string, name: string): Seen => {
    const s = r[fs]?.[name]
    if (!s) throw new Error(`no result for ${name} on ${fs}`)
    return s
  }

  beforeAll(() => {
    const text = execFileSync('bash', [join(root, 'docs/stock-rules/run.sh')], { encoding: 'utf8', timeout: 120_000 })
    r = parse(text)
    expect(Object.keys(r)).toEqual([...FS])
  })

  it('shows a pwrite after splice to the reader, byte for byte, on every filesystem and layout', () => {
    for (const fs of FS)
      for (const l of ['pp', 'ow']) {
        expect(seen(fs, `pwrite-after-splice/${l}`).ranges, fs).toBe('100-300:current')
        expect(seen(fs, `write-other-process/${l}`).changed, fs).toBe(199)
        expect(seen(fs, `pwrite-whole-page/${l}`).changed, `${fs}: pattern bytes equal to the fill do not count`).toBe(8160)
        expect(seen(fs, `fadvise-dontneed-then-pwrite/${l}`).changed, fs).toBe(200)
        expect(seen(fs, `tee-copy/${l}`).changed, fs).toBe(200)
        expect(seen(fs, `pwrite-other-page/${l}`).changed, fs).toBe(0)
        expect(seen(fs, `pwrite-after-drain/${l}`).changed, fs).toBe(0)
      }
  })

  it('keeps a removed order-0 page intact but zeroes partial pages in place (xfs removes the whole page)', () => {
    for (const fs of ['tmpfs', 'ext4', 'btrfs']) {
      expect(seen(fs, 'punch-whole-page/pp').changed, fs).toBe(0)
      expect(seen(fs, 'punch-partial/pp').ranges, fs).toBe('1000-3000:zero')
      expect(seen(fs, 'truncate-partial/pp').ranges, fs).toBe('1000-4096:zero')
    }
    expect(seen('xfs', 'punch-partial/pp').changed).toBe(0)
    expect(seen('xfs', 'truncate-partial/pp').ranges).toBe('1000-4096:zero')
  })

  it('zeroes a whole page in place inside a large folio (one write() on ext4 and xfs)', () => {
    for (const fs of ['ext4', 'xfs']) {
      expect(seen(fs, 'punch-whole-page/ow').ranges, fs).toBe('4096-8192:zero')
      expect(seen(fs, 'bigfile-punch-whole-page/ow').ranges, fs).toBe('4096-8192:zero')
      expect(seen(fs, 'truncate-partial/ow').ranges, fs).toBe('1000-8192:zero')
    }
    expect(seen('xfs', 'punch-partial/ow').ranges).toBe('0-4096:zero')
    for (const fs of ['tmpfs', 'btrfs']) expect(seen(fs, 'punch-whole-page/ow').changed, `${fs} stays order 0`).toBe(0)
  })

  it('goes around the page cache with O_DIRECT on ext4 and xfs, through it on tmpfs and btrfs', () => {
    expect(seen('ext4', 'odirect-write/pp').changed).toBe(0)
    expect(seen('xfs', 'odirect-write/pp').changed).toBe(0)
    expect(seen('tmpfs', 'odirect-write/pp').changed).toBe(4080)
    expect(seen('btrfs', 'odirect-write/pp').changed).toBe(4080)
  })

  it('shares vmspliced pages until munmap, MADV_DONTNEED (private) or a fork makes stores copy', () => {
    for (const fs of FS) {
      expect(seen(fs, 'vmsplice-store/private').changed).toBe(199)
      expect(seen(fs, 'vmsplice-gift-store/private').changed, 'gift changes nothing on stock').toBe(199)
      expect(seen(fs, 'vmsplice-munmap/private').changed).toBe(0)
      expect(seen(fs, 'vmsplice-madvise-then-store/private').changed).toBe(0)
      expect(seen(fs, 'vmsplice-madvise-then-store/shared').changed).toBe(199)
      expect(seen(fs, 'vmsplice-fork-child-stores/private').changed).toBe(0)
      expect(seen(fs, 'vmsplice-fork-parent-stores/private').changed).toBe(0)
      expect(seen(fs, 'vmsplice-fork-parent-stores/shared').changed).toBe(200)
    }
  })

  it('counts page-cache tracepoints per folio: removals, fadvise of the pages the pipe does not hold, readahead', () => {
    for (const fs of FS) {
      expect(seen(fs, 'punch-whole-page/pp').after[1], fs).toBe(1)
      expect(seen(fs, 'truncate-zero-then-write/pp').after[1], fs).toBe(4)
      expect(seen(fs, 'bigfile-truncate-whole-page/pp').after[1], fs).toBe(447)
    }
    for (const fs of ['ext4', 'xfs', 'btrfs']) {
      expect(seen(fs, 'fadvise-dontneed-then-pwrite/pp').after[1], `${fs}: the 3 pages the pipe does not hold`).toBe(3)
      expect(seen(fs, 'bigfile-fadvise-then-pwrite/pp').after[1], fs).toBe(508)
      expect(seen(fs, 'pwrite-uncached/pp').splice[0], `${fs}: readahead of the whole 4-page file`).toBe(4)
      expect(seen(fs, 'truncate-zero-then-write/pp').after[0], `${fs}: the write adds one page`).toBe(1)
    }
    expect(seen('tmpfs', 'truncate-zero-then-write/pp').after[0], 'shmem adds pages without the filemap tracepoint').toBe(0)
    expect(seen('ext4', 'odirect-write/pp').after[1]).toBe(1)
    expect(seen('xfs', 'odirect-write/pp').after[1]).toBe(1)
  })

  it('drains removed pages in full (no short read)', () => {
    for (const fs of FS) {
      expect(seen(fs, 'truncate-zero-then-write/pp').read).toBe(8192)
      expect(seen(fs, 'bigfile-truncate-whole-page/pp').read).toBe(16384)
    }
  })
})
