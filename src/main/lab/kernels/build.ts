/**
 * `kernel build`: source → patches → config → make → bzImage in the store, cached by key.
 *
 * A patched Debian build starts from a copy of the unpatched build's tree (`cp -a` keeps mtimes, so
 * make recompiles only what the patches touch), building the unpatched one first if the store lacks
 * it. Every other build unpacks or copies its source into a fresh tree.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { resourcePath } from '../resources'
import { buildKey, type KeyInputs } from './key'
import { configure, kernelRelease, makeBzImage, missingBuildDeps, verifyConfig, type MakePhase } from './make'
import { readSeries, type Series } from './series'
import { materialize, parseSourceSpec, resolveSource, type ResolvedSource, type SourceSpec } from './source'
import { DEBIAN_61, StoreError, checkName, findKernel, imageDir, listKernels, storeDir, treeDir, writeMeta, type KernelMeta } from './store'
import { acquireLock } from './lock'

const run = promisify(execFile)

/**
 * Objects (CC/AS lines) of a full build of Debian's 6.1 with the lab's fragment (1295 measured for
 * 6.1.192): the progress estimate of a first build, before the store has a build of its own to go by.
 */
export const DEBIAN_61_OBJECTS = 1300
/** The tree's own record of how far its preparation got. */
const TREE_MARK = '.splice-lab-tree.json'

export type BuildPhase = 'source' | 'patch' | 'config' | MakePhase | 'install'

export interface BuildProgress {
  name: string
  phase: BuildPhase
  /** Objects compiled so far (compile and link phases). */
  objects?: number
  /** What a full build compiles, when known; null for a build that starts from another's tree. */
  expected?: number | null
  message?: string
}

export interface BuildRequest {
  /** `debian-6.1` or a kernel source directory. */
  source: string
  /** A series directory (see series.ts). */
  patches?: string
  name?: string
  jobs?: number
  /** Rebuild even when the store has this exact build. */
  force?: boolean
  /** Store root; default storeDir(). */
  root?: string
  /** Config fragment; default resources/kernel/config/lab.config. */
  fragment?: string
  /** The Debian tarball; default /usr/src/linux-source-6.1.tar.xz. */
  tarball?: string
  onProgress?: (p: BuildProgress) => void
}

export interface BuildResult {
  meta: KernelMeta
  /** True when nothing was compiled: the store had this build (perhaps under another name). */
  reused: boolean
}

interface Plan {
  name: string
  spec: SourceSpec
  series: Series | null
  source: ResolvedSource
  inputs: KeyInputs
  key: string
  fragmentPath: string
  fragmentText: string
  root: string
  jobs: number
}

export function defaultName(spec: SourceSpec, series: Series | null): string {
  const base = spec.kind === 'debian' ? DEBIAN_61 : basename(spec.path)
  return series ? `${base}-${series.label}` : base
}

async function plan(req: BuildRequest): Promise<Plan> {
  const spec = parseSourceSpec(req.source, req.tarball)
  const series = req.patches ? await readSeries(req.patches) : null
  const name = req.name ?? defaultName(spec, series)
  const bad = checkName(name)
  if (bad) throw new StoreError(bad)
  if (name === DEBIAN_61 && (series || spec.kind !== 'debian'))
    throw new StoreError(`--name: ${DEBIAN_61} is the name of the unpatched Debian 6.1 build; give this one another name`)
  const jobs = req.jobs ?? availableParallelism()
  if (!Number.isInteger(jobs) || jobs < 1) throw new StoreError(`--jobs must be a positive integer, got ${req.jobs}`)
  const fragmentPath = req.fragment ?? resourcePath('kernel/config/lab.config')
  const fragmentText = await readFile(fragmentPath, 'utf8')
  const source = await resolveSource(spec)
  const inputs: KeyInputs = {
    source: source.identity,
    patches: series?.patches ?? [],
    configSha256: createHash('sha256').update(fragmentText).digest('hex'),
  }
  return { name, spec, series, source, inputs, key: buildKey(inputs), fragmentPath, fragmentText, root: req.root ?? storeDir(), jobs }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/**
 * kbuild builds tools/objtool with absolute paths in its command lines (tools/build's .cmd files),
 * and every kernel object depends on the objtool binary: a copy of a tree at a new path would
 * rebuild objtool (its commands "changed") and then every object. Rewriting the old path to the new
 * one in the copy's .cmd files keeps the commands equal, so only what the patches touch is rebuilt.
 * Kernel objects' own .cmd files use relative paths. Mtimes are kept.
 */
async function retarget(copy: string, from: string, to: string): Promise<number> {
  let changed = 0
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile() && entry.name.endsWith('.cmd')) {
        const text = await readFile(path, 'utf8')
        if (!text.includes(from)) continue
        const st = await stat(path)
        await writeFile(path, text.split(from).join(to))
        await utimes(path, st.atime, st.mtime)
        changed++
      }
    }
  }
  await walk(join(copy, 'tools'))
  return changed
}

interface TreeMark {
  key: string
  /** The fragment hash the tree's .config was made from, or null before configuring. */
  configSha256: string | null
  /** The tree it was copied from, or null. */
  from: string | null
}

async function readMark(tree: string): Promise<TreeMark | null> {
  try {
    return JSON.parse(await readFile(join(tree, TREE_MARK), 'utf8')) as TreeMark
  } catch {
    return null
  }
}
const writeMark = (tree: string, mark: TreeMark): Promise<void> => writeFile(join(tree, TREE_MARK), JSON.stringify(mark) + '\n')

/**
 * A tree for the plan with its source in place and its patches applied. Built under a temporary
 * name and renamed, so a tree that exists is whole; a half-made one from a killed build is removed.
 */
async function prepareTree(p: Plan, req: BuildRequest, say: (b: BuildProgress) => void): Promise<TreeMark> {
  const tree = treeDir(p.key, p.root)
  const mark = await readMark(tree)
  if (mark) return mark
  await rm(tree, { recursive: true, force: true })
  const tmp = `${tree}.tmp-${process.pid}`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(join(p.root, '.trees'), { recursive: true })
  let from: string | null = null
  let configSha256: string | null = null
  try {
    if (p.series && p.spec.kind === 'debian') {
      const base = await buildKernel({ ...req, patches: undefined, name: DEBIAN_61, force: false }, { needTree: true })
      say({ name: p.name, phase: 'source', message: `copying the ${DEBIAN_61} build tree (cp -a keeps mtimes: only what the patches touch is recompiled)` })
      await run('cp', ['-a', base.meta.tree, tmp])
      await retarget(tmp, base.meta.tree, tree)
      const baseMark = await readMark(tmp)
      from = base.meta.key
      configSha256 = baseMark?.configSha256 ?? null
    } else {
      say({ name: p.name, phase: 'source', message: p.spec.kind === 'debian' ? `unpacking ${p.source.detail?.tarball}` : `copying ${p.spec.path}` })
      await materialize(p.spec, tmp)
    }
    for (const patch of p.series?.patches ?? []) {
      say({ name: p.name, phase: 'patch', message: patch.file })
      try {
        await run('patch', [`-p${patch.strip}`, '--forward', '--batch', '-s', '-d', tmp, '-i', join(p.series!.dir, patch.file)], { maxBuffer: 1 << 24 })
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string; message: string }
        throw new StoreError(`${patch.file} does not apply to ${p.inputs.source.kind === 'debian' ? 'Debian 6.1' : (p.spec as { path: string }).path}:\n${(err.stdout || err.stderr || err.message).trim()}`)
      }
    }
    const m: TreeMark = { key: p.key, configSha256, from }
    await writeMark(tmp, m)
    await rename(tmp, tree)
    return m
  } catch (e) {
    await rm(tmp, { recursive: true, force: true })
    throw e
  }
}

/**
 * Builds (or finds) a kernel in the store. `needTree`: the caller needs the build tree itself (a
 * patched build copies it), not just the image.
 */
export async function buildKernel(req: BuildRequest, { needTree = false } = {}): Promise<BuildResult> {
  const missing = await missingBuildDeps()
  if (missing.length) throw new StoreError(`missing build dependencies: run \`apt-get install ${missing.join(' ')}\``)
  const p = await plan(req)
  const say = req.onProgress ?? ((): void => {})
  const tree = treeDir(p.key, p.root)

  if (!req.force) {
    const reused = await reuse(p, needTree && !existsSync(join(tree, TREE_MARK)))
    if (reused) return { meta: reused, reused: true }
  }

  await mkdir(join(p.root, '.trees'), { recursive: true })
  const unlock = await acquireLock(`${tree}.lock`)
  try {
    const started = new Date()
    const mark = await prepareTree(p, req, say)
    say({ name: p.name, phase: 'config' })
    let checked: number
    if (mark.configSha256 === p.inputs.configSha256) checked = await verifyConfig(tree, p.fragmentText)
    else {
      checked = await configure(tree, p.fragmentPath, p.fragmentText)
      await writeMark(tree, { ...mark, configSha256: p.inputs.configSha256 })
    }
    const expected = mark.from ? null : await expectedObjects(p)
    say({ name: p.name, phase: 'compile', objects: 0, expected })
    const objects = await makeBzImage(tree, p.jobs, join(tree, '.splice-lab-build.log'), (m) => say({ name: p.name, phase: m.phase, objects: m.objects, expected }))
    say({ name: p.name, phase: 'install' })
    const meta = await install(p, tree, started, objects, mark.from, checked)
    return { meta, reused: false }
  } finally {
    await unlock()
  }
}

/** The store's own figure for a full build from this source, else the measured constant. */
async function expectedObjects(p: Plan): Promise<number | null> {
  const full = (await listKernels(p.root)).map((l) => l.meta).filter((m): m is KernelMeta => !!m && m.build.from === null && m.source.kind === p.spec.kind && m.build.objects > 0)
  if (full.length) return full[full.length - 1]!.build.objects
  return p.spec.kind === 'debian' ? DEBIAN_61_OBJECTS : null
}

/**
 * The store already has this build: under this name (nothing to do), or under another name (its
 * image is copied). Not when the caller needs the tree and the tree is gone.
 */
async function reuse(p: Plan, treeMissing: boolean): Promise<KernelMeta | null> {
  if (treeMissing) return null
  const mine = await findKernel(p.name, p.root).catch(() => null)
  if (mine && mine.key === p.key) return mine
  const same = (await listKernels(p.root)).map((l) => l.meta).find((m) => m && m.key === p.key && existsSync(m.bzImage.path))
  if (!same) return null
  const dir = imageDir(p.name, p.root)
  await mkdir(dir, { recursive: true })
  await copyFile(same.bzImage.path, join(dir, 'bzImage.tmp'))
  await rename(join(dir, 'bzImage.tmp'), join(dir, 'bzImage'))
  const meta: KernelMeta = { ...same, name: p.name, series: p.series?.dir ?? null, bzImage: { ...same.bzImage, path: join(dir, 'bzImage') } }
  await writeMeta(meta, p.root)
  return meta
}

async function install(p: Plan, tree: string, started: Date, objects: number, from: string | null, checked: number): Promise<KernelMeta> {
  const dir = imageDir(p.name, p.root)
  await mkdir(dir, { recursive: true })
  const image = join(dir, 'bzImage')
  await copyFile(join(tree, 'arch/x86/boot/bzImage'), `${image}.tmp`)
  await rename(`${image}.tmp`, image)
  const finished = new Date()
  const src = p.source.identity
  const meta: KernelMeta = {
    format: 1,
    name: p.name,
    key: p.key,
    version: await kernelRelease(tree),
    source: src.kind === 'debian' ? { ...src, tarball: p.source.detail!.tarball, packageVersion: p.source.detail!.packageVersion } : src,
    series: p.series?.dir ?? null,
    patches: p.inputs.patches,
    config: { fragment: p.fragmentPath, sha256: p.inputs.configSha256, checked },
    bzImage: { path: image, size: (await stat(image)).size, sha256: await sha256File(image) },
    build: {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
      objects,
      jobs: p.jobs,
      from,
    },
    tree,
  }
  await writeMeta(meta, p.root)
  return meta
}

