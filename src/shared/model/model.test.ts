import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseScenarioText, validateScenario, type Scenario, type ScenarioInput, type Filesystem } from '../scenario'
import { POLICIES, type OpPrediction, type Policy } from '../results'
import { FILESYSTEMS } from '../vocabulary'
import { KERNEL_RULES, defaultEnv, parseKernel, predict, predictAll, resolveRules } from '.'
import { oneWriteFolios } from './folios'

function scenario(input: Omit<ScenarioInput, 'name'> & { name?: string }): Scenario {
  const r = validateScenario({ name: 'test', ...input }, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

const drains = (ops: OpPrediction[]): OpPrediction[] => ops.filter((o) => o.op === 'drain')
const lastDrain = (s: Scenario, policy: Policy, fs: Filesystem = 'ext4') => {
  const d = drains(predict(s, policy, defaultEnv(fs)).ops).at(-1)!
  expect(d.outcomes).toHaveLength(1)
  return d.outcomes[0]!.drain!
}

const writeAfterSplice = (extra: Partial<ScenarioInput['files'] extends (infer F)[] | undefined ? F : never> = {}) =>
  scenario({
    files: [{ id: 'f', size: '4p', ...extra }],
    pipes: [{ id: 'p' }],
    ops: [
      { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
      { op: 'pwrite', file: 'f', offset: 100, len: 200 },
      { op: 'drain', pipe: 'p' },
    ],
  })

describe('the seed cases', () => {
  it('write after splice: stock shows the write, byte for byte; steal-or-copy and copy do not', () => {
    const s = writeAfterSplice()
    expect(lastDrain(s, 'stock')).toEqual({ read: 4096, changedBytes: 200, changed: [{ start: 100, end: 300, holds: 'current' }] })
    expect(lastDrain(s, 'steal-or-copy').changedBytes).toBe(0)
    expect(lastDrain(s, 'copy').changedBytes).toBe(0)
  })

  it('store through a shared mapping: 99 of 100 bytes differ (one pattern byte equals the fill)', () => {
    const s = scenario({
      files: [{ id: 'f', size: '4p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'mmap', file: 'f' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'mmap_store', file: 'f', offset: 200, len: 100 },
        { op: 'drain', pipe: 'p' },
      ],
    })
    expect(lastDrain(s, 'stock')).toEqual({ read: 4096, changedBytes: 99, changed: [{ start: 200, end: 279, holds: 'current' }, { start: 280, end: 300, holds: 'current' }] })
    const soc = predict(s, 'steal-or-copy', defaultEnv('ext4'))
    expect(soc.ops[1]!.pages).toEqual({ shared: 0, stolen: 0, copied: 1 })
    expect(soc.ops[1]!.notes.join()).toMatch(/mapped/)
  })

  it('fallocate punch inside a spliced page zeroes it in place, except on xfs which drops the page', () => {
    const s = scenario({
      files: [{ id: 'f', size: '4p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' },
        { op: 'punch_hole', file: 'f', offset: 1000, len: 2000 },
        { op: 'drain', pipe: 'p' },
      ],
    })
    for (const fs of ['tmpfs', 'ext4', 'btrfs'] as const) expect(lastDrain(s, 'stock', fs).changed).toEqual([{ start: 1000, end: 3000, holds: 'zero' }])
    expect(lastDrain(s, 'stock', 'xfs').changedBytes).toBe(0)
  })

  it('vmsplice then modify the buffer: stock shows it; gift lets steal-or-copy steal', () => {
    const mk = (gift: boolean) =>
      scenario({
        buffers: [{ id: 'b', size: '4p' }],
        pipes: [{ id: 'p' }],
        ops: [
          { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'p', gift },
          { op: 'buf_store', buffer: 'b', offset: 100, len: 200 },
          { op: 'drain', pipe: 'p' },
        ],
      })
    expect(lastDrain(mk(false), 'stock').changedBytes).toBe(199)
    expect(lastDrain(mk(true), 'stock').changedBytes).toBe(199)
    const gifted = predict(mk(true), 'steal-or-copy', defaultEnv('ext4'))
    expect(gifted.ops[0]!.pages).toEqual({ shared: 0, stolen: 1, copied: 0 })
    expect(gifted.ops[0]!.stats.vmspliceStole).toBe(1)
    expect(gifted.ops[1]!.notes.join()).toMatch(/zero page/)
    const plain = predict(mk(false), 'steal-or-copy', defaultEnv('ext4'))
    expect(plain.ops[0]!.stats).toMatchObject({ vmspliceStole: 0, vmspliceCopied: 1 })
  })
})

describe('steal-or-copy rules (RFC)', () => {
  const steal = (s: Scenario, fs: Filesystem = 'ext4') => predict(s, 'steal-or-copy', defaultEnv(fs)).ops[0]!
  it('steals a clean, unmapped, whole order-0 page and counts a page-cache deletion', () => {
    const op = steal(writeAfterSplice())
    expect(op.pages).toEqual({ shared: 0, stolen: 1, copied: 0 })
    expect(op.stats.filemapMoved).toBe(1)
    expect(op.tracepoints['filemap:mm_filemap_delete_from_page_cache']).toEqual({ min: 1, max: 1 })
  })
  it('reloads a stolen page when it is written again (a page-cache addition)', () => {
    const p = predict(writeAfterSplice(), 'steal-or-copy', defaultEnv('ext4'))
    expect(p.ops[1]!.reloads).toBe(1)
  })
  it('copies a dirty page', () => expect(steal(writeAfterSplice({ state: 'dirty' })).notes.join()).toMatch(/dirty/))
  it('copies a page of a large folio', () => {
    const op = steal(writeAfterSplice({ layout: 'one_write' }))
    expect(op.pages.copied).toBe(1)
    expect(op.notes.join()).toMatch(/large folio/)
  })
  it('copies on tmpfs (no backing store to reload from)', () => expect(steal(writeAfterSplice(), 'tmpfs').pages.copied).toBe(1))
  it('copies a partly covered page', () => {
    const s = scenario({ files: [{ id: 'f', size: '4p' }], pipes: [{ id: 'p' }], ops: [{ op: 'splice', from: { file: 'f', offset: 100 }, to: { pipe: 'p' }, len: '1p' }] })
    expect(steal(s).pages).toEqual({ shared: 0, stolen: 0, copied: 2 })
  })
  it('copies a page another pipe buffer already holds', () => {
    const s = scenario({
      files: [{ id: 'f', size: '4p', cached: false }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
      ],
    })
    const p = predict(s, 'steal-or-copy', defaultEnv('xfs'))
    expect(p.ops[0]!.pages.stolen).toBe(1)
    // the stolen page left the cache: the second splice reloads it, and can steal the new one
    expect(p.ops[1]!.reloads).toBe(1)
    expect(p.ops[1]!.pages.stolen).toBe(1)
  })
  it('vmsplice copies without a gift, a partial page, or a shared buffer', () => {
    const s = scenario({
      buffers: [{ id: 'a', size: '2p', offset: 100 }, { id: 'b', size: '1p', kind: 'shared' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'vmsplice', buffer: 'a', offset: 0, len: '1p', pipe: 'p', gift: true },
        { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'p', gift: true },
      ],
    })
    const p = predict(s, 'steal-or-copy', defaultEnv('ext4'))
    expect(p.ops[0]!.pages).toEqual({ shared: 0, stolen: 0, copied: 2 })
    expect(p.ops[1]!.pages).toEqual({ shared: 0, stolen: 0, copied: 1 })
  })
  it('vmsplice copies the shared zero page: a dropped page read since, not written', () => {
    const s = (store: boolean) =>
      scenario({
        buffers: [{ id: 'b', size: '2p' }],
        pipes: [{ id: 'p' }],
        ops: [
          { op: 'madvise_dontneed', buffer: 'b', offset: 0, len: '2p' },
          ...(store ? [{ op: 'buf_store' as const, buffer: 'b', offset: 0, len: 1 }] : []),
          { op: 'vmsplice', buffer: 'b', offset: 0, len: '2p', pipe: 'p', gift: true },
        ],
      })
    const plain = predict(s(false), 'steal-or-copy', defaultEnv('ext4')).ops.at(-1)!
    expect(plain.stats).toMatchObject({ vmspliceCopied: 2, vmspliceStole: 0 })
    expect(plain.notes.join()).toMatch(/zero page/)
    // a store gives page 0 a page of the process's own again: stolen; page 1 is still the zero page
    expect(predict(s(true), 'steal-or-copy', defaultEnv('ext4')).ops.at(-1)!.stats).toMatchObject({ vmspliceCopied: 1, vmspliceStole: 1 })
    // a page stolen by one vmsplice and vmspliced again before a store is the zero page too
    const twice = scenario({
      buffers: [{ id: 'b', size: '1p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'p', gift: true },
        { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'p', gift: true },
      ],
    })
    const p = predict(twice, 'steal-or-copy', defaultEnv('ext4'))
    expect(p.ops.map((o) => o.stats.vmspliceStole)).toEqual([1, 0])
    expect(p.ops[1]!.stats.vmspliceCopied).toBe(1)
  })
  it('btrfs: a page the splice read from disk is stolen, or copied while btrfs still holds its read', () => {
    const s = scenario({ files: [{ id: 'f', size: '4p', cached: false }], pipes: [{ id: 'p' }], ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' }] })
    const op = predict(s, 'steal-or-copy', defaultEnv('btrfs')).ops[0]!
    expect(op.stats).toMatchObject({ filemapMoved: 2, filemapCopied: 0 })
    expect(op.statsRange).toMatchObject({ filemapMoved: { min: 0, max: 2 }, filemapCopied: { min: 0, max: 2 } })
    expect(op.tracepoints['filemap:mm_filemap_delete_from_page_cache']).toEqual({ min: 0, max: 2 })
    // a cached page, and any page on ext4, is stolen: exactly
    expect(predict(s, 'steal-or-copy', defaultEnv('ext4')).ops[0]!.statsRange).toBeUndefined()
    expect(predict(writeAfterSplice(), 'steal-or-copy', defaultEnv('btrfs')).ops[0]!.statsRange).toBeUndefined()
  })
  it('a tmpfs hole is neither stolen nor copied: no page-cache page is involved', () => {
    const s = scenario({
      files: [{ id: 'f', size: '2p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'punch_hole', file: 'f', offset: 0, len: '1p' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' },
      ],
    })
    for (const policy of ['steal-or-copy', 'copy'] as const) {
      const op = predict(s, policy, defaultEnv('tmpfs')).ops[1]!
      // page 0 is the hole, page 1 a tmpfs page (copied: shmem has no backing store)
      expect(op.stats).toMatchObject({ filemapCopied: 1, filemapMoved: 0 })
      expect(op.pages).toEqual({ shared: 0, stolen: 0, copied: 1 })
    }
  })
  it('a partial edge a punch or zero range zeroes through the page cache is dirty: copied, not stolen', () => {
    const s = (fs: Filesystem, offset: number) =>
      predict(
        scenario({
          files: [{ id: 'f', size: '2p' }],
          pipes: [{ id: 'p' }],
          ops: [
            { op: 'punch_hole', file: 'f', offset, len: 1024 },
            { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' },
          ],
        }),
        'steal-or-copy',
        defaultEnv(fs, 4096, undefined, { kernel: '6.1' }),
      ).ops[1]!
    for (const fs of ['ext4', 'btrfs'] as const) {
      expect(s(fs, 1024).stats, fs).toMatchObject({ filemapCopied: 1, filemapMoved: 1 })
      expect(s(fs, 1024).notes.join(), fs).toMatch(/dirty/)
    }
    // an edge on a block boundary (ext4 with 1 KiB blocks) is not zeroed: nothing dirties the page
    const blocks1k = predict(
      scenario({
        mount: { ext4: { block_size: 1024 } },
        files: [{ id: 'f', size: '2p' }],
        pipes: [{ id: 'p' }],
        ops: [
          { op: 'punch_hole', file: 'f', offset: 1024, len: 1024 },
          { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' },
        ],
      }),
      'steal-or-copy',
      defaultEnv('ext4', 4096, undefined, { kernel: '6.1' }),
    ).ops[1]!
    expect(blocks1k.stats).toMatchObject({ filemapCopied: 0, filemapMoved: 2 })
  })
  it('a raced page the model steals may be copied: the other task can hold its lock or reference', () => {
    const s = scenario({
      files: [{ id: 'f', size: '8p', cached: false }],
      pipes: [{ id: 'p' }],
      ops: [
        {
          op: 'race',
          ops: [
            { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '4p' },
            { op: 'punch_hole', file: 'f', offset: '2p', len: '2p' },
          ],
        },
      ],
    })
    const op = predict(s, 'steal-or-copy', defaultEnv('ext4')).ops[0]!
    expect(op.stats).toMatchObject({ filemapMoved: 4, filemapCopied: 0 })
    // pages 0 and 1 are not raced: stolen; pages 2 and 3 stolen or copied
    expect(op.statsRange).toMatchObject({ filemapMoved: { min: 2, max: 4 }, filemapCopied: { min: 0, max: 2 } })
    expect(predict(s, 'copy', defaultEnv('ext4')).ops[0]!.statsRange).toBeUndefined()
  })
})

describe('stock rules from the kernel experiments (docs/stock-rules.md)', () => {
  const run = (fs: Filesystem, layout: 'per_page' | 'one_write', ops: ScenarioInput['ops'], size = '4p') =>
    lastDrain(scenario({ files: [{ id: 'f', size, layout }], pipes: [{ id: 'p' }], ops }), 'stock', fs)
  const splice = (off: string | number, len: string) => ({ op: 'splice' as const, from: { file: 'f', offset: off }, to: { pipe: 'p' }, len })
  const drain = { op: 'drain' as const, pipe: 'p' }

  it('folio layout of one write() on ext4/xfs', () => {
    expect(oneWriteFolios(100 * 4096, 4096)).toEqual([64, 32, 4])
    expect(oneWriteFolios(7 * 4096, 4096)).toEqual([4, 2, 1])
    expect(oneWriteFolios(1024 * 4096, 4096)).toEqual([512, 512])
    expect(oneWriteFolios(3 * 4096 + 100, 4096)).toEqual([2, 1, 1])
  })
  it('a whole-page punch keeps an order-0 page intact but zeroes it inside a large folio', () => {
    const ops = [splice(0, '2p'), { op: 'punch_hole' as const, file: 'f', offset: '1p', len: '1p' }, drain]
    expect(run('ext4', 'per_page', ops).changedBytes).toBe(0)
    expect(run('ext4', 'one_write', ops).changed).toEqual([{ start: 4096, end: 8192, holds: 'zero' }])
    expect(run('xfs', 'one_write', ops).changed).toEqual([{ start: 4096, end: 8192, holds: 'zero' }])
    expect(run('btrfs', 'one_write', ops).changedBytes).toBe(0)
  })
  it('xfs zeroes the whole page of a large folio for a partial punch (outward rounding)', () => {
    const ops = [splice(0, '2p'), { op: 'punch_hole' as const, file: 'f', offset: 1000, len: 2000 }, drain]
    expect(run('xfs', 'one_write', ops).changed).toEqual([{ start: 0, end: 4096, holds: 'zero' }])
  })
  it('truncate zeroes to the end of the straddling folio', () => {
    const ops = [splice(0, '2p'), { op: 'truncate' as const, file: 'f', size: 1000 }, drain]
    expect(run('ext4', 'per_page', ops).changed).toEqual([{ start: 1000, end: 4096, holds: 'zero' }])
    expect(run('ext4', 'one_write', ops).changed).toEqual([{ start: 1000, end: 8192, holds: 'zero' }])
  })
  it('O_DIRECT goes around the page cache on ext4/xfs and through it on tmpfs/btrfs', () => {
    const ops = [splice(0, '2p'), { op: 'odirect_write' as const, file: 'f', offset: 0, len: '1p' }, drain]
    expect(run('ext4', 'per_page', ops).changedBytes).toBe(0)
    expect(run('xfs', 'per_page', ops).changedBytes).toBe(0)
    expect(run('tmpfs', 'per_page', ops).changedBytes).toBe(4080)
    expect(run('btrfs', 'per_page', ops).changedBytes).toBe(4080)
  })
  it('zero range fails on tmpfs with EOPNOTSUPP', () => {
    const s = scenario({ files: [{ id: 'f', size: '4p' }], pipes: [{ id: 'p' }], ops: [{ op: 'zero_range', file: 'f', offset: 0, len: '1p' }] })
    expect(predict(s, 'stock', defaultEnv('tmpfs')).ops[0]!.outcomes).toEqual([{ ret: -1, errno: 'EOPNOTSUPP' }])
  })
  it('fadvise DONTNEED cannot evict the spliced page: the later write still shows', () => {
    const ops = [splice(0, '1p'), { op: 'fadvise_dontneed' as const, file: 'f' }, { op: 'pwrite' as const, file: 'f', offset: 100, len: 200 }, drain]
    expect(run('ext4', 'per_page', ops).changedBytes).toBe(200)
  })
  it('private buffers: a store after fork or MADV_DONTNEED does not reach the pipe; shared ones do', () => {
    for (const [kind, then, changed] of [
      ['private', { op: 'fork', store: 'parent', buffer: 'b', offset: 100, len: 200 }, 0],
      ['private', { op: 'fork', store: 'child', buffer: 'b', offset: 100, len: 200 }, 0],
      ['shared', { op: 'fork', store: 'child', buffer: 'b', offset: 100, len: 200 }, 200],
      ['private', { op: 'madvise_dontneed', buffer: 'b', offset: 0, len: '1p' }, 0],
      ['shared', { op: 'madvise_dontneed', buffer: 'b', offset: 0, len: '1p' }, 199],
    ] as const) {
      const s = scenario({
        buffers: [{ id: 'b', size: '4p', kind }],
        pipes: [{ id: 'p' }],
        ops: [{ op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'p' }, then, ...(then.op === 'madvise_dontneed' ? [{ op: 'buf_store' as const, buffer: 'b', offset: 100, len: 200 }] : []), drain],
      })
      expect(lastDrain(s, 'stock').changedBytes, `${kind} ${then.op}`).toBe(changed)
    }
  })
  it('madvise with a start that is not page aligned fails with EINVAL and drops nothing (kernel, random scenario r19)', () => {
    // the buffer starts 100 bytes into its page: offset 0 is not page aligned, offset 3996 (1p - 100) is
    for (const [offset, want] of [[0, { ret: -1, errno: 'EINVAL' }], [3996, { ret: 0, errno: null }]] as const) {
      const s = scenario({
        buffers: [{ id: 'b', size: '3p', kind: 'private', offset: 100 }],
        pipes: [{ id: 'p' }],
        ops: [{ op: 'madvise_dontneed', buffer: 'b', offset, len: '1p' }],
      })
      for (const policy of POLICIES) expect(predict(s, policy, defaultEnv('ext4')).ops[0]!.outcomes, `${policy} ${offset}`).toEqual([want])
    }
  })
  it('xfs reads the unaligned edge of a punch back into the page cache: the next splice adds nothing (kernel, random scenario r8)', () => {
    const s = scenario({
      files: [{ id: 'f', size: '2p' }],
      pipes: [{ id: 'p', size: '4p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'punch_hole', file: 'f', offset: 0, len: 1 },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'drain', pipe: 'p' },
      ],
    })
    const add = (fs: Filesystem) => predict(s, 'stock', defaultEnv(fs)).ops[2]!.tracepoints['filemap:mm_filemap_add_to_page_cache']
    expect(add('xfs')).toEqual({ min: 0, max: 0 })
    // ext4 zeroes the byte in place (the page never leaves), so the pipe's first page shows it
    expect(add('ext4')).toEqual({ min: 0, max: 0 })
    expect(predict(s, 'stock', defaultEnv('xfs')).ops[3]!.outcomes[0]!.drain!.changedBytes).toBe(0)
    expect(predict(s, 'stock', defaultEnv('ext4')).ops[3]!.outcomes[0]!.drain!.changedBytes).toBe(1)
  })
  it('O_DIRECT on btrfs (buffered fallback) writes back and evicts pages the pipe does not hold; fadvise on dirty pages races (kernel, random scenario r20)', () => {
    const s = scenario({
      files: [{ id: 'f', size: '2p', state: 'dirty' }],
      pipes: [{ id: 'p', size: '4p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'odirect_write', file: 'f', offset: 0, len: '2p' },
        { op: 'drain', pipe: 'p' },
        { op: 'splice', from: { file: 'f', offset: '1p' }, to: { pipe: 'p' }, len: '1p' },
        { op: 'fadvise_dontneed', file: 'f' },
        { op: 'pwrite', file: 'f', offset: 0, len: '1p' },
        { op: 'fadvise_dontneed', file: 'f' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
      ],
    })
    const p = predict(s, 'stock', defaultEnv('btrfs'))
    // the pipe's page stayed cached and took the write in place; page 1 was evicted and reloads
    expect(p.ops[2]!.outcomes[0]!.drain!.changedBytes).toBeGreaterThan(0)
    expect(p.ops[3]!.tracepoints['filemap:mm_filemap_add_to_page_cache']).toEqual({ min: 1, max: 1 })
    // page 0 was dirty at the second fadvise: evicted or not, depending on writeback
    expect(p.ops[7]!.tracepoints['filemap:mm_filemap_add_to_page_cache']).toEqual({ min: 0, max: 1 })
    // ext4 invalidates both pages (the pipe's too): page 1 reloads, readahead may bring page 0
    expect(predict(s, 'stock', defaultEnv('ext4')).ops[3]!.tracepoints['filemap:mm_filemap_add_to_page_cache']).toEqual({ min: 1, max: 2 })
  })
  it('ext4 and btrfs read an uncached partial edge in to zero it: the next splice adds nothing (kernel, random scenario 11/1)', () => {
    const s = scenario({
      files: [{ id: 'f', size: 7, cached: false }],
      pipes: [{ id: 'p', size: '4p' }],
      ops: [
        { op: 'punch_hole', file: 'f', offset: 0, len: 1 },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: 1 },
      ],
    })
    for (const fs of ['ext4', 'btrfs', 'xfs'] as const)
      expect(predict(s, 'stock', defaultEnv(fs)).ops[1]!.tracepoints['filemap:mm_filemap_add_to_page_cache'], fs).toEqual({ min: 0, max: 0 })
  })
  it('a splice stops at the end of file and when the pipe has no free slot', () => {
    const s = scenario({
      files: [{ id: 'f', size: '3p+100' }],
      pipes: [{ id: 'p', size: '2p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: 100 }, to: { pipe: 'p' }, len: '3p' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'drain', pipe: 'p' },
        { op: 'splice', from: { file: 'f', offset: '3p' }, to: { pipe: 'p' }, len: '1p' },
        { op: 'splice', from: { file: 'f', offset: '4p' }, to: { pipe: 'p' }, len: '1p' },
      ],
    })
    const o = predict(s, 'stock', defaultEnv('ext4')).ops.map((x) => x.outcomes[0]!.ret)
    expect(o).toEqual([8092, -1, 8092, 100, 0])
  })
})

describe('inputs the model cannot know', () => {
  const uncachedPunch = (pages: number) =>
    scenario({
      files: [{ id: 'f', size: `${pages}p`, cached: false }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: '4p' }, to: { pipe: 'p' }, len: '4p' },
        { op: 'punch_hole', file: 'f', offset: '5p', len: '1p' },
        { op: 'drain', pipe: 'p' },
      ],
    })
  const drainOutcomes = (s: Scenario, fs: Filesystem) => drains(predict(s, 'stock', defaultEnv(fs)).ops)[0]!.outcomes.map((o) => o.drain!.changedBytes)
  it('allows both outcomes when readahead picks the folio size of a large uncached file (ext4, xfs)', () => {
    expect(drainOutcomes(uncachedPunch(600), 'xfs').sort()).toEqual([0, 4096])
    expect(drainOutcomes(uncachedPunch(600), 'ext4').sort()).toEqual([0, 4096])
  })
  it('predicts one outcome where the folio size is known (small files observed order 0, tmpfs and btrfs)', () => {
    expect(drainOutcomes(uncachedPunch(64), 'xfs')).toEqual([0])
    expect(drainOutcomes(uncachedPunch(600), 'btrfs')).toEqual([0])
    expect(drainOutcomes(uncachedPunch(600), 'tmpfs')).toEqual([0])
  })
})

describe('repeat', () => {
  it('aggregates counts over iterations and keeps the distinct outcomes', () => {
    const s = scenario({
      files: [{ id: 'f', size: '16p' }],
      pipes: [{ id: 'p', size: '16p' }],
      ops: [
        {
          op: 'repeat',
          times: 10,
          body: [
            { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '16p' },
            { op: 'pwrite', file: 'f', offset: '3p', len: 10, pattern: { fill: 0x42 } },
            { op: 'drain', pipe: 'p' },
          ],
        },
      ],
    })
    const p = predict(s, 'stock', defaultEnv('ext4'))
    expect(p.ops.map((o) => o.path)).toEqual(['ops[0].body[0]', 'ops[0].body[1]', 'ops[0].body[2]'])
    expect(p.ops[0]!.iterations).toBe(10)
    expect(p.ops[0]!.pages.shared).toBe(160)
    expect(p.ops[0]!.tracepoints['syscalls:sys_enter_splice']).toEqual({ min: 10, max: 10 })
    // first pass: 10 bytes change; later passes write 0x42 over 0x42: nothing changes
    expect(p.ops[2]!.outcomes.map((o) => o.drain!.changedBytes).sort()).toEqual([0, 10])
    expect(p.totals.changedBytes).toBe(10)
  })
  it('predicts a million iterations from the steady state: the counts of every pass, exactly', () => {
    const s = scenario({
      files: [{ id: 'f', size: '4p' }],
      pipes: [{ id: 'p', size: '4p' }],
      ops: [
        {
          op: 'repeat',
          times: 1_000_000,
          body: [
            { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' },
            { op: 'pwrite', file: 'f', offset: 100, len: 10, pattern: { fill: 0x42 } },
            { op: 'drain', pipe: 'p' },
            { op: 'pwrite', file: 'f', offset: 100, len: 10, pattern: { seq: 1 } },
          ],
        },
      ],
    })
    const p = predict(s, 'stock', defaultEnv('ext4'))
    expect(p.ops.map((o) => o.iterations)).toEqual([1e6, 1e6, 1e6, 1e6])
    expect(p.ops[0]!.pages.shared).toBe(2e6)
    expect(p.ops[0]!.tracepoints['syscalls:sys_enter_splice']).toEqual({ min: 1e6, max: 1e6 })
    // every pass shows the 10 bytes written over the page the pipe holds, and writes them back
    expect(p.ops[2]!.outcomes).toEqual([{ ret: 8192, errno: null, drain: { read: 8192, changedBytes: 10, changed: [{ start: 100, end: 110, holds: 'current' }] } }])
    expect(p.totals.changedBytes).toBe(1e7)
    const soc = predict(s, 'steal-or-copy', defaultEnv('ext4'))
    // the first pass steals both pages; from then on page 0 is dirty (copied) and page 1 stolen and reloaded
    expect(soc.ops[0]!.pages).toEqual({ shared: 0, stolen: 1e6 + 1, copied: 1e6 - 1 })
  })
})

/**
 * Bytes a stock reader sees changed over the whole preset, on tmpfs, ext4, xfs and btrfs: what the
 * 6.18 kernel showed for every preset (test/integration/run.test.ts holds the model to it op by op).
 * A new preset needs its row here.
 */
const STOCK_CHANGED_BYTES: Record<string, [number, number, number, number]> = {
  // totals are those of the race's first world (the splice reads every page first); its allowed set: race.test.ts
  'control-write-after-drain': [0, 0, 0, 0],
  'control-write-other-page': [0, 0, 0, 0],
  'dirty-page-write': [200, 200, 200, 200],
  'fadvise-dirty-readahead': [0, 0, 0, 0],
  'fadvise-dirty-steal': [200, 200, 200, 200],
  'fadvise-dontneed': [200, 200, 200, 200],
  'fallocate-zero-length': [0, 0, 0, 0],
  'fault-read-around': [0, 0, 0, 0],
  'fork-by-write-then-vmsplice': [997, 997, 997, 997],
  'fork-child-stores': [0, 0, 0, 0],
  'fork-parent-stores': [0, 0, 0, 0],
  'fork-shared-mapping': [99, 99, 99, 99],
  'fork-then-vmsplice-store': [0, 0, 0, 0],
  'fsync-then-write': [200, 200, 200, 200],
  'large-folio-split-fails': [600, 200, 200, 600],
  'large-folio-split-frees-page': [0, 0, 0, 0],
  'madvise-then-vmsplice': [8067, 8067, 8067, 8067],
  'mmap-empty-file': [0, 0, 0, 0],
  'mmap-read-fault': [0, 0, 0, 0],
  'mmap-store-mapped-after': [99, 99, 99, 99],
  'mmap-store-mapped-before': [99, 99, 99, 99],
  'multi-page-unaligned': [120, 120, 120, 120],
  'odirect-nodatasum': [4592, 0, 0, 512],
  'odirect-write': [4080, 0, 0, 4080],
  'pipe-close': [0, 0, 0, 0],
  'punch-edge-block-size': [0, 0, 0, 0],
  'punch-hole-large-folio': [0, 4096, 4096, 0],
  'punch-hole-partial': [2000, 2000, 0, 2000],
  'punch-hole-whole-page': [0, 0, 0, 0],
  'punch-partial-block-eof': [0, 0, 0, 0],
  'punch-past-eof': [0, 0, 0, 0],
  'punch-past-eof-in-pipe': [100, 0, 0, 100],
  'readahead-caches-ahead': [0, 0, 0, 0],
  'splice-pipe-to-file': [0, 0, 0, 0],
  'splice-to-file-overlap': [0, 0, 0, 0],
  'store-past-truncated-end': [10, 10, 10, 10],
  'streaming-1gib': [4177920, 4177920, 4177920, 4177920],
  'streaming-readonly': [0, 0, 0, 0],
  'tee-full-output': [0, 0, 0, 0],
  'tee-then-write': [400, 400, 400, 400],
  'tmpfs-hole-zero-page': [0, 1, 1, 1],
  'tmpfs-hole-packs': [0, 0, 0, 0],
  'truncate-folio-reread': [0, 0, 0, 0],
  'truncate-partial': [3096, 3096, 3096, 3096],
  'truncate-same-size': [0, 0, 0, 0],
  'truncate-then-write': [0, 0, 0, 0],
  'truncate-uncached-edge': [0, 0, 0, 0],
  'uncached-file': [200, 200, 200, 200],
  'vmsplice-gift': [199, 199, 199, 199],
  'vmsplice-gift-twice': [0, 0, 0, 0],
  'vmsplice-madvise-dontneed': [0, 0, 0, 0],
  'vmsplice-munmap': [0, 0, 0, 0],
  'vmsplice-shared-buffer': [199, 199, 199, 199],
  'vmsplice-then-store': [199, 199, 199, 199],
  'vmsplice-unaligned': [10, 10, 10, 10],
  'whitlock-punch-after-splice': [6192, 6192, 0, 6192],
  'whitlock-punch-race': [0, 0, 0, 0],
  'write-after-splice': [200, 200, 200, 200],
  'write-other-process': [199, 199, 199, 199],
  'zero-range': [0, 4096, 0, 4096],
  'zero-range-edge-reread': [0, 0, 0, 0],
  'zero-range-extend-empty': [0, 0, 0, 0],
  'zero-range-keep-size': [0, 50, 0, 50],
  'zero-range-large-folio-leaves': [0, 0, 0, 0],
  'zero-range-past-eof': [0, 0, 0, 0],
}

describe('every preset under every policy and filesystem', () => {
  const dir = new URL('../../../resources/scenarios/', import.meta.url)
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
  const pagesIn = (p: { pages: { shared: number; stolen: number; copied: number } }) => p.pages.shared + p.pages.stolen + p.pages.copied

  it('knows the kernel outcome of every preset', () => {
    expect(files.map((f) => f.replace(/\.yaml$/, '')).sort()).toEqual(Object.keys(STOCK_CHANGED_BYTES).sort())
  })
  for (const file of files) {
    const name = file.replace(/\.yaml$/, '')
    it(`${name}: stock shows the bytes the kernel showed; steal-or-copy and copy show none; every policy moves the same pages`, () => {
      const r = parseScenarioText(readFileSync(new URL(file, dir), 'utf8'), file, 4096)
      if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
      FILESYSTEMS.forEach((fs, k) => {
        const all = predictAll(r.scenario, defaultEnv(fs))
        expect(all.stock.totals.changedBytes, `${fs} stock`).toBe(STOCK_CHANGED_BYTES[name]?.[k])
        expect(all.stock.totals.pages, `${fs} stock shares`).toMatchObject({ stolen: 0, copied: 0 })
        expect(all.copy.totals.pages, `${fs} copy copies`).toMatchObject({ shared: 0, stolen: 0 })
        for (const policy of POLICIES) {
          const p = all[policy]
          expect(p.ops.map((o) => o.path)).toEqual(all.stock.ops.map((o) => o.path))
          for (const op of p.ops) expect(op.outcomes.length, `${fs} ${policy} ${op.path}`).toBeGreaterThan(0)
          if (policy !== 'stock') expect(p.totals.changedBytes, `${fs} ${policy}`).toBe(0)
          expect(pagesIn(p.totals), `${fs} ${policy} pages into the pipe`).toBe(pagesIn(all.stock.totals))
        }
      })
    })
  }
})

describe('the kernel and the mount options are inputs', () => {
  it('reads major.minor from a kernel release', () => {
    expect(parseKernel('6.18.44-fc-v657')).toEqual({ major: 6, minor: 18 })
    expect(parseKernel('6.1')).toEqual({ major: 6, minor: 1 })
    expect(parseKernel('v6.1.192')).toEqual({ major: 6, minor: 1 })
    expect(parseKernel('banana')).toBeNull()
  })
  it('has evidence for 6.18 and 6.1; another kernel gets the nearest evidence and is told so', () => {
    expect(resolveRules('6.18.44-fc-v657').notes).toEqual([])
    expect(resolveRules('6.1.192').notes).toEqual([])
    for (const rule of Object.values(KERNEL_RULES)) {
      expect(Object.keys(rule).sort()).toEqual(['6.1', '6.18'])
      for (const entry of Object.values(rule)) expect(entry.evidence).toMatch(/docs\/stock-rules/)
    }
    const names = Object.keys(KERNEL_RULES).join(', ')
    // 6.6 is nearer 6.1, 6.12 nearer 6.18
    expect(resolveRules('6.6.30').rules).toEqual(resolveRules('6.1').rules)
    expect(resolveRules('6.6.30').notes).toEqual([`kernel 6.6: no evidence for this kernel; rules extrapolated from 6.1 (${names})`])
    expect(resolveRules('6.12').rules).toEqual(resolveRules('6.18').rules)
    expect(resolveRules('6.12').notes).toEqual([`kernel 6.12: no evidence for this kernel; rules extrapolated from 6.18 (${names})`])
    const s = writeAfterSplice()
    expect(predict(s, 'stock', defaultEnv('ext4', 4096, undefined, { kernel: '6.6' })).notes).toEqual(resolveRules('6.6').notes)
    expect(predict(s, 'stock', defaultEnv('ext4', 4096, undefined, { kernel: '6.1' })).notes).toBeUndefined()
    expect(predict(s, 'stock', defaultEnv('ext4')).notes).toBeUndefined()
  })

  const odirect = (mount: ScenarioInput['mount'], len: number | string) =>
    scenario({
      mount,
      files: [{ id: 'f', size: '4p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'odirect_write', file: 'f', offset: 0, len },
        { op: 'drain', pipe: 'p' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
      ],
    })
  const changedAndAdds = (s: Scenario, fs: Filesystem) => {
    const p = predict(s, 'stock', defaultEnv(fs))
    return [p.ops[2]!.outcomes[0]!.drain!.changedBytes, p.ops[3]!.tracepoints['filemap:mm_filemap_add_to_page_cache']!.max]
  }
  it('btrfs nodatasum: a sector-aligned O_DIRECT write goes around the page cache, a 512-byte one falls back (docs/stock-rules.md section 12)', () => {
    expect(changedAndAdds(odirect({ btrfs: { nodatasum: true } }, '1p'), 'btrfs')).toEqual([0, 1])
    expect(changedAndAdds(odirect({ btrfs: { nodatasum: true } }, 512), 'btrfs')).toEqual([510, 0])
    expect(changedAndAdds(odirect({}, '1p'), 'btrfs')).toEqual([4080, 0])
    // the btrfs entry does not change ext4
    expect(changedAndAdds(odirect({ btrfs: { nodatasum: true } }, 512), 'ext4')).toEqual([0, 1])
    // the environment's mount options win over the scenario's
    const env = { ...defaultEnv('btrfs'), mount: { btrfs: { nodatasum: false } } }
    expect(predict(odirect({ btrfs: { nodatasum: true } }, '1p'), 'stock', env).ops[2]!.outcomes[0]!.drain!.changedBytes).toBe(4080)
  })
  it('6.1: tmpfs has no O_DIRECT (EINVAL, nothing written); checksummed btrfs writes an aligned range directly (docs/stock-rules.md section 4)', () => {
    const env61 = (fs: Filesystem) => defaultEnv(fs, 4096, undefined, { kernel: '6.1.192' })
    const tmpfs = predict(odirect({}, '1p'), 'stock', env61('tmpfs'))
    expect(tmpfs.ops[1]!.outcomes).toEqual([{ ret: -1, errno: 'EINVAL' }])
    expect(tmpfs.ops[2]!.outcomes[0]!.drain!.changedBytes).toBe(0)
    const at = (s: Scenario, fs: Filesystem) => {
      const p = predict(s, 'stock', env61(fs))
      return [p.ops[2]!.outcomes[0]!.drain!.changedBytes, p.ops[3]!.tracepoints['filemap:mm_filemap_add_to_page_cache']!.max]
    }
    expect(at(odirect({}, '1p'), 'btrfs')).toEqual([0, 1])
    expect(at(odirect({}, 512), 'btrfs')).toEqual([510, 0])
    expect(at(odirect({ btrfs: { nodatasum: true } }, '1p'), 'btrfs')).toEqual([0, 1])
    // 6.18 keeps its own rules
    expect(predict(odirect({}, '1p'), 'stock', defaultEnv('tmpfs')).ops[1]!.outcomes).toEqual([{ ret: 4096, errno: null }])
  })
  it('6.1: one write() makes order-0 folios on ext4 and xfs, so a whole-page punch removes the page the pipe holds (docs/stock-rules.md section 1)', () => {
    const s = scenario({
      files: [{ id: 'f', size: '16p', layout: 'one_write' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'splice', from: { file: 'f', offset: '4p' }, to: { pipe: 'p' }, len: '4p' },
        { op: 'punch_hole', file: 'f', offset: '5p', len: '1p' },
        { op: 'drain', pipe: 'p' },
      ],
    })
    for (const fs of ['ext4', 'xfs'] as const) {
      expect(predict(s, 'stock', defaultEnv(fs, 4096, undefined, { kernel: '6.1' })).ops[2]!.outcomes[0]!.drain!.changedBytes, `${fs} 6.1`).toBe(0)
      expect(predict(s, 'stock', defaultEnv(fs)).ops[2]!.outcomes[0]!.drain!.changedBytes, `${fs} 6.18`).toBe(4096)
    }
  })
  it('6.1: xfs readahead may read an uncached file of 4 pages or more in 4-page folios, never past the end of file (docs/stock-rules.md section 1)', () => {
    const s = (size: string) =>
      scenario({
        files: [{ id: 'f', size, cached: false }],
        pipes: [{ id: 'p' }],
        ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' }],
      })
    const adds = (size: string, fs: Filesystem, kernel = '6.1') => predict(s(size), 'stock', defaultEnv(fs, 4096, undefined, { kernel })).ops[0]!.tracepoints['filemap:mm_filemap_add_to_page_cache']
    // one 4-page folio (the kernel's choice when the read starts a readahead window) or two order-0 pages and readahead
    expect(adds('8p', 'xfs')).toEqual({ min: 1, max: 8 })
    expect(adds('3p', 'xfs')).toEqual({ min: 2, max: 3 })
    expect(adds('8p', 'ext4')).toEqual({ min: 2, max: 8 })
    expect(adds('8p', 'xfs', '6.18')).toEqual({ min: 2, max: 8 })
  })
  it('ext4 zeroes a partial edge through the page cache only off a block boundary (1 KiB blocks: an edge at 1024 reads nothing in)', () => {
    const punch = (blockSize: 1024 | 4096, offset: number) =>
      scenario({
        mount: { ext4: { block_size: blockSize } },
        files: [{ id: 'f', size: '2p', cached: false }],
        pipes: [{ id: 'p' }],
        ops: [
          { op: 'punch_hole', file: 'f', offset, len: 2048 - offset },
          { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        ],
      })
    const adds = (s: Scenario) => predict(s, 'stock', defaultEnv('ext4')).ops[1]!.tracepoints['filemap:mm_filemap_add_to_page_cache']
    expect(adds(punch(4096, 1024))).toEqual({ min: 0, max: 0 })
    expect(adds(punch(1024, 1000))).toEqual({ min: 0, max: 0 })
    // read at the splice, with readahead possibly bringing the second page
    expect(adds(punch(1024, 1024))).toEqual({ min: 1, max: 2 })
  })
  it('ext4 and xfs read an uncached page in to zero the block at a truncate\'s new end; btrfs does not', () => {
    const s = (blockSize: 1024 | 4096, size: number) =>
      scenario({
        mount: { ext4: { block_size: blockSize } },
        files: [{ id: 'f', size: '2p', cached: false }],
        pipes: [{ id: 'p' }],
        ops: [
          { op: 'truncate', file: 'f', size },
          { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        ],
      })
    const adds = (sc: Scenario, fs: Filesystem) => predict(sc, 'stock', defaultEnv(fs)).ops[1]!.tracepoints['filemap:mm_filemap_add_to_page_cache']!.max
    expect([adds(s(4096, 1000), 'ext4'), adds(s(4096, 1000), 'xfs'), adds(s(4096, 1000), 'btrfs')]).toEqual([0, 0, 1])
    // on a 1 KiB block boundary there is no partial block to zero
    expect([adds(s(1024, 1000), 'ext4'), adds(s(1024, 1024), 'ext4')]).toEqual([0, 1])
  })
  it('zero_range with keep_size leaves the size; without, it grows the file', () => {
    const s = scenario({
      files: [{ id: 'f', size: '2p+100' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'zero_range', file: 'f', offset: '2p+50', len: '2p', keep_size: true },
        { op: 'splice', from: { file: 'f', offset: '3p' }, to: { pipe: 'p' }, len: '1p' },
        { op: 'zero_range', file: 'f', offset: '2p+50', len: '2p' },
        { op: 'splice', from: { file: 'f', offset: '3p' }, to: { pipe: 'p' }, len: '1p' },
      ],
    })
    for (const fs of ['ext4', 'xfs', 'btrfs'] as const) expect(predict(s, 'stock', defaultEnv(fs)).ops.map((o) => o.outcomes[0]!.ret), fs).toEqual([0, 0, 0, 4096])
  })
  it('a dirty page fadvise started writing back is stolen or, while its writeback runs, copied — and then fadvise cannot evict it (fix-6.1, explore seed 2911)', () => {
    const fadvise = { op: 'fadvise_dontneed' as const, file: 'f' }
    const splice = (off: number, len: string) => ({ op: 'splice' as const, from: { file: 'f', offset: off }, to: { pipe: 'p' }, len })
    const s = scenario({
      files: [{ id: 'f', size: '1p', state: 'dirty' }],
      pipes: [{ id: 'p', size: '4p' }],
      ops: [splice(0, '1p'), fadvise, splice(0, '1p'), fadvise, splice(0, '1p')],
    })
    const ops = predict(s, 'steal-or-copy', defaultEnv('btrfs')).ops
    // dirty: copied; after fadvise: clean, stolen unless its writeback still runs
    expect(ops[0]!.stats).toMatchObject({ filemapCopied: 1, filemapMoved: 0 })
    expect(ops[2]!.statsRange).toMatchObject({ filemapCopied: { min: 0, max: 1 }, filemapMoved: { min: 0, max: 1 } })
    // a copy leaves it cached under writeback, where fadvise cannot evict it: read back or not
    expect(ops[4]!.tracepoints['filemap:mm_filemap_add_to_page_cache']).toEqual({ min: 0, max: 1 })
    expect(ops[4]!.statsRange).toMatchObject({ filemapCopied: { min: 0, max: 1 } })
    // a write dirties it again: copied
    const again = scenario({ ...s, ops: [fadvise, { op: 'pwrite', file: 'f', offset: 0, len: 1 }, splice(0, '1p')] })
    expect(predict(again, 'steal-or-copy', defaultEnv('ext4')).ops[2]!.stats).toMatchObject({ filemapCopied: 1, filemapMoved: 0 })
  })
  it('an mmap that read-faults caches and maps every page: fadvise cannot evict them and steal-or-copy copies them', () => {
    const s = scenario({
      files: [{ id: 'f', size: '4p', cached: false }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'mmap', file: 'f', fault: 'read' },
        { op: 'fadvise_dontneed', file: 'f' },
        { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '2p' },
      ],
    })
    const p = predict(s, 'stock', defaultEnv('ext4'))
    expect(p.ops[0]!.reloads).toBe(4)
    expect(p.ops[2]!.tracepoints['filemap:mm_filemap_add_to_page_cache']).toEqual({ min: 0, max: 0 })
    expect(predict(s, 'steal-or-copy', defaultEnv('ext4')).ops[2]!.pages).toEqual({ shared: 0, stolen: 0, copied: 2 })
  })
})

describe('rules found by explore (docs/stock-rules.md section 13)', () => {
  const rets = (s: Scenario, fs: Filesystem) => predict(s, 'stock', defaultEnv(fs)).ops.map((o) => o.outcomes.map((x) => x.errno ?? x.ret))
  const adds = (s: Scenario, fs: Filesystem, op: number) => predict(s, 'stock', defaultEnv(fs)).ops[op]!.tracepoints['filemap:mm_filemap_add_to_page_cache']!.max

  it('mmap of an empty file is EINVAL and leaves the file unmapped', () => {
    const s = scenario({
      files: [{ id: 'f', size: 0 }],
      pipes: [{ id: 'p' }],
      ops: [{ op: 'mmap', file: 'f' }, { op: 'mmap_store', file: 'f', offset: 0, len: 0 }, { op: 'munmap', file: 'f' }],
    })
    for (const fs of FILESYSTEMS) expect(rets(s, fs), fs).toEqual([['EINVAL'], ['ENXIO'], ['EINVAL']])
  })

  it('a store past the mapped length is refused (EFAULT) and a fork that would make it does not fork', () => {
    const s = scenario({
      files: [{ id: 'f', size: 1 }],
      buffers: [{ id: 'b', size: '1p', kind: 'private' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'mmap', file: 'f' },
        { op: 'mmap_store', file: 'f', offset: 0, len: 2 },
        { op: 'fork', store: 'child', file: 'f', offset: 0, len: 2 },
        { op: 'vmsplice', buffer: 'b', offset: 0, len: 100, pipe: 'p' },
        { op: 'buf_store', buffer: 'b', offset: 50, len: 10, pattern: { fill: 7 } },
        { op: 'drain', pipe: 'p' },
      ],
    })
    expect(rets(s, 'tmpfs').slice(0, 3)).toEqual([[0], ['EFAULT'], ['EFAULT']])
    // no fork happened: the private page is still the process's own and the store reaches the pipe
    expect(lastDrain(s, 'stock', 'tmpfs').changedBytes).toBe(10)
  })

  it('fallocate with a length of 0 is EINVAL before any filesystem check (tmpfs zero range too)', () => {
    const s = scenario({
      files: [{ id: 'f', size: '1p' }],
      pipes: [{ id: 'p' }],
      ops: [{ op: 'punch_hole', file: 'f', offset: 0, len: 0 }, { op: 'zero_range', file: 'f', offset: 0, len: 0 }, { op: 'zero_range', file: 'f', offset: 0, len: 1 }],
    })
    expect(rets(s, 'tmpfs')).toEqual([['EINVAL'], ['EINVAL'], ['EOPNOTSUPP']])
    expect(rets(s, 'xfs')).toEqual([['EINVAL'], ['EINVAL'], [0]])
  })

  it('tee from an empty pipe without writers: EAGAIN when the output is full, else 0', () => {
    const s = (outSize: string) =>
      scenario({
        buffers: [{ id: 'b', size: 32, kind: 'shared' }],
        pipes: [{ id: 'in' }, { id: 'out', size: outSize }],
        ops: [{ op: 'vmsplice', buffer: 'b', offset: 0, len: 10, pipe: 'out' }, { op: 'close', pipe: 'in', end: 'write' }, { op: 'tee', from: 'in', to: 'out', len: 100 }],
      })
    expect(rets(s('1p'), 'ext4')[2]).toEqual(['EAGAIN'])
    expect(rets(s('2p'), 'ext4')[2]).toEqual([0])
  })

  it('after any fork a store into a vmspliced private page copies it; without a fork it lands in the pipe', () => {
    const s = (fork: boolean) =>
      scenario({
        buffers: [{ id: 'other', size: 1, kind: 'shared' }, { id: 'b', size: '1p', kind: 'private' }],
        pipes: [{ id: 'p' }],
        ops: [
          ...(fork ? [{ op: 'fork' as const, store: 'parent' as const, buffer: 'other', offset: 0, len: 0 }] : []),
          { op: 'vmsplice', buffer: 'b', offset: 0, len: 100, pipe: 'p' },
          { op: 'buf_store', buffer: 'b', offset: 50, len: 10, pattern: { fill: 7 } },
          { op: 'drain', pipe: 'p' },
        ],
      })
    expect(lastDrain(s(true), 'stock').changedBytes).toBe(0)
    expect(lastDrain(s(false), 'stock').changedBytes).toBe(10)
  })

  it('xfs zeroes a range with no whole block through the page cache up to the old end of file', () => {
    const punch = scenario({
      files: [{ id: 'f', size: 1 }],
      pipes: [{ id: 'p' }],
      ops: [{ op: 'punch_hole', file: 'f', offset: 0, len: 1 }, { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' }],
    })
    expect(adds(punch, 'xfs', 1)).toBe(0)
    const grow = scenario({
      files: [{ id: 'f', size: 0 }],
      pipes: [{ id: 'p' }],
      ops: [{ op: 'zero_range', file: 'f', offset: 1, len: 1 }, { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: 4 }],
    })
    expect(rets(grow, 'xfs')[1]).toEqual([2])
    expect([adds(grow, 'xfs', 1), adds(grow, 'ext4', 1)]).toEqual([1, 0])
    // ext4: [0, 1) of an empty file is a partial block at the new end of file: read in too
    const first = scenario({ ...grow, ops: [{ op: 'zero_range', file: 'f', offset: 0, len: 1 }, grow.ops[1]!] })
    expect([adds(first, 'xfs', 1), adds(first, 'ext4', 1)]).toEqual([1, 0])
  })

  it('a clean large folio the pipe holds leaves the page cache when part of it is zeroed (the split fails)', () => {
    const s = (state: 'synced' | 'dirty') =>
      scenario({
        files: [{ id: 'f', size: '8p', layout: 'one_write', state }],
        pipes: [{ id: 'p', size: '2p' }],
        ops: [
          { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: 8 },
          { op: 'zero_range', file: 'f', offset: 16353, len: 1 },
          { op: 'splice', from: { file: 'f', offset: '7p' }, to: { pipe: 'p' }, len: 100 },
        ],
      })
    const least = (sc: Scenario, fs: Filesystem) => predict(sc, 'stock', defaultEnv(fs)).ops[2]!.tracepoints['filemap:mm_filemap_add_to_page_cache']!.min
    expect([least(s('synced'), 'ext4'), least(s('synced'), 'xfs')]).toEqual([1, 1])
    // a dirty folio stays on ext4; xfs writes the range back first, so it leaves there too
    expect([adds(s('dirty'), 'ext4', 2), least(s('dirty'), 'xfs')]).toEqual([0, 1])
  })

  it('a page after the ones a splice read from an uncached file may be cached by its readahead: 0 or 1 addition later', () => {
    const s = (evict: boolean) =>
      scenario({
        files: [{ id: 'f', size: '2p', cached: false }],
        pipes: [{ id: 'p', size: '4p' }],
        ops: [
          { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: 1 },
          ...(evict ? [{ op: 'fadvise_dontneed' as const, file: 'f', offset: '1p', len: '1p' }] : []),
          { op: 'splice', from: { file: 'f', offset: '1p' }, to: { pipe: 'p' }, len: '1p' },
        ],
      })
    const range = (sc: Scenario) => predict(sc, 'stock', defaultEnv('xfs')).ops.at(-1)!.tracepoints['filemap:mm_filemap_add_to_page_cache']
    expect(range(s(false))).toEqual({ min: 0, max: 1 })
    // evicted (if it was there): the read adds it for sure
    expect(range(s(true))).toEqual({ min: 1, max: 1 })
  })

  it('a truncate to the same size reads the last block in on ext4 and xfs', () => {
    const s = scenario({
      files: [{ id: 'f', size: 1, cached: false }],
      pipes: [{ id: 'p' }],
      ops: [{ op: 'truncate', file: 'f', size: 1 }, { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' }],
    })
    expect([adds(s, 'ext4', 1), adds(s, 'xfs', 1), adds(s, 'btrfs', 1)]).toEqual([0, 0, 1])
  })
})
