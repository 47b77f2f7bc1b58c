/**
 * A scenario's mkfs/mount options (Scenario.mount) reach the scratch filesystem it runs on: ext4's
 * block size through mkfs, btrfs's nodatasum through mount; scenarios with different options get
 * different mounts, the same options share one, and everything is removed.
 */
import { describe, it, expect } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { connectTarget } from '../../src/main/target'
import { ScratchPool } from '../../src/main/lab/scratch'
import { leftovers, runSkipReason } from './fixtures/lab'

const skip = runSkipReason()

function mountOptions(dir: string): string[] {
  const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === dir)
  if (!line) throw new Error(`${dir} is not mounted`)
  return line.split(' ')[3]!.split(',')
}

describe.skipIf(skip !== null)(`scratch filesystems with a scenario's options${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('makes ext4 with 1 KiB blocks and btrfs with nodatasum, beside the default ones, and removes them all', async () => {
    const t = await connectTarget('local')
    const pool = new ScratchPool(t, `scratch-options-test-${process.pid}`)
    try {
      const ext4Default = await pool.ensure('ext4')
      const ext4Small = await pool.ensure('ext4', { ext4: { block_size: 1024 } })
      expect(ext4Small).not.toBe(ext4Default)
      expect(await pool.ensure('ext4', { ext4: { block_size: 1024 }, btrfs: { nodatasum: true } })).toBe(ext4Small)
      const blockSize = async (dir: string): Promise<string> => (await t.exec(`stat -f -c %S ${dir}`)).output.trim()
      expect(await blockSize(ext4Small)).toBe('1024')
      expect(await blockSize(ext4Default)).toBe('4096')

      const btrfsPlain = await pool.ensure('btrfs')
      const btrfsNoSum = await pool.ensure('btrfs', { btrfs: { nodatasum: true } })
      expect(mountOptions(btrfsNoSum)).toContain('nodatasum')
      expect(mountOptions(btrfsPlain)).not.toContain('nodatasum')
      // Options of another filesystem do not make a new mount.
      expect(await pool.ensure('btrfs', { ext4: { block_size: 1024 } })).toBe(btrfsPlain)
    } finally {
      expect(await pool.dispose()).toBeNull()
      await t.dispose()
    }
    expect(existsSync(pool.base)).toBe(false)
    expect(leftovers()).toEqual([])
  })
})
