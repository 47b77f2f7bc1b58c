/**
 * Turning text into a Scenario: parse YAML or JSON, check the shape with the zod schema, then check
 * what a schema cannot (references between ids, mappings that must exist, ranges inside buffers).
 * Every problem is reported with the file, the field path and what was expected; nothing is
 * executed from a scenario that has any problem.
 */
import { parseDocument } from 'yaml'
import type { z } from 'zod'
import { RACE_MUTATORS, RACE_SPLICERS, ScenarioSchema, type Op, type RaceOp, type Scenario } from './schema'
import { resolveSize } from './size'
import { boundProblems, listProblems, raceOverlapPages, textProblem } from './bounds'

export interface ScenarioProblem {
  /** Where the scenario came from: a path, a preset name, or "<editor>". */
  source: string
  /** Field path such as "ops[2].len"; "" for the document itself. */
  path: string
  message: string
  /** 1-based line in the source text, where known. */
  line?: number
}

export type ScenarioResult = { ok: true; scenario: Scenario } | { ok: false; problems: ScenarioProblem[] }

export class ScenarioError extends Error {
  constructor(readonly problems: ScenarioProblem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'ScenarioError'
  }
}

export function formatProblem(p: ScenarioProblem): string {
  const where = p.line ? `${p.source}:${p.line}` : p.source
  return `${where}: ${p.path || '(document)'}: ${p.message}`
}

export function pathToString(path: ReadonlyArray<PropertyKey>): string {
  let s = ''
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s ? `.${String(k)}` : String(k)
  return s
}

/** Parses YAML (a superset of JSON) and validates. `pageSize` resolves "p" sizes for range checks. */
export function parseScenarioText(text: string, source: string, pageSize = 4096): ScenarioResult {
  // Size and nesting first: the YAML parser recurses per level and a deep enough text ends the process.
  const tooBig = textProblem(text)
  if (tooBig) return { ok: false, problems: [{ source, ...tooBig }] }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ source, path: '', message: `not valid YAML/JSON: ${e.message.split('\n')[0]}`, line: e.linePos?.[0]?.line })),
    }
  }
  let value: unknown
  try {
    // maxAliasCount bounds alias expansion, so a hostile file cannot blow up memory ("billion laughs").
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    return { ok: false, problems: [{ source, path: '', message: `not valid YAML/JSON: ${e instanceof Error ? e.message : String(e)}` }] }
  }
  const result = validateScenario(value, source, pageSize)
  if (!result.ok) {
    for (const p of result.problems) p.line ??= lineOf(doc, text, p.path)
  }
  return result
}

export function validateScenario(value: unknown, source: string, pageSize = 4096): ScenarioResult {
  const tooLong = listProblems(value)
  if (tooLong.length) return { ok: false, problems: tooLong.map((p) => ({ source, ...p })) }
  const parsed = ScenarioSchema.safeParse(value)
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error, source) }
  const problems = crossCheck(parsed.data, source, pageSize)
  // Bounds need sizes that resolve; a size problem above would be reported twice.
  if (!problems.length) problems.push(...boundProblems(parsed.data, pageSize).map((p) => ({ source, ...p })))
  return problems.length ? { ok: false, problems } : { ok: true, scenario: parsed.data }
}

export function loadScenarioOrThrow(text: string, source: string, pageSize = 4096): Scenario {
  const r = parseScenarioText(text, source, pageSize)
  if (!r.ok) throw new ScenarioError(r.problems)
  return r.scenario
}

function zodProblems(error: z.ZodError, source: string): ScenarioProblem[] {
  const out: ScenarioProblem[] = []
  for (const issue of error.issues) {
    // A union failure says little by itself; the member whose discriminator matched says more.
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a))
      for (const sub of best) out.push({ source, path: pathToString([...issue.path, ...sub.path]), message: sub.message })
      continue
    }
    out.push({ source, path: pathToString(issue.path), message: issue.message })
  }
  return out
}

function crossCheck(s: Scenario, source: string, pageSize: number): ScenarioProblem[] {
  const problems: ScenarioProblem[] = []
  const add = (path: string, message: string): void => void problems.push({ source, path, message })
  const files = new Map(s.files.map((f) => [f.id, f]))
  const buffers = new Map(s.buffers.map((b) => [b.id, b]))
  const pipes = new Set(s.pipes.map((p) => p.id))

  const seen = new Map<string, string>()
  const declare = (id: string, path: string): void => {
    const prev = seen.get(id)
    if (prev) add(path, `id "${id}" is already used by ${prev}; ids must be unique across files, buffers and pipes`)
    else seen.set(id, path)
  }
  s.files.forEach((f, i) => declare(f.id, `files[${i}].id`))
  s.buffers.forEach((b, i) => declare(b.id, `buffers[${i}].id`))
  s.pipes.forEach((p, i) => declare(p.id, `pipes[${i}].id`))

  const known = (kind: 'file' | 'buffer' | 'pipe', id: string | undefined, path: string): boolean => {
    if (id === undefined) return false
    const table = kind === 'file' ? files : kind === 'buffer' ? buffers : pipes
    if (table.has(id)) return true
    const choices = [...table.keys()]
    add(path, `no ${kind} "${id}"${choices.length ? `; declared ${kind}s: ${choices.join(', ')}` : `; the scenario declares no ${kind}s`}`)
    return false
  }
  const bufferRange = (op: { buffer: string; offset: string | number; len: string | number }, path: string): void => {
    const b = buffers.get(op.buffer)
    if (!b) return
    const size = resolveSize(b.size, pageSize)
    const end = resolveSize(op.offset, pageSize) + resolveSize(op.len, pageSize)
    if (end > size) add(`${path}.len`, `range ends at byte ${end}, past the end of buffer "${b.id}" (${size} bytes)`)
  }

  const mapped = new Set<string>()
  const checkOp = (op: Op, path: string): void => {
    switch (op.op) {
      case 'splice': {
        const fromFile = 'file' in op.from
        const toFile = 'file' in op.to
        if (fromFile && toFile) add(`${path}.to`, 'splice needs a pipe on at least one side; use "to: { pipe: … }"')
        if ('file' in op.from) known('file', op.from.file, `${path}.from.file`)
        else known('pipe', op.from.pipe, `${path}.from.pipe`)
        if ('file' in op.to) known('file', op.to.file, `${path}.to.file`)
        else known('pipe', op.to.pipe, `${path}.to.pipe`)
        break
      }
      case 'vmsplice':
        if (known('buffer', op.buffer, `${path}.buffer`)) bufferRange(op, path)
        known('pipe', op.pipe, `${path}.pipe`)
        break
      case 'tee':
        known('pipe', op.from, `${path}.from`)
        known('pipe', op.to, `${path}.to`)
        if (op.from === op.to) add(`${path}.to`, 'tee needs two different pipes')
        break
      case 'pwrite': case 'write_other_process': case 'punch_hole': case 'zero_range':
      case 'truncate': case 'fadvise_dontneed': case 'fsync':
        known('file', op.file, `${path}.file`)
        break
      case 'odirect_write':
        if (known('file', op.file, `${path}.file`)) {
          const off = resolveSize(op.offset, pageSize)
          const len = resolveSize(op.len, pageSize)
          if (off % 512 !== 0 || len % 512 !== 0 || len === 0)
            add(`${path}.len`, `O_DIRECT needs offset and length that are non-zero multiples of 512 bytes, got offset ${off}, length ${len}`)
        }
        break
      case 'mmap':
        if (known('file', op.file, `${path}.file`)) mapped.add(op.file)
        break
      case 'mmap_store':
        if (known('file', op.file, `${path}.file`) && !mapped.has(op.file))
          add(`${path}.file`, `file "${op.file}" is not mapped here; add { op: mmap, file: ${op.file} } before this op`)
        break
      case 'munmap':
        if ((op.file === undefined) === (op.buffer === undefined)) add(path, 'munmap takes exactly one of "file" or "buffer"')
        else if (op.file !== undefined) {
          if (known('file', op.file, `${path}.file`) && !mapped.delete(op.file)) add(`${path}.file`, `file "${op.file}" is not mapped here`)
        } else known('buffer', op.buffer, `${path}.buffer`)
        break
      case 'buf_store': case 'madvise_dontneed':
        if (known('buffer', op.buffer, `${path}.buffer`)) bufferRange(op, path)
        break
      case 'fork':
        if ((op.file === undefined) === (op.buffer === undefined)) add(path, 'fork takes exactly one of "buffer" or "file" (a mapped file) to store into')
        else if (op.buffer !== undefined) {
          if (known('buffer', op.buffer, `${path}.buffer`)) bufferRange({ ...op, buffer: op.buffer }, path)
        } else if (known('file', op.file, `${path}.file`) && !mapped.has(op.file!))
          add(`${path}.file`, `file "${op.file}" is not mapped here; add { op: mmap, file: ${op.file} } before this op`)
        break
      case 'drain': case 'close':
        known('pipe', op.pipe, `${path}.pipe`)
        break
      case 'repeat':
        op.body.forEach((b, j) => checkOp(b, `${path}.body[${j}]`))
        break
      case 'race':
        op.ops.forEach((b, j) => checkOp(b, `${path}.ops[${j}]`))
        racePages += checkRace(op, path, add, pageSize)
        break
      default:
        assertNever(op)
    }
  }
  let racePages = 0
  s.ops.forEach((op, i) => checkOp(op, `ops[${i}]`))
  if (racePages > RACE_MAX_PAGES)
    add('ops', `the races overlap ${racePages} pages that a splice reads while the other op changes them; at most ${RACE_MAX_PAGES} (the model predicts every page either way: 2^${RACE_MAX_PAGES} outcomes)`)
  return problems
}

/**
 * Pages a race's mutation may change while its splice reads them, summed over a scenario: the model
 * allows each of them to be read before or after the change, 2^n worlds, so n is bounded.
 */
export const RACE_MAX_PAGES = 8

/** What may race (RACE_SPLICERS against RACE_MUTATORS on the file it reads); the pages both touch. */
function checkRace(op: RaceOp, path: string, add: (path: string, message: string) => void, pageSize: number): number {
  const [a, b] = op.ops
  if (a.op !== 'splice' || !('file' in a.from) || !('pipe' in a.to)) {
    add(`${path}.ops[0]`, `a race's first op must be a splice from a file into a pipe (${RACE_SPLICERS.join(', ')}), got ${a.op}`)
    return 0
  }
  if (!(RACE_MUTATORS as readonly string[]).includes(b.op) || !('file' in b)) {
    add(`${path}.ops[1].op`, `a race's second op changes the file the splice reads: one of ${RACE_MUTATORS.join(', ')}, got ${b.op}`)
    return 0
  }
  if (b.file !== a.from.file) {
    add(`${path}.ops[1].file`, `the racing op must change the file the splice reads ("${a.from.file}"), got "${b.file}"`)
    return 0
  }
  return raceOverlapPages(op, pageSize)
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`)
}

function lineOf(doc: ReturnType<typeof parseDocument>, text: string, path: string): number | undefined {
  if (!path) return undefined
  const keys: (string | number)[] = []
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) keys.push(m[2] !== undefined ? Number(m[2]) : m[1]!)
  // Walk up until a node exists: a missing field is reported at its parent.
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined
    if (node && typeof node === 'object' && node.range) return text.slice(0, node.range[0]).split('\n').length
  }
  return undefined
}
