/**
 * What `vm:<kernel>` names: a bzImage path (a person's own build), or a kernel-store name.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { cacheDir } from '../../paths'

/** Store names: what `splice-lab kernel build --name` accepts. */
const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

export function kernelStoreDir(): string {
  return join(cacheDir(), 'kernels')
}

/**
 * The bzImage for `spec`: a path when it contains a slash or names a file, otherwise the store's
 * build of that name (`<store>/<name>/bzImage`). Throws a message a person can act on.
 */
export function resolveKernelImage(spec: string, storeDir = kernelStoreDir()): string {
  if (!spec) throw new Error('vm: name a kernel: vm:<store name> or vm:<path to a bzImage>')
  if (spec.includes('/') || existsSync(spec)) {
    const path = resolve(spec)
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`vm:${spec}: no such kernel image`)
    return path
  }
  if (!STORE_NAME.test(spec)) throw new Error(`vm:${spec}: not a kernel-store name or a path`)
  const image = join(storeDir, spec, 'bzImage')
  if (existsSync(image)) return image
  const have = existsSync(storeDir) ? readdirSync(storeDir).filter((n) => existsSync(join(storeDir, n, 'bzImage'))) : []
  throw new Error(
    `vm:${spec}: the kernel store (${storeDir}) has no kernel of that name` +
      (have.length ? ` (it has: ${have.join(', ')})` : '') +
      `; build it with \`splice-lab kernel build ${spec === 'debian-6.1' ? 'debian-6.1' : `<debian-6.1 | SOURCE_DIR> --name ${spec}`}\` or give a bzImage path`,
  )
}
