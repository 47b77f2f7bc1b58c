import { describe, expect, it } from 'vitest'
import { scratchSetup } from './mount'

describe('scratchSetup', () => {
  it('uses the defaults when the scenario gives no options', () => {
    for (const fs of ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const)
      expect(scratchSetup(fs)).toEqual({ variant: fs, mkfsArgs: [], mountOptions: [], describe: '' })
  })

  it('applies only the entry of the filesystem the run is on', () => {
    const mount = { ext4: { block_size: 1024 as const }, btrfs: { nodatasum: true } }
    expect(scratchSetup('ext4', mount)).toEqual({ variant: 'ext4-b1024', mkfsArgs: ['-b', '1024'], mountOptions: [], describe: 'mkfs.ext4 -b 1024' })
    expect(scratchSetup('btrfs', mount)).toEqual({ variant: 'btrfs-nodatasum', mkfsArgs: [], mountOptions: ['nodatasum'], describe: 'mount -o nodatasum' })
    expect(scratchSetup('xfs', mount).variant).toBe('xfs')
    expect(scratchSetup('tmpfs', mount).variant).toBe('tmpfs')
  })

  it('treats the default block size and nodatasum: false as no option (one scratch mount serves both)', () => {
    expect(scratchSetup('ext4', { ext4: { block_size: 4096 } }).variant).toBe('ext4')
    expect(scratchSetup('btrfs', { btrfs: { nodatasum: false } }).variant).toBe('btrfs')
  })
})
