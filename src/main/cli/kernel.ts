/**
 * `splice-lab kernel build|list|path`: the kernel store from the command line. `build` prints its
 * progress on stderr (one updating line on a terminal, a line every PROGRESS_EVERY_MS otherwise) and
 * the bzImage's path on stdout, so scripts can take it.
 */
import { basename } from 'node:path'
import type { Command } from 'commander'
import { DEBIAN_61, SeriesError, StoreError, buildKernel, kernelImagePath, listKernels, type BuildProgress, type KernelMeta } from '../lab/kernels'

/** How often a non-terminal stderr gets a progress line during compilation. Default 15 s. */
export const PROGRESS_EVERY_MS = 15_000

interface BuildOptions {
  patches?: string
  name?: string
  jobs?: string
  force?: boolean
}

export function registerKernel(program: Command): void {
  const kernel = program.command('kernel').description('build and list kernels for VM targets (the kernel store)')
  kernel
    .command('build')
    .description(`build a bzImage from Debian's linux-source-6.1 (${DEBIAN_61}) or a kernel tree, with the lab's config fragment`)
    .argument('<source>', `${DEBIAN_61} (apt-get install linux-source-6.1) or a kernel source directory`)
    .option('--patches <series-dir>', 'apply the patch series in this directory (a quilt-style series file)')
    .option('--name <name>', `store name (default: ${DEBIAN_61}, or <source>-<series-dir name>)`)
    .option('--jobs <n>', 'make -j (default: the number of CPUs)')
    .option('--force', 'rebuild even when the store has this exact build')
    .action(async (source: string, opts: BuildOptions) => {
      process.exitCode = await runBuild(source, opts)
    })
  kernel
    .command('list')
    .description('the kernels in the store')
    .option('--json', 'print the metadata as JSON')
    .action(async (opts: { json?: boolean }) => {
      process.exitCode = await runList(opts)
    })
  kernel
    .command('path')
    .description("print the bzImage path of a kernel in the store")
    .argument('<name>', 'a name from `splice-lab kernel list`')
    .action(async (name: string) => {
      process.exitCode = await runPath(name)
    })
}

function fail(e: unknown): number {
  if (e instanceof StoreError || e instanceof SeriesError) {
    console.error(`splice-lab kernel: ${e.message}`)
    return 1
  }
  throw e
}

const minutes = (ms: number): string => `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`

/** One progress line: phase, objects against the estimate, elapsed time. */
export function progressLine(p: BuildProgress, elapsedMs: number): string {
  let text = `${p.name}: ${p.phase}`
  if (p.objects !== undefined) {
    text += p.expected ? `, ${p.objects}/~${p.expected} objects (${Math.min(99, Math.floor((100 * p.objects) / p.expected))}%)` : `, ${p.objects} objects`
  }
  if (p.message) text += ` — ${p.message}`
  return `${text}, ${minutes(elapsedMs)}`
}

function progressPrinter(): { onProgress: (p: BuildProgress) => void; end: () => void } {
  const t0 = Date.now()
  const tty = process.stderr.isTTY
  let last = 0
  let lastPhase = ''
  let pending = false
  return {
    onProgress: (p) => {
      const now = Date.now()
      const phaseChanged = p.phase + (p.message ?? '') !== lastPhase
      if (tty) {
        if (!phaseChanged && now - last < 250) return
        process.stderr.write(`\r\x1b[K${progressLine(p, now - t0)}`)
        pending = true
      } else {
        if (!phaseChanged && now - last < PROGRESS_EVERY_MS) return
        process.stderr.write(progressLine(p, now - t0) + '\n')
      }
      last = now
      lastPhase = p.phase + (p.message ?? '')
    },
    end: () => {
      if (pending) process.stderr.write('\n')
    },
  }
}

export async function runBuild(source: string, opts: BuildOptions): Promise<number> {
  const jobs = opts.jobs === undefined ? undefined : Number(opts.jobs)
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) return fail(new StoreError(`--jobs must be a positive integer, got "${opts.jobs}"`))
  const printer = progressPrinter()
  try {
    const r = await buildKernel({ source, patches: opts.patches, name: opts.name, jobs, force: opts.force, onProgress: printer.onProgress })
    printer.end()
    const m = r.meta
    console.error(
      r.reused
        ? `${m.name}: up to date (${m.version}, key ${m.key})`
        : `${m.name}: built ${m.version} in ${minutes(m.build.seconds * 1000)}, ${m.build.objects} objects${m.build.from ? ` (started from the tree of ${m.build.from})` : ''}, bzImage ${(m.bzImage.size / 2 ** 20).toFixed(1)} MiB`,
    )
    console.log(m.bzImage.path)
    return 0
  } catch (e) {
    printer.end()
    return fail(e)
  }
}

function row(m: KernelMeta): string[] {
  const patches = m.patches.length ? `${m.patches.length} (${basename(m.series ?? '')})` : 'none'
  return [m.name, m.version, patches, m.config.sha256.slice(0, 12), `${(m.bzImage.size / 2 ** 20).toFixed(1)} MiB`, m.bzImage.path]
}

export async function runList(opts: { json?: boolean }): Promise<number> {
  const listed = await listKernels()
  if (opts.json) {
    console.log(JSON.stringify(listed.map((l) => l.meta ?? { name: l.name, problem: l.problem }), null, 2))
    return 0
  }
  const rows = [['NAME', 'VERSION', 'PATCHES', 'CONFIG', 'SIZE', 'PATH'], ...listed.filter((l) => l.meta).map((l) => row(l.meta!))]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
  for (const l of listed) if (l.problem) console.error(`splice-lab kernel: ${l.problem}`)
  if (rows.length === 1) console.error('the store is empty: `splice-lab kernel build debian-6.1` builds the unpatched Debian 6.1')
  return 0
}

export async function runPath(name: string): Promise<number> {
  try {
    console.log(await kernelImagePath(name))
    return 0
  } catch (e) {
    return fail(e)
  }
}
