/**
 * The kernel store on disk, under the user's cache directory (cacheDir()/kernels):
 *
 *   <name>/bzImage, <name>/kernel.json   one directory per named build; kernel.json is its metadata
 *   .trees/<key>/                         the source tree the build ran in (objects kept, so a patched
 *                                         build can start from a copy and recompile only what changed)
 *
 * Names are what users and other tools use (`vm:debian-6.1`, `kernel path fix-6.1`); keys are what
 * decides whether a build can be reused.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { cacheDir } from '../../paths'

export const KERNEL_META_VERSION = 1
/** The name of the unpatched build of Debian's linux-source-6.1. */
export const DEBIAN_61 = 'debian-6.1'
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export const storeDir = (): string => join(cacheDir(), 'kernels')
export const treeDir = (key: string, root = storeDir()): string => join(root, '.trees', key)
export const imageDir = (name: string, root = storeDir()): string => join(root, name)

export function checkName(name: string): string | null {
  return NAME_RE.test(name) ? null : `--name: "${name}" must be 1-64 letters, digits, ".", "_" or "-", not starting with a punctuation mark`
}

const Source = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('debian'), package: z.string(), tarballSha256: z.string(), tarball: z.string(), packageVersion: z.string().nullable() }),
  z.object({ kind: z.literal('dir'), path: z.string(), version: z.string(), git: z.object({ head: z.string(), changes: z.string() }).nullable() }),
])

export const KernelMetaSchema = z.object({
  format: z.literal(KERNEL_META_VERSION),
  name: z.string().regex(NAME_RE),
  key: z.string().regex(/^[0-9a-f]{16}$/),
  /** `make kernelrelease`, e.g. 6.1.192 */
  version: z.string(),
  source: Source,
  /** The series directory, or null for an unpatched build. */
  series: z.string().nullable(),
  patches: z.array(z.object({ file: z.string(), strip: z.number().int(), sha256: z.string() })),
  config: z.object({ fragment: z.string(), sha256: z.string(), checked: z.number().int() }),
  bzImage: z.object({ path: z.string(), size: z.number().int(), sha256: z.string() }),
  build: z.object({
    startedAt: z.string(),
    finishedAt: z.string(),
    seconds: z.number(),
    /** Objects compiled (CC/AS lines of make's output): the next build's progress estimate. */
    objects: z.number().int(),
    jobs: z.number().int(),
    /** The key of the build whose tree this one started from, or null for a fresh tree. */
    from: z.string().nullable(),
  }),
  tree: z.string(),
})
export type KernelMeta = z.infer<typeof KernelMetaSchema>

export class StoreError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StoreError'
  }
}

/** Reads and validates one kernel.json; errors name the file and the field. */
export async function readMeta(path: string): Promise<KernelMeta> {
  let data: unknown
  try {
    data = JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new StoreError(`${path}: ${e instanceof SyntaxError ? 'not JSON' : (e as Error).message}`)
  }
  const r = KernelMetaSchema.safeParse(data)
  if (!r.success) {
    const issue = r.error.issues[0]!
    throw new StoreError(`${path}: ${issue.path.join('.') || '(top)'}: ${issue.message}`)
  }
  return r.data
}

/** Writes <name>/kernel.json atomically. */
export async function writeMeta(meta: KernelMeta, root = storeDir()): Promise<string> {
  const dir = imageDir(meta.name, root)
  await mkdir(dir, { recursive: true })
  const path = join(dir, 'kernel.json')
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(meta, null, 1) + '\n')
  await rename(tmp, path)
  return path
}

export interface Listed {
  name: string
  meta?: KernelMeta
  problem?: string
}

/** Every named build in the store, by name; damaged metadata is listed with its problem. */
export async function listKernels(root = storeDir()): Promise<Listed[]> {
  let names: string[]
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const out: Listed[] = []
  for (const name of names.sort()) {
    const path = join(imageDir(name, root), 'kernel.json')
    if (!existsSync(path)) continue
    try {
      out.push({ name, meta: await readMeta(path) })
    } catch (e) {
      out.push({ name, problem: (e as Error).message })
    }
  }
  return out
}

/** The metadata of a named build whose bzImage is present, or null. */
export async function findKernel(name: string, root = storeDir()): Promise<KernelMeta | null> {
  if (checkName(name)) return null
  const path = join(imageDir(name, root), 'kernel.json')
  if (!existsSync(path)) return null
  const meta = await readMeta(path)
  return existsSync(meta.bzImage.path) ? meta : null
}

/**
 * The bzImage of a named build, for `kernel path` and for `--target vm:<name>`. Throws a StoreError
 * that says what is in the store and how to build the missing one.
 */
export async function kernelImagePath(name: string, root = storeDir()): Promise<string> {
  const meta = await findKernel(name, root)
  if (meta) return meta.bzImage.path
  const have = (await listKernels(root)).filter((l) => l.meta).map((l) => l.name)
  const how = name === DEBIAN_61 ? '`splice-lab kernel build debian-6.1`' : '`splice-lab kernel build <debian-6.1|SOURCE_DIR> [--patches SERIES] --name ' + name + '`'
  throw new StoreError(`no kernel named "${name}" in ${root} (${have.length ? `have: ${have.join(', ')}` : 'the store is empty'}); build it with ${how}`)
}
