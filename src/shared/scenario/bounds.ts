/**
 * The checks that keep a hostile scenario from costing more than its error message: the text's
 * size and nesting before the YAML parser sees it, the lengths of its lists before the schema
 * walks them, and, after the schema, every resolved size and the work the model and the probe
 * would do (SCENARIO_LIMITS says why each bound has its value).
 */
import { SCENARIO_LIMITS as L } from './limits'
import { compiledOpCount } from '../probe/limits'
import type { LeafOp, RaceOp, Scenario } from './schema'
import { resolveSize, type SizeSpec } from './size'

export interface BoundProblem {
  path: string
  message: string
}

const GiB = 1024 ** 3
const human = (bytes: number): string => (bytes >= GiB && bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${bytes} bytes`)

/**
 * Problems with the text itself, found without parsing it: longer than maxTextChars, or collections
 * nested deeper than maxDepth. Depth is the flow depth (`[`, `{` outside quoted scalars and
 * comments) plus the block depth (the stack of indentation columns, a `- ` entry counting as one
 * more column). It errs on the side of counting too much: a refusal names the line.
 */
export function textProblem(text: string): BoundProblem | null {
  if (text.length > L.maxTextChars) return { path: '', message: `the scenario is ${text.length} characters; at most ${L.maxTextChars} are accepted` }
  let flow = 0
  let quote: '"' | "'" | null = null
  const indents: number[] = []
  let line = 1
  let lineStart = 0
  /** The last character that was not a space on this line, before the current one. */
  let prev = '\n'
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '\n') {
      line++
      lineStart = i + 1
      prev = '\n'
      continue
    }
    if (quote) {
      if (quote === '"' && c === '\\') i++
      else if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i++
        else quote = null
      }
      prev = c
      continue
    }
    if (c === ' ' || c === '\t' || c === '\r') continue
    if (prev === '\n' && flow === 0) {
      // First character of a line outside flow collections: its block depth.
      let col = i - lineStart
      if (c === '#') {
        i = skipLine(text, i)
        continue
      }
      while (indents.length && indents[indents.length - 1]! >= col) indents.pop()
      indents.push(col)
      // Compact nested sequences ("- - - x") open one level per dash.
      let j = i
      while (text[j] === '-' && (text[j + 1] === ' ' || text[j + 1] === '\t')) {
        j += 2
        while (text[j] === ' ' || text[j] === '\t') j++
        col = j - lineStart
        indents.push(col)
      }
    }
    const startsScalar = prev === '\n' || prev === '[' || prev === '{' || prev === ',' || ((prev === ':' || prev === '-' || prev === '?') && /\s/.test(text[i - 1]!))
    if ((c === '"' || c === "'") && startsScalar) quote = c
    else if (c === '#' && /\s/.test(text[i - 1] ?? '\n')) {
      i = skipLine(text, i)
      continue
    } else if (c === '[' || c === '{') flow++
    else if ((c === ']' || c === '}') && flow > 0) flow--
    if (flow + indents.length > L.maxDepth)
      return { path: '', message: `collections nested deeper than ${L.maxDepth} levels at line ${line}; a scenario needs about 5` }
    prev = c
  }
  return null
}

function skipLine(text: string, i: number): number {
  const nl = text.indexOf('\n', i)
  return (nl === -1 ? text.length : nl) - 1
}

/**
 * Lists longer than the probe's tables, checked on the raw value before the schema parses every
 * element of them (100,000 ops took 22 s and 860 MB to validate).
 */
export function listProblems(value: unknown): BoundProblem[] {
  if (typeof value !== 'object' || value === null) return []
  const v = value as Record<string, unknown>
  const out: BoundProblem[] = []
  const check = (key: string, max: number, what: string): void => {
    const list = v[key]
    if (Array.isArray(list) && list.length > max) out.push({ path: key, message: `${list.length} ${what}; the probe takes at most ${max}` })
  }
  check('files', L.maxFiles, 'files')
  check('buffers', L.maxBuffers, 'buffers')
  check('pipes', L.maxPipes, 'pipes')
  check('ops', L.maxOps, 'ops')
  if (Array.isArray(v.ops))
    v.ops.forEach((op, i) => {
      const body = (op as { body?: unknown } | null)?.body
      if (Array.isArray(body) && body.length > L.maxOps) out.push({ path: `ops[${i}].body`, message: `${body.length} ops; the probe takes at most ${L.maxOps}` })
      const raced = (op as { ops?: unknown } | null)?.ops
      if (Array.isArray(raced) && raced.length > 2) out.push({ path: `ops[${i}].ops`, message: `${raced.length} ops; a race runs exactly 2` })
    })
  return out
}

/**
 * Bounds that need resolved sizes (the target's page size): every size, offset and length, the
 * total bytes declared, the compiled op count and the simulated work.
 */
export function boundProblems(s: Scenario, pageSize: number): BoundProblem[] {
  const out: BoundProblem[] = []
  const bytes = (spec: SizeSpec, path: string): number => {
    const n = resolveSize(spec, pageSize)
    if (n > L.maxBytes) out.push({ path, message: `${human(n)} is more than the ${human(L.maxBytes)} a scenario may use for one size, offset or length` })
    return n
  }
  const range = (offset: SizeSpec, len: SizeSpec, path: string): number => {
    const o = bytes(offset, `${path}.offset`)
    const n = bytes(len, `${path}.len`)
    if (o <= L.maxBytes && n <= L.maxBytes && o + n > L.maxBytes) out.push({ path: `${path}.len`, message: `the range ends at byte ${o + n}, past the ${human(L.maxBytes)} a scenario may address` })
    return n
  }

  const fileBytes = new Map<string, number>()
  const pipeBytes = new Map<string, number>()
  let total = 0
  s.files.forEach((f, i) => {
    const n = bytes(f.size, `files[${i}].size`)
    fileBytes.set(f.id, n)
    total += n
  })
  s.buffers.forEach((b, i) => {
    total += bytes(b.size, `buffers[${i}].size`)
    bytes(b.offset, `buffers[${i}].offset`)
  })
  s.pipes.forEach((p, i) => pipeBytes.set(p.id, bytes(p.size, `pipes[${i}].size`)))
  if (total > L.maxTotalBytes) out.push({ path: 'files', message: `files and buffers declare ${human(total)} together; at most ${human(L.maxTotalBytes)}` })

  const ops = compiledOpCount(s.ops)
  if (ops > L.maxOps) out.push({ path: 'ops', message: `${ops} op lines (a repeat and each op of its body count one each); the probe takes at most ${L.maxOps}` })

  const pages = (n: number): number => Math.ceil(n / pageSize)
  // Setting the files up writes each page once.
  let work = pages(total)
  const leafWork = (op: LeafOp, path: string): number => {
    switch (op.op) {
      case 'splice':
        return pages(range('file' in op.from ? op.from.offset : 0, op.len, path))
      case 'vmsplice': case 'pwrite': case 'write_other_process': case 'odirect_write': case 'mmap_store':
      case 'buf_store': case 'punch_hole': case 'zero_range': case 'madvise_dontneed': case 'fork':
      case 'tee': case 'fadvise_dontneed':
        return pages(range('offset' in op ? op.offset : 0, op.len, path))
      case 'truncate':
        return pages(bytes(op.size, `${path}.size`))
      case 'drain':
        return pages(op.len === 'all' ? (pipeBytes.get(op.pipe) ?? 0) : bytes(op.len, `${path}.len`))
      case 'mmap': case 'munmap': case 'fsync':
        // Whole-file ops: a read-faulting mmap, writeback and unmapping visit every page.
        return pages('file' in op && op.file ? (fileBytes.get(op.file) ?? 0) : 0)
      case 'close':
        return 0
    }
  }
  let racePages = 0
  s.ops.forEach((op, i) => {
    if (op.op === 'race') {
      op.ops.forEach((b, j) => (work += 1 + leafWork(b, `ops[${i}].ops[${j}]`)))
      racePages += raceOverlapPages(op, pageSize)
      return
    }
    if (op.op !== 'repeat') {
      work += 1 + leafWork(op, `ops[${i}]`)
      return
    }
    let body = 0
    op.body.forEach((b, j) => (body += 1 + leafWork(b, `ops[${i}].body[${j}]`)))
    work += op.times * body
  })
  // The model simulates the scenario once per way its races can interleave (model/race.ts).
  work *= 2 ** Math.min(racePages, 8)
  if (work > L.maxWork)
    out.push({ path: 'ops', message: `the scenario would simulate about ${work.toLocaleString('en-US')} page steps (repeat times × pages each op moves); at most ${L.maxWork.toLocaleString('en-US')}: repeat fewer times or move fewer pages` })
  return out
}

/**
 * Pages of the file that a race's splice reads and its other op changes (0 for a race that is not a
 * splice from a file against a change of a range of that file): the model allows each of them to be
 * read before or after the change.
 */
export function raceOverlapPages(op: RaceOp, pageSize: number): number {
  const [a, b] = op.ops
  if (a.op !== 'splice' || !('file' in a.from) || !('file' in b) || !('offset' in b) || !('len' in b) || b.file !== a.from.file) return 0
  const s = resolveSize(a.from.offset, pageSize)
  const e = s + resolveSize(a.len, pageSize)
  const lo = Math.max(s, resolveSize(b.offset, pageSize))
  const hi = Math.min(e, resolveSize(b.offset, pageSize) + resolveSize(b.len, pageSize))
  return hi > lo ? Math.ceil(hi / pageSize) - Math.floor(lo / pageSize) : 0
}
