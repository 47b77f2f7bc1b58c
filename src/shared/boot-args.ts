/**
 * Kernel command-line words a person may add to a VM target's boot (`--boot-arg`, the app's VM
 * form): checked in one place for the CLI, the API contract and the qemu command line.
 */

/** A kernel parameter: `word` or `word=value`, no quoting, no spaces (Documentation/admin-guide/kernel-parameters.rst). */
export const BOOT_ARG = /^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:/+@%=-]*)?$/

/** Words the lab puts on the guest's command line itself: the console, crash handling, its own handshake. */
export const RESERVED_BOOT_KEYS = ['console', 'panic', 'splab.ready', 'splab.ports'] as const

/** Why `arg` cannot be a boot argument, or null when it can. */
export function bootArgProblem(arg: string): string | null {
  if (!BOOT_ARG.test(arg)) return `${JSON.stringify(arg)} is not a kernel parameter the lab passes on (word or word=value, no spaces or quotes)`
  const key = arg.split('=')[0]!
  if ((RESERVED_BOOT_KEYS as readonly string[]).includes(key)) return `${key}= is set by the lab (the console and crash handling depend on it)`
  return null
}
