/**
 * Scratch disks for a guest: ext4, xfs and btrfs images made on the host (the guest has no mkfs)
 * and attached as virtio-blk disks, each with a serial the guest finds it by (guest.ts).
 * One disk per scratch variant (scenario/mount.ts): an ext4 block size is chosen at mkfs time, and
 * a second mount of a mounted btrfs shares the first one's options, so nodatasum needs its own.
 */
import { execFile } from 'node:child_process'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { scratchSetup } from '../../../shared/scenario/mount'
import type { MountOptions } from '../../../shared/scenario/schema'

export const DISK_FILESYSTEMS = ['ext4', 'xfs', 'btrfs'] as const
export type DiskFilesystem = (typeof DISK_FILESYSTEMS)[number]

/** Image size: sparse, so it costs only what is written; xfsprogs refuses filesystems under 300 MB. */
export const DISK_BYTES = 512 << 20

/** mkfs per filesystem, as the host scratch pool makes them (ext4 without lazy init: no background zeroing while the probe measures). */
const MKFS: Record<DiskFilesystem, [string, ...string[]]> = {
  ext4: ['mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0'],
  xfs: ['mkfs.xfs', '-q', '-f'],
  btrfs: ['mkfs.btrfs', '-q', '-f'],
}

const PACKAGE: Record<DiskFilesystem, string> = { ext4: 'e2fsprogs', xfs: 'xfsprogs', btrfs: 'btrfs-progs' }

/** The mkfs/mount options each filesystem's disks are made for: one disk each (the schema's choices). */
const VARIANT_OPTIONS: Record<DiskFilesystem, MountOptions[]> = {
  ext4: [{}, { ext4: { block_size: 1024 } }, { ext4: { block_size: 2048 } }],
  xfs: [{}],
  btrfs: [{}, { btrfs: { nodatasum: true } }],
}

export interface DiskVariant {
  fs: DiskFilesystem
  /** scratchSetup's variant name ("ext4-b1024"): the scratch pool asks for a device by it. */
  variant: string
  mkfsArgs: string[]
}

/** Every disk a guest gets for the filesystems `kinds`. */
export function diskVariants(kinds: readonly DiskFilesystem[]): DiskVariant[] {
  return kinds.flatMap((fs) =>
    VARIANT_OPTIONS[fs].map((options) => {
      const setup = scratchSetup(fs, options)
      return { fs, variant: setup.variant, mkfsArgs: setup.mkfsArgs }
    }),
  )
}

export interface Disk extends DiskVariant {
  path: string
}

/** Makes a fresh image of a variant in `dir`. */
export async function makeDisk(dir: string, v: DiskVariant): Promise<Disk> {
  const { fs } = v
  const path = join(dir, `${v.variant}.img`)
  const f = await open(path, 'w')
  try {
    await f.truncate(DISK_BYTES)
  } finally {
    await f.close()
  }
  const [cmd, ...args] = MKFS[fs]
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, [...args, ...v.mkfsArgs, path], { timeout: 120_000, env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } }, (err, _out, stderr) => {
      if (!err) return resolve()
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
      reject(new Error(missing ? `cannot make the guest's ${fs} disk: no ${cmd} on this machine (apt install ${PACKAGE[fs]})` : `${cmd} failed: ${stderr.trim() || err.message}`))
    })
  })
  return { ...v, path }
}
