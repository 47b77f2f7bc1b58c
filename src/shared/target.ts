/**
 * What connecting to a target finds out. Declared in the pure core because it crosses every shell:
 * the target layer (src/main/target) fills it, the API contract carries it, the renderer explains it.
 */

import type { BlockFilesystem } from './vocabulary'
export type { Filesystem } from './vocabulary'

/** How the lab reaches a target. */
export const TARGET_KINDS = ['local', 'ssh', 'vm'] as const
export type TargetKind = (typeof TARGET_KINDS)[number]

/** What a connect finds out; each missing piece becomes a message and a reduced run, not a crash. */
export interface TargetFacts {
  kernel: string
  arch: string
  pageSize: number
  /** The session user is root. */
  root: boolean
  /** `sudo -n true` works (only meaningful when not root). */
  sudo: boolean
  tracefs: { path: string | null; writable: boolean; why?: string }
  perf: { available: boolean; paranoid: number | null; why?: string }
  compiler: { path: string | null; why?: string }
  /** /proc/fs/splice exists (a kernel with the RFC's statistics patch). */
  spliceStats: boolean
  /** The default scratch directory and its filesystem as `stat -f` names it (the model may not know it). */
  scratch: { dir: string; fs: string }
  /** Loop-backed scratch filesystems can be made (root + losetup + the mkfs tools present). */
  mkfs: Partial<Record<BlockFilesystem, boolean>>
  /** For people: what the connect found missing or did (e.g. "mounted tracefs at /sys/kernel/tracing"). */
  notes: string[]
  /** A VM target: how its guest was booted. */
  vm?: VmFacts
}

/** How a VM target's guest runs (src/main/target/vm). */
export interface VmFacts {
  /** The kernel as given: a kernel-store name or a bzImage path, and the image used. */
  kernel: string
  image: string
  accelerator: 'kvm' | 'tcg'
  /** Why this accelerator (e.g. why KVM was not used). */
  acceleratorWhy: string
  /** The person's extra kernel command-line words, and the whole command line. */
  bootArgs: string[]
  cmdline: string
  memoryMb: number
  cpus: number
  /** qemu start to the console's shell answering, in ms (the first boot). */
  bootMs: number
  /** Tracing the guest offers beyond the lab's default events: "function tracer", "kprobe events", … */
  extraEvents: string[]
}
