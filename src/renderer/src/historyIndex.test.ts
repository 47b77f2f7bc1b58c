import { describe, expect, it } from 'vitest'
import type { RunSummary } from '../../shared/api'
import { applyFilter, batches, cellKey, disagreementCount, emptyFilter, matrix } from './historyIndex'

const run = (id: string, o: Partial<RunSummary> & { at: string; secs?: number }): RunSummary => ({
  id,
  scenario: o.scenario ?? 'write-after-splice',
  title: o.title ?? 'Write after splice',
  startedAt: o.at,
  finishedAt: new Date(Date.parse(o.at) + (o.secs ?? 5) * 1000).toISOString(),
  target: o.target ?? 'local',
  kernel: o.kernel ?? '6.1.0',
  fs: o.fs ?? 'tmpfs',
  behavesLike: o.behavesLike === undefined ? 'stock' : o.behavesLike,
  disagreements: o.disagreements ?? { stock: 0, 'steal-or-copy': 2, copy: 3 },
  ...(o.error ? { error: o.error } : {}),
})

describe('history index', () => {
  const runs = [
    run('a', { at: '2026-11-29T10:00:00.000Z', fs: 'tmpfs' }),
    run('b', { at: '2026-11-29T10:00:06.000Z', fs: 'ext4' }),
    run('c', { at: '2026-11-29T10:00:12.000Z', fs: 'xfs', behavesLike: 'none', disagreements: { stock: 1, 'steal-or-copy': 2, copy: 4 } }),
    run('d', { at: '2026-11-29T12:00:00.000Z', fs: 'tmpfs', kernel: '6.18.0' }),
    run('e', { at: '2026-11-30T09:00:00.000Z', fs: 'tmpfs', behavesLike: null, error: 'probe crashed' }),
  ]

  it('filters by every field and by date', () => {
    expect(applyFilter(runs, { ...emptyFilter(), fs: 'tmpfs' }).map((r) => r.id)).toEqual(['a', 'd', 'e'])
    expect(applyFilter(runs, { ...emptyFilter(), verdict: 'none' }).map((r) => r.id)).toEqual(['c'])
    expect(applyFilter(runs, { ...emptyFilter(), verdict: 'failed' }).map((r) => r.id)).toEqual(['e'])
    expect(applyFilter(runs, { ...emptyFilter(), kernel: '6.18.0' }).map((r) => r.id)).toEqual(['d'])
    expect(applyFilter(runs, { ...emptyFilter(), from: '2026-11-30' }).map((r) => r.id)).toEqual(['e'])
    expect(applyFilter(runs, { ...emptyFilter(), to: '2026-11-29' }).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('groups runs made one after another on one target and kernel into batches, newest first', () => {
    expect(batches(runs).map((b) => b.runs.map((r) => r.id))).toEqual([['e'], ['d'], ['a', 'b', 'c']])
  })

  it('builds the scenario × kernel × filesystem matrix with the latest run per cell', () => {
    const later = run('f', { at: '2026-11-29T11:00:00.000Z', fs: 'ext4', behavesLike: 'copy' })
    const m = matrix([...runs, later])
    expect(m.kernels).toEqual([{ kernel: '6.1.0', fs: ['tmpfs', 'ext4', 'xfs'] }, { kernel: '6.18.0', fs: ['tmpfs'] }])
    expect(m.cells.get(cellKey('write-after-splice', '6.1.0', 'ext4'))?.id).toBe('f')
    expect(m.cells.get(cellKey('write-after-splice', '6.1.0', 'btrfs'))).toBeUndefined()
  })

  it('counts the verdict policy’s disagreements, or the fewest when no policy fits', () => {
    expect(disagreementCount(runs[0]!)).toBe(0)
    expect(disagreementCount(runs[2]!)).toBe(1)
  })
})
