import { describe, it, expect } from 'vitest'
import { modelFs, ScratchPool, ScratchError } from './scratch'
import type { Target } from '../target/types'

describe('scratch', () => {
  it('maps statfs names to the filesystems the model knows, and nothing else', () => {
    expect(modelFs('tmpfs')).toBe('tmpfs')
    expect(modelFs('ext2/ext3\n')).toBe('ext4')
    expect(modelFs('xfs')).toBe('xfs')
    expect(modelFs('btrfs')).toBe('btrfs')
    expect(modelFs('nfs')).toBeNull()
    expect(modelFs('')).toBeNull()
  })

  it('refuses pool ids that could escape the scratch prefix', () => {
    const target = {} as Target
    for (const bad of ['../x', 'a b', '', 'x/y', "a'b"]) expect(() => new ScratchPool(target, bad)).toThrow(ScratchError)
    expect(new ScratchPool(target, 'run-1_a').base).toBe('/tmp/splice-lab-scratch-run-1_a')
  })
})
