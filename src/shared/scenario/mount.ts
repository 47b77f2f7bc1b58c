/**
 * A scenario's mkfs/mount options (Scenario.mount) turned into what a scratch filesystem is made
 * with. Pure: the lab runs the commands (src/main/lab/scratch.ts), the model reads the same entry.
 * Every value here comes from the schema's enums and booleans, so the arguments need no quoting.
 */
import type { Filesystem, MountOptions } from './schema'

export interface ScratchSetup {
  /** Names the variant, for a mount point and for reuse: "ext4", "ext4-b1024", "btrfs-nodatasum". */
  variant: string
  /** Extra mkfs arguments (before the image path). */
  mkfsArgs: string[]
  /** Extra mount options (joined with commas after -o). */
  mountOptions: string[]
  /** The options in words, for notes and run records ("" when the defaults apply). */
  describe: string
}

/** The scratch setup of `fs` under a scenario's mount options (only that filesystem's entry counts). */
export function scratchSetup(fs: Filesystem, mount: MountOptions = {}): ScratchSetup {
  const setup: ScratchSetup = { variant: fs, mkfsArgs: [], mountOptions: [], describe: '' }
  if (fs === 'ext4' && mount.ext4 && mount.ext4.block_size !== 4096) {
    setup.mkfsArgs.push('-b', String(mount.ext4.block_size))
    setup.variant += `-b${mount.ext4.block_size}`
    setup.describe = `mkfs.ext4 -b ${mount.ext4.block_size}`
  }
  if (fs === 'btrfs' && mount.btrfs?.nodatasum) {
    setup.mountOptions.push('nodatasum')
    setup.variant += '-nodatasum'
    setup.describe = 'mount -o nodatasum'
  }
  return setup
}
