/**
 * Where a build's source comes from: Debian's linux-source-6.1 package (a tarball in /usr/src) or a
 * user's kernel tree. Each gives its identity (for the cache key) and a way to put a copy of it at a
 * path inside the store (a user's tree is never built in place, so it is never changed).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { SourceIdentity } from './key'
import { StoreError } from './store'

const run = promisify(execFile)

/** Debian's package and the tarball it installs. */
export const DEBIAN_PACKAGE = 'linux-source-6.1'
export const DEBIAN_TARBALL = '/usr/src/linux-source-6.1.tar.xz'

export type SourceSpec = { kind: 'debian'; tarball: string } | { kind: 'dir'; path: string }

/** `debian-6.1` or a directory holding a kernel tree; anything else is refused with the reason. */
export function parseSourceSpec(text: string, tarball = DEBIAN_TARBALL): SourceSpec {
  if (text === 'debian-6.1') return { kind: 'debian', tarball }
  const path = resolve(text)
  if (!existsSync(path)) throw new StoreError(`source: "${text}" is neither debian-6.1 nor an existing directory`)
  for (const need of ['Makefile', 'Kconfig', 'arch/x86', 'scripts/kconfig/merge_config.sh'])
    if (!existsSync(join(path, need))) throw new StoreError(`source: ${path} is not a Linux source tree (no ${need})`)
  return { kind: 'dir', path }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

async function debianPackageVersion(): Promise<string | null> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Version}', DEBIAN_PACKAGE])
    return stdout.trim() || null
  } catch {
    return null
  }
}

/** VERSION.PATCHLEVEL.SUBLEVEL+EXTRAVERSION from a tree's Makefile. */
export async function makefileVersion(dir: string): Promise<string> {
  const text = await readFile(join(dir, 'Makefile'), 'utf8')
  const field = (k: string): string => new RegExp(`^${k}\\s*=\\s*(\\S*)`, 'm').exec(text)?.[1] ?? ''
  return `${field('VERSION')}.${field('PATCHLEVEL')}.${field('SUBLEVEL')}${field('EXTRAVERSION')}`
}

async function gitState(dir: string): Promise<{ head: string; changes: string } | null> {
  if (!existsSync(join(dir, '.git'))) return null
  try {
    const head = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim()
    const diff = (await run('git', ['-C', dir, 'diff', 'HEAD'], { maxBuffer: 1 << 30 })).stdout
    const untracked = (await run('git', ['-C', dir, 'ls-files', '--others', '--exclude-standard'], { maxBuffer: 1 << 28 })).stdout
    return { head, changes: createHash('sha256').update(diff).update('\0').update(untracked).digest('hex').slice(0, 16) }
  } catch {
    return null
  }
}

export interface ResolvedSource {
  identity: SourceIdentity
  /** For the metadata: what a person reads. */
  detail: { tarball: string; packageVersion: string | null } | null
}

export async function resolveSource(spec: SourceSpec): Promise<ResolvedSource> {
  if (spec.kind === 'debian') {
    if (!existsSync(spec.tarball))
      throw new StoreError(`Debian's Linux 6.1 source is not installed (${spec.tarball} is missing): run \`apt-get install ${DEBIAN_PACKAGE}\``)
    return {
      identity: { kind: 'debian', package: DEBIAN_PACKAGE, tarballSha256: await sha256File(spec.tarball) },
      detail: { tarball: spec.tarball, packageVersion: await debianPackageVersion() },
    }
  }
  return { identity: { kind: 'dir', path: spec.path, version: await makefileVersion(spec.path), git: await gitState(spec.path) }, detail: null }
}

/**
 * Puts a fresh copy of the source at `dest` (which must not exist): the tarball unpacked, or the
 * user's tree copied without its .git directory (tar keeps modes and mtimes).
 */
export async function materialize(spec: SourceSpec, dest: string): Promise<void> {
  if (spec.kind === 'debian') {
    await run('mkdir', ['-p', dest])
    await run('tar', ['-xf', spec.tarball, '-C', dest, '--strip-components=1'], { maxBuffer: 1 << 26 })
    return
  }
  await run('mkdir', ['-p', dest])
  await run('bash', ['-c', 'set -o pipefail; tar -C "$1" --exclude=./.git -cf - . | tar -C "$2" -xf -', 'copy-tree', spec.path, dest], { maxBuffer: 1 << 26 })
}
