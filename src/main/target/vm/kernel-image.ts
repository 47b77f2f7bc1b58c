/**
 * What `vm:<kernel>` names: a bzImage path (a person's own build), or a kernel-store name
 * (src/main/lab/kernels: `splice-lab kernel build … --name NAME`).
 */
import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { kernelImagePath, storeDir } from '../../lab/kernels'

/**
 * The bzImage for `spec`: a path when it contains a slash or names a file, otherwise the store's
 * build of that name. Throws a message a person can act on (the store says what it has and how to
 * build what it lacks).
 */
export async function resolveKernelImage(spec: string, store = storeDir()): Promise<string> {
  if (!spec) throw new Error('vm: name a kernel: vm:<store name> or vm:<path to a bzImage>')
  if (spec.includes('/') || existsSync(spec)) {
    const path = resolve(spec)
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`vm:${spec}: no such kernel image`)
    return path
  }
  return kernelImagePath(spec, store)
}
