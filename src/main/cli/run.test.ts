import { describe, it, expect } from 'vitest'
import { parseFsList } from './run'

describe('splice-lab run --fs', () => {
  it('takes a comma-separated list of known filesystems, without duplicates', () => {
    expect(parseFsList('tmpfs,ext4, xfs,btrfs,ext4')).toEqual(['tmpfs', 'ext4', 'xfs', 'btrfs'])
  })
  it('names an unknown filesystem', () => {
    expect(() => parseFsList('tmpfs,zfs')).toThrow('--fs: unknown filesystem "zfs" (expected tmpfs, ext4, xfs, btrfs)')
    expect(() => parseFsList(',')).toThrow('--fs: give at least one filesystem')
  })
})
