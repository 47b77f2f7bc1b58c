/**
 * Scratch filesystems in a guest: tmpfs mounted inside it, ext4/xfs/btrfs from the disks the host
 * made (disks.ts), found by their serial. A guest that crashed and was rebooted has lost its mounts:
 * ensure() notices the new boot and mounts again.
 */
import { shellQuote } from '../quote'
import type { Filesystem } from '../../../shared/target'
import type { VmTarget } from './vm-target'
import { DISK_FILESYSTEMS, type DiskFilesystem } from './disks'
import { diskSerial } from './guest'

/** tmpfs size: as the host's scratch pool (scenarios are a few MiB). */
const TMPFS_SIZE = '256m'
const BASE = '/mnt/splice-lab-scratch'

export class VmScratchError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'VmScratchError'
  }
}

export class VmScratch {
  readonly base: string
  private readonly mounted = new Map<Filesystem, string>()
  /** The guest boot the mounts belong to. */
  private boot = 0
  private disposed = false

  constructor(
    private readonly target: VmTarget,
    id: string,
  ) {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new VmScratchError(`bad scratch id ${JSON.stringify(id)}`)
    this.base = `${BASE}-${id}`
  }

  /** The mount point for `fs` in the current guest, mounted on first use (again after a reboot). */
  async ensure(fs: Filesystem): Promise<string> {
    if (this.disposed) throw new VmScratchError('scratch already disposed')
    if (this.target.boots !== this.boot) {
      this.mounted.clear()
      this.boot = this.target.boots
    }
    const have = this.mounted.get(fs)
    if (have) return have
    const mnt = `${this.base}/${fs}`
    const m = shellQuote(mnt)
    let script: string
    if (fs === 'tmpfs') script = `mkdir -p -- ${m} && mount -t tmpfs -o size=${TMPFS_SIZE} splice-lab-scratch ${m}`
    else if ((DISK_FILESYSTEMS as readonly string[]).includes(fs)) {
      const facts = await this.target.facts()
      if (!facts.mkfs[fs as DiskFilesystem]) throw new VmScratchError(`${this.target.label} has no ${fs} disk (attach it with the VM's disks option)`)
      const serial = shellQuote(diskSerial(fs))
      script = [
        `dev=; for d in /sys/block/vd*; do [ "$(cat "$d/serial" 2>/dev/null)" = ${serial} ] && dev=/dev/\${d##*/}; done`,
        `[ -n "$dev" ] || { echo "no disk with serial ${diskSerial(fs)}"; exit 1; }`,
        `mkdir -p -- ${m}`,
        `mount -t ${fs} "$dev" ${m}`,
      ].join('; ')
      script = `( ${script} )`
    } else throw new VmScratchError(`no ${fs} scratch in a guest (tmpfs, ${DISK_FILESYSTEMS.join(', ')})`)
    const r = await this.target.exec(script, { timeoutMs: 120_000 })
    if (r.code !== 0) throw new VmScratchError(`could not mount the guest's ${fs} scratch: ${r.output.trim() || `exit ${r.code}`}`)
    await this.target.exec(`chmod 1777 ${m}`)
    this.mounted.set(fs, mnt)
    return mnt
  }

  /** Unmounts what this pool mounted in the current guest. Idempotent; returns a problem, never throws. */
  async dispose(): Promise<string | null> {
    if (this.disposed) return null
    this.disposed = true
    if (!this.mounted.size || this.target.boots !== this.boot) return null
    const script = `awk -v p=${shellQuote(this.base + '/')} 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done; rm -rf -- ${shellQuote(this.base)}`
    try {
      const r = await this.target.exec(script, { timeoutMs: 60_000 })
      return r.code === 0 ? null : `cleanup of ${this.base} in the guest reported: ${r.output.trim()}`
    } catch (e) {
      return `cleanup of ${this.base} in the guest failed: ${e instanceof Error ? e.message : String(e)}`
    }
  }
}
