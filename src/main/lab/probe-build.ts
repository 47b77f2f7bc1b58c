/**
 * The probe is shipped as C source, uploaded and compiled on the target (`cc -O2`), and cached
 * there by the hash of its source, so a second run on the same target compiles nothing.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BuiltProbe, Target } from '../target/types'
import { shellQuote } from '../target/quote'
import { resourcePath } from './resources'

/** Compiler flags; part of the cache key. -D_GNU_SOURCE for splice/vmsplice/tee/fallocate. */
export const PROBE_CFLAGS = ['-O2', '-D_GNU_SOURCE', '-Wall']

export class ProbeBuildError extends Error {
  constructor(
    readonly code: 'no-compiler' | 'compile' | 'source',
    message: string,
  ) {
    super(message)
    this.name = 'ProbeBuildError'
  }
}

export interface ProbeSource {
  files: { name: string; content: Buffer }[]
  hash: string
}

export async function readProbeSource(dir = resourcePath('probe')): Promise<ProbeSource> {
  const names = (await readdir(dir)).filter((n) => /\.[ch]$/.test(n)).sort()
  if (!names.some((n) => n.endsWith('.c'))) throw new ProbeBuildError('source', `no probe C source in ${dir}`)
  const files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(join(dir, name)) })))
  const h = createHash('sha256')
  for (const f of files) h.update(f.name).update('\0').update(f.content).update('\0')
  h.update(PROBE_CFLAGS.join(' '))
  return { files, hash: h.digest('hex').slice(0, 16) }
}

/** The target's cache directory for the lab (XDG on the target, else /tmp per user). */
export async function targetCacheDir(target: Target): Promise<string> {
  const r = await target.exec(
    'd="${XDG_CACHE_HOME:-$HOME/.cache}/splice-lab"; if mkdir -p -- "$d" 2>/dev/null && [ -w "$d" ]; then echo "$d"; else d="/tmp/splice-lab-cache-$(id -u)"; mkdir -p -- "$d" && chmod 700 "$d" && echo "$d"; fi',
  )
  const dir = r.output.trim().split('\n').pop() ?? ''
  if (r.code !== 0 || !dir.startsWith('/')) throw new ProbeBuildError('compile', `no cache directory on ${target.label}: ${r.output.trim()}`)
  return dir
}

export type { BuiltProbe }

/** Uploads and compiles the probe unless the target already has this exact build. */
export async function buildProbe(target: Target, source?: ProbeSource): Promise<BuiltProbe> {
  const facts = await target.facts()
  if (!facts.compiler.path) throw new ProbeBuildError('no-compiler', `cannot build the probe on ${target.label}: ${facts.compiler.why ?? 'no C compiler'}`)
  const src = source ?? (await readProbeSource())
  const dir = `${await targetCacheDir(target)}/probe-${src.hash}`
  const bin = `${dir}/probe`
  const have = await target.exec(`test -x ${shellQuote(bin)}`)
  if (have.code === 0) return { path: bin, hash: src.hash, compiled: false }
  for (const f of src.files) await target.upload(`${dir}/src/${f.name}`, f.content)
  const cfiles = src.files.filter((f) => f.name.endsWith('.c')).map((f) => shellQuote(`${dir}/src/${f.name}`))
  const tmp = `${bin}.tmp`
  const cc = await target.exec(`${shellQuote(facts.compiler.path)} ${PROBE_CFLAGS.join(' ')} -o ${shellQuote(tmp)} ${cfiles.join(' ')} 2>&1 && mv -f ${shellQuote(tmp)} ${shellQuote(bin)}`, { timeoutMs: 120_000 })
  if (cc.code !== 0) {
    const missingHeaders = /fatal error: .*\.h: No such file/.test(cc.output)
    throw new ProbeBuildError(
      missingHeaders ? 'no-compiler' : 'compile',
      missingHeaders
        ? `the C compiler on ${target.label} has no C library headers: install them (e.g. \`apt install libc6-dev\`): ${cc.output.trim().split('\n')[0]}`
        : `the probe did not compile on ${target.label}:\n${cc.output.trim()}`,
    )
  }
  return { path: bin, hash: src.hash, compiled: true }
}
