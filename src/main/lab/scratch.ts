/**
 * Scratch filesystems on a target: where a run's files live. Either a directory the person gives
 * (--dir), or, as root, a tmpfs and ext4, xfs and btrfs mounts made once per Lab (one per filesystem
 * for all the runs on a connected target, not per scenario: mkfs and mount cost seconds) and removed
 * when the Lab ends, whatever happens. The block filesystems are loop devices made here with mkfs,
 * or, on a target that supplies them (Target.scratchDevices: a VM's virtio disks made on the host),
 * its own devices, which are only mounted.
 *
 * Everything is made under /tmp/splice-lab-scratch-<id>/ with the pid of the session shell that
 * made it in an `owner` file, so the next connect finds what a crashed run left behind (owner gone)
 * and removes it, without touching the scratch of a run still going.
 */
import type { Target } from '../target/types'
import { shellQuote } from '../target/quote'
import type { BlockFilesystem, Filesystem } from '../../shared/vocabulary'
import type { MountOptions } from '../../shared/scenario/schema'
import { scratchSetup, type ScratchSetup } from '../../shared/scenario/mount'

export const SCRATCH_PREFIX = '/tmp/splice-lab-scratch-'
/** Loop image size: sparse, so it costs only what is written. xfs needs ≥ 300 MiB. */
const IMAGE_BYTES = 512 << 20
/** tmpfs size: scenarios are a few MiB; streaming ones stay far below this. */
const TMPFS_SIZE = '256m'

export class ScratchError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScratchError'
  }
}

const MKFS: Record<BlockFilesystem, string> = {
  // lazy init off: no background zeroing thread writing while the probe measures.
  ext4: 'mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0',
  xfs: 'mkfs.xfs -q -f',
  btrfs: 'mkfs.btrfs -q -f',
}

/** Unmounts, detaches and removes scratch left by sessions that no longer exist. Returns what it removed. */
export async function cleanStaleScratch(target: Target): Promise<string[]> {
  const script = `
for d in ${SCRATCH_PREFIX}*/; do
  [ -d "$d" ] || continue
  d=\${d%/}
  owner=$(cat "$d/owner" 2>/dev/null)
  if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then continue; fi
  awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for img in "$d"/*.img; do [ -e "$img" ] || continue; losetup -j "$img" 2>/dev/null | cut -d: -f1 | while read -r dev; do losetup -d "$dev" 2>/dev/null; done; done
  rm -rf -- "$d" && echo "$d"
done
true`
  const r = await target.exec(script, { root: true, timeoutMs: 60_000 })
  return r.output.split('\n').filter(Boolean)
}

/** Maps `stat -f -c %T` names to the filesystems the model knows. */
export function modelFs(statName: string): Filesystem | null {
  switch (statName.trim()) {
    case 'tmpfs':
      return 'tmpfs'
    case 'ext2/ext3':
    case 'ext4':
      return 'ext4'
    case 'xfs':
      return 'xfs'
    case 'btrfs':
      return 'btrfs'
    default:
      return null
  }
}

/** Checks a directory can hold a run: exists, writable (as root, permissions alone prove nothing: try it). */
export async function checkWritable(target: Target, dir: string): Promise<void> {
  const probe = `${dir}/.splice-lab-write-test-${Date.now()}`
  const r = await target.exec(`mkdir -p -- ${shellQuote(dir)} && : > ${shellQuote(probe)} && rm -f -- ${shellQuote(probe)}`)
  if (r.code !== 0) throw new ScratchError(`scratch directory ${dir} is not writable: ${r.output.trim() || `exit ${r.code}`}`)
}

/**
 * The filesystem type of the mount holding `dir`, from the mount table (findmnt -T; `stat -f` where
 * util-linux is missing). A directory that does not exist, or is not a directory, is an error that
 * says so (not "an unknown filesystem").
 */
export async function dirFilesystem(target: Target, dir: string): Promise<string> {
  const q = shellQuote(dir)
  const r = await target.exec(
    // A subshell: `exit` in the session's own shell would end the session.
    `(if [ ! -e ${q} ]; then echo missing; exit 3; elif [ ! -d ${q} ]; then echo notdir; exit 4; fi; findmnt -n -o FSTYPE -T ${q} 2>/dev/null || stat -f -c %T -- ${q})`,
  )
  if (r.code === 3) throw new ScratchError(`scratch directory ${dir} does not exist on ${target.label}`)
  if (r.code === 4) throw new ScratchError(`${dir} is not a directory on ${target.label}`)
  if (r.code !== 0) throw new ScratchError(`cannot stat scratch directory ${dir}: ${r.output.trim()}`)
  return r.output.trim()
}

/** The scratch mounts of one batch of runs. dispose() removes them all, on every path. */
export class ScratchPool {
  readonly base: string
  /** Mount points by variant ("ext4", "ext4-b1024"): runs with the same options share one. */
  private readonly mounted = new Map<string, Promise<string>>()
  private created: Promise<void> | null = null
  private disposed = false

  constructor(
    private readonly target: Target,
    id: string,
  ) {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new ScratchError(`bad scratch id ${JSON.stringify(id)}`)
    this.base = `${SCRATCH_PREFIX}${id}`
  }

  /**
   * The mount point for `fs` made with a scenario's mkfs/mount options (Scenario.mount), made on
   * first use; runs that ask at the same time share one mount.
   */
  ensure(fs: Filesystem, options: MountOptions = {}): Promise<string> {
    if (this.disposed) return Promise.reject(new ScratchError('scratch pool already disposed'))
    const setup = scratchSetup(fs, options)
    let mount = this.mounted.get(setup.variant)
    if (!mount) {
      mount = this.mount(fs, setup)
      this.mounted.set(setup.variant, mount)
      mount.catch(() => this.mounted.delete(setup.variant))
    }
    return mount
  }

  /**
   * Forgets what was mounted without touching the target: after it rebooted (a crashed VM) nothing
   * of it is there any more, and the next run makes it again.
   */
  forget(): void {
    this.mounted.clear()
    this.created = null
  }

  private async mount(fs: Filesystem, setup: ScratchSetup): Promise<string> {
    const facts = await this.target.facts()
    if (!facts.root && !facts.sudo) throw new ScratchError(`making a ${fs} scratch mount needs root or passwordless sudo on ${this.target.label}; give a directory with --dir instead`)
    const devices = fs === 'tmpfs' ? undefined : await this.target.scratchDevices?.()
    const device = devices?.[setup.variant]
    if (devices && !device) throw new ScratchError(`${this.target.label} has no ${setup.variant} scratch disk (its disks: ${Object.keys(devices).join(', ') || 'none'})`)
    if (fs !== 'tmpfs' && !device && !facts.mkfs[fs]) throw new ScratchError(`cannot make a ${fs} scratch filesystem on ${this.target.label}: losetup or mkfs.${fs} is missing (install ${fs === 'ext4' ? 'e2fsprogs' : fs === 'xfs' ? 'xfsprogs' : 'btrfs-progs'})`)
    this.created ??= this.createBase()
    await this.created
    const mnt = `${this.base}/${setup.variant}`
    const r = await this.target.exec(mountScript(fs, setup, this.base, device), { root: true, timeoutMs: 120_000 })
    const what = setup.describe ? `${fs} scratch filesystem (${setup.describe})` : `${fs} scratch filesystem`
    if (r.code !== 0) throw new ScratchError(`could not make the ${what}: ${r.output.trim() || `exit ${r.code}`}`)
    // Runs as root write here; let a non-root probe write too.
    await this.target.exec(`chmod 1777 ${shellQuote(mnt)}`, { root: true })
    return mnt
  }

  private async createBase(): Promise<void> {
    const b = shellQuote(this.base)
    // The owner is the session shell ($$ of the eval'd command is the session's bash).
    const r = await this.target.exec(`mkdir -p -- ${b} && echo $$ > ${b}/owner`, { root: true })
    if (r.code !== 0) {
      this.created = null
      throw new ScratchError(`cannot create ${this.base}: ${r.output.trim()}`)
    }
  }

  /** Unmounts, detaches and removes everything under base. Idempotent; errors are reported, not thrown. */
  async dispose(): Promise<string | null> {
    if (this.disposed) return null
    this.disposed = true
    if (!this.created) return null
    await this.created.catch(() => undefined)
    await Promise.allSettled(this.mounted.values())
    const b = shellQuote(this.base)
    const script = `
awk -v p=${shellQuote(this.base + '/')} 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
for img in ${b}/*.img; do [ -e "$img" ] || continue; losetup -j "$img" | cut -d: -f1 | while read -r dev; do losetup -d "$dev"; done; done
rm -rf -- ${b}`
    try {
      const r = await this.target.exec(script, { root: true, timeoutMs: 60_000 })
      return r.code === 0 ? null : `cleanup of ${this.base} reported: ${r.output.trim()}`
    } catch (e) {
      return `cleanup of ${this.base} failed: ${e instanceof Error ? e.message : String(e)} (the next connect removes it)`
    }
  }
}

/** A script (run as root) that mounts a fresh `fs` at <base>/<variant>: tmpfs, a given device, or a new loop image. */
function mountScript(fs: Filesystem, setup: ScratchSetup, base: string, device: string | undefined): string {
  const m = shellQuote(`${base}/${setup.variant}`)
  if (fs === 'tmpfs') return `mkdir -p -- ${m} && mount -t tmpfs -o size=${TMPFS_SIZE} splice-lab-scratch ${m}`
  const opts = setup.mountOptions.length ? ` -o ${shellQuote(setup.mountOptions.join(','))}` : ''
  if (device) return `mkdir -p -- ${m} && mount -t ${fs}${opts} ${shellQuote(device)} ${m}`
  const img = shellQuote(`${base}/${setup.variant}.img`)
  const mkfs = [MKFS[fs], ...setup.mkfsArgs.map(shellQuote)].join(' ')
  const steps = [`truncate -s ${IMAGE_BYTES} ${img}`, `${mkfs} ${img} >/dev/null`, `dev=$(losetup -f --show ${img})`, `mkdir -p -- ${m}`, `mount -t ${fs}${opts} "$dev" ${m} || { losetup -d "$dev"; exit 1; }`]
  return `( ${steps.join(' && ')} )`
}
