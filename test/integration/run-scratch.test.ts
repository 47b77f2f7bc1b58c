/**
 * Scratch filesystems of runs: made once per batch, of the filesystem asked for, and removed —
 * including what a crashed run left behind, found on the next connect.
 */
import { describe, it, expect } from 'vitest'
import { existsSync } from 'node:fs'
import { connectTarget } from '../../src/main/target'
import { ScratchPool, cleanStaleScratch, dirFilesystem } from '../../src/main/lab/scratch'
import { leftovers, runSkipReason } from './fixtures/lab'

const skip = runSkipReason()

describe.skipIf(skip !== null)(`scratch filesystems${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('mounts tmpfs, ext4, xfs and btrfs once each and removes them all', async () => {
    const t = await connectTarget('local')
    const pool = new ScratchPool(t, `scratch-test-${process.pid}`)
    try {
      const seen: Record<string, string> = {}
      for (const fs of ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const) {
        const dir = await pool.ensure(fs)
        expect(await pool.ensure(fs)).toBe(dir)
        seen[fs] = await dirFilesystem(t, dir)
      }
      expect(seen).toEqual({ tmpfs: 'tmpfs', ext4: 'ext4', xfs: 'xfs', btrfs: 'btrfs' })
    } finally {
      expect(await pool.dispose()).toBeNull()
      await t.dispose()
    }
    expect(existsSync(pool.base)).toBe(false)
    expect(leftovers()).toEqual([])
  })

  it('a crashed session leaves mounts behind; the next connect removes them, but not a live session’s', async () => {
    const crashed = await connectTarget('local')
    const live = await connectTarget('local')
    const stalePool = new ScratchPool(crashed, `stale-test-${process.pid}`)
    const livePool = new ScratchPool(live, `live-test-${process.pid}`)
    await stalePool.ensure('ext4')
    await livePool.ensure('tmpfs')
    // The session dies without cleaning up (as a crash would).
    await crashed.exec('kill -9 $$').catch(() => undefined)
    await crashed.dispose()
    const next = await connectTarget('local')
    try {
      const removed = await cleanStaleScratch(next)
      expect(removed).toContain(stalePool.base)
      expect(removed).not.toContain(livePool.base)
      expect(existsSync(stalePool.base)).toBe(false)
      expect(existsSync(livePool.base)).toBe(true)
    } finally {
      await livePool.dispose()
      await live.dispose()
      await next.dispose()
    }
    expect(leftovers()).toEqual([])
  })
})
