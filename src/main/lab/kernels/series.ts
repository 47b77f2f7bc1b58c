/**
 * A patch series: a directory with a quilt-style `series` file naming its patches in order, one a
 * line, `#` starting a comment, optionally followed by `-pN` (the strip level, default 1).
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'

export interface SeriesPatch {
  /** File name inside the series directory. */
  file: string
  /** patch -pN */
  strip: number
  /** sha256 of the patch file (part of the cache key). */
  sha256: string
}

export interface Series {
  dir: string
  /** The directory's base name: the default suffix of a patched build's name. */
  label: string
  patches: SeriesPatch[]
}

export class SeriesError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SeriesError'
  }
}

/** Parses the text of a series file; line numbers in errors are 1-based. */
export function parseSeries(text: string): { file: string; strip: number }[] {
  const out: { file: string; strip: number }[] = []
  const seen = new Set<string>()
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    if (!line) return
    const [file, ...opts] = line.split(/\s+/)
    const where = `series line ${i + 1}`
    if (file!.includes('/') || file === '.' || file === '..') throw new SeriesError(`${where}: "${file}" must be a file name inside the series directory`)
    let strip = 1
    for (const opt of opts) {
      const m = /^-p(\d)$/.exec(opt)
      if (!m) throw new SeriesError(`${where}: unknown option "${opt}" (only -pN is understood)`)
      strip = Number(m[1])
    }
    if (seen.has(file!)) throw new SeriesError(`${where}: "${file}" is listed twice`)
    seen.add(file!)
    out.push({ file: file!, strip })
  })
  return out
}

/** Reads a series directory: its series file and the hash of every patch it names. */
export async function readSeries(dir: string): Promise<Series> {
  const abs = resolve(dir)
  let text: string
  try {
    text = await readFile(join(abs, 'series'), 'utf8')
  } catch (e) {
    throw new SeriesError(`--patches: ${abs} has no readable series file (${(e as NodeJS.ErrnoException).code ?? e})`)
  }
  const entries = parseSeries(text)
  if (!entries.length) throw new SeriesError(`--patches: ${join(abs, 'series')} names no patches`)
  const patches = await Promise.all(
    entries.map(async (e) => {
      let content: Buffer
      try {
        content = await readFile(join(abs, e.file))
      } catch {
        throw new SeriesError(`--patches: the series names ${e.file}, which is not in ${abs}`)
      }
      return { ...e, sha256: createHash('sha256').update(content).digest('hex') }
    }),
  )
  return { dir: abs, label: basename(abs), patches }
}
