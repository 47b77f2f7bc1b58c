/**
 * Shrinking a disagreement to a minimal scenario that still disagrees, as delta debugging does:
 * first whole ops (halves, quarters, … single ops; a repeat by its body; a race by its two ops in
 * either order), then the declarations no
 * op uses, then every number towards page boundaries and small values, then every choice towards
 * its default. A candidate is kept only if the validator accepts it and `stillFails` says it still
 * disagrees; every kept step makes the scenario strictly smaller, so shrinking ends.
 *
 * `stillFails` is the caller's: a kernel run plus a comparison in `explore`, a broken model in the
 * tests. Whether the minimal case is deterministic or a race is the caller's to decide by running
 * it again (the shrinker stops at the first scenario that fails once).
 */
import type { Scenario } from '../scenario/schema'
import { validateScenario } from '../scenario/validate'
import { resolveSize } from '../scenario/size'

export interface ShrinkOptions {
  pageSize?: number
  /** Stop after this many calls of `stillFails`. Default 400. */
  maxAttempts?: number
  signal?: { readonly aborted: boolean }
}

export interface ShrinkResult {
  scenario: Scenario
  /** Calls of `stillFails`. */
  attempts: number
  /** Candidates kept (each a smaller scenario that still failed). */
  steps: number
  /** True when no candidate was left untried (the result is 1-minimal for these moves). */
  minimal: boolean
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Obj = { [k: string]: Json }

export async function shrinkScenario(
  start: Scenario,
  stillFails: (candidate: Scenario) => Promise<boolean>,
  options: ShrinkOptions = {},
): Promise<ShrinkResult> {
  return shrinkScenarioBatched(start, (cs) => Promise.all(cs.map(stillFails)), { ...options, parallel: 1 })
}

/**
 * The same search, asking about up to `parallel` candidates at once (a kernel runs a batch of
 * them in one probe session for little more than one): of each group, the first that still fails
 * (in the order the candidates come) is kept, so the result is the one a sequential search finds.
 */
export async function shrinkScenarioBatched(
  start: Scenario,
  stillFail: (candidates: Scenario[]) => Promise<boolean[]>,
  options: ShrinkOptions & { parallel?: number } = {},
): Promise<ShrinkResult> {
  const P = options.pageSize ?? 4096
  const maxAttempts = options.maxAttempts ?? 400
  const parallel = Math.max(1, options.parallel ?? 1)
  let current = normalise(start, P)
  // The same candidate can come up again after a step elsewhere; a kernel run is not free.
  const tried = new Set<string>()
  let attempts = 0
  let steps = 0
  for (;;) {
    let progressed = false
    let group: Scenario[] = []
    const ask = async (): Promise<boolean> => {
      const answers = await stillFail(group)
      attempts += group.length
      const first = answers.findIndex(Boolean)
      if (first >= 0) {
        current = group[first]!
        steps++
      }
      group = []
      return first >= 0
    }
    for (const candidate of candidates(current, P)) {
      if (options.signal?.aborted || attempts + group.length >= maxAttempts) break
      const key = JSON.stringify(candidate)
      if (tried.has(key)) continue
      tried.add(key)
      const checked = validateScenario(candidate, '<shrink>', P)
      // Invalid, or a default filled back in: no smaller than what we have.
      if (!checked.ok || JSON.stringify(checked.scenario) === JSON.stringify(current)) continue
      group.push(checked.scenario)
      if (group.length >= parallel && (await ask())) {
        progressed = true
        break
      }
    }
    if (!progressed && group.length && (await ask())) progressed = true
    if (progressed) continue
    const minimal = !options.signal?.aborted && attempts < maxAttempts
    return { scenario: current, attempts, steps, minimal }
  }
}

/** Sizes written as "2p" or "16KiB" become byte counts, so every number can shrink the same way. */
function normalise(s: Scenario, P: number): Scenario {
  const SIZE_KEYS = new Set(['size', 'offset', 'len'])
  const walk = (v: Json, key?: string): Json => {
    if (Array.isArray(v)) return v.map((x) => walk(x))
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]))
    if (typeof v === 'string' && key && SIZE_KEYS.has(key) && v !== 'all') return resolveSize(v, P)
    return v
  }
  return walk(s as unknown as Json) as unknown as Scenario
}

function* candidates(s: Scenario, P: number): Generator<unknown> {
  yield* fewerOps(s)
  yield* racesInOrder(s)
  yield* fewerDeclarations(s)
  yield* shiftedFiles(s, P)
  yield* smallerNumbers(s, P)
  yield* plainerChoices(s)
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** ddmin over the top-level ops, then inside each repeat; a repeat also tries its body in its place. */
function* fewerOps(s: Scenario): Generator<unknown> {
  const n = s.ops.length
  for (let chunk = Math.max(1, n >> 1); chunk >= 1; chunk >>= 1) {
    for (let at = 0; at < n; at += chunk) {
      if (chunk === n) continue
      const c = clone(s)
      c.ops.splice(at, chunk)
      yield c
    }
    if (chunk === 1) break
  }
  for (let i = 0; i < n; i++) {
    const op = s.ops[i]!
    if (op.op !== 'repeat') continue
    const unrolled = clone(s)
    unrolled.ops.splice(i, 1, ...clone(op.body))
    yield unrolled
    if (op.times > 1) {
      const fewer = clone(s)
      ;(fewer.ops[i] as typeof op).times = 1
      yield fewer
    }
    for (let j = 0; j < op.body.length && op.body.length > 1; j++) {
      const c = clone(s)
      ;(c.ops[i] as typeof op).body.splice(j, 1)
      yield c
    }
  }
}

/**
 * A race replaced by its two ops one after the other, in each order: a disagreement that one order
 * shows is a rule, not a race, and a run of it shows it every time. No move adds a race, so this
 * one cannot be undone and shrinking still ends.
 */
function* racesInOrder(s: Scenario): Generator<unknown> {
  for (let i = 0; i < s.ops.length; i++) {
    const op = s.ops[i]!
    if (op.op !== 'race') continue
    const [first, second] = op.ops
    for (const order of [[first, second], [second, first]]) {
      const c = clone(s)
      c.ops.splice(i, 1, ...clone(order))
      yield c
    }
  }
}

/** Files, buffers and pipes that no op names any more. */
function* fewerDeclarations(s: Scenario): Generator<unknown> {
  const used = JSON.stringify(s.ops)
  const named = (id: string): boolean => used.includes(`"${id}"`)
  for (const list of ['files', 'buffers', 'pipes'] as const) {
    for (let i = 0; i < s[list].length; i++) {
      if (named(s[list][i]!.id)) continue
      const c = clone(s)
      c[list].splice(i, 1)
      yield c
    }
  }
}

/**
 * A file's ranges moved down together by whole pages (the file shrinking with them): ranges that
 * only matter relative to each other cannot get there one number at a time.
 */
function* shiftedFiles(s: Scenario, P: number): Generator<unknown> {
  for (const file of s.files) {
    const lowest = Math.min(...fileOffsets(s.ops as unknown as Json, file.id).map(([o, k]) => o[k] as number))
    if (!Number.isFinite(lowest)) continue
    // Whole pages first (keeps every range's place within its page), then all the way down.
    for (const shift of new Set([Math.floor(lowest / P) * P, lowest])) {
      if (shift === 0) continue
      const c = clone(s)
      for (const [o, k] of fileOffsets(c.ops as unknown as Json, file.id)) o[k] = (o[k] as number) - shift
      const spec = c.files.find((f) => f.id === file.id)!
      spec.size = Math.max(1, Number(spec.size) - shift)
      yield c
    }
  }
}

/** Every place in the ops that holds a position in file `id`: the `offset` beside it, a truncate's size. */
function fileOffsets(v: Json, id: string): [Obj, string][] {
  const out: [Obj, string][] = []
  const visit = (o: Json): void => {
    if (Array.isArray(o)) return o.forEach(visit)
    if (!o || typeof o !== 'object') return
    if (o.file === id) {
      if (typeof o.offset === 'number') out.push([o, 'offset'])
      if (o.op === 'truncate' && typeof o.size === 'number') out.push([o, 'size'])
    }
    Object.values(o).forEach(visit)
  }
  visit(v)
  return out
}

/** Strictly smaller values, the plainest first: 0, page multiples below, a page, halves, 1. */
function simplerValues(v: number, P: number): number[] {
  const out = [0, Math.floor(v / P) * P, P, Math.floor(v / 2 / P) * P, Math.floor(v / 2), 1]
  return [...new Set(out)].filter((x) => x >= 0 && x < v)
}

const NUMBER_KEYS = new Set(['size', 'offset', 'len', 'times'])

function* smallerNumbers(s: Scenario, P: number): Generator<unknown> {
  const root = s as unknown as Obj
  const paths: (string | number)[][] = []
  const collect = (v: Json, path: (string | number)[]): void => {
    if (Array.isArray(v)) v.forEach((x, i) => collect(x, [...path, i]))
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, [...path, k])
    else if (typeof v === 'number' && NUMBER_KEYS.has(String(path[path.length - 1]))) paths.push(path)
  }
  collect(root, [])
  for (const path of paths) {
    const v = get(root, path) as number
    for (const smaller of simplerValues(v, P)) {
      if (path[path.length - 1] === 'times' && smaller < 1) continue
      const c = clone(root)
      set(c, path, smaller)
      yield c
    }
  }
}

/** Each choice towards the plainest value the format has. */
const PLAIN: Record<string, Json> = {
  layout: 'per_page', state: 'synced', cached: true, kind: 'private', gift: false, len: 'all',
  keep_size: false, fault: 'none',
}

function* plainerChoices(s: Scenario): Generator<unknown> {
  if (Object.keys(s.mount ?? {}).length) yield { ...clone(s), mount: {} }
  const root = s as unknown as Obj
  const visit = function* (v: Json, path: (string | number)[]): Generator<unknown> {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) yield* visit(v[i]!, [...path, i])
      return
    }
    if (!v || typeof v !== 'object') return
    for (const [k, x] of Object.entries(v)) {
      if (k === 'pattern') {
        // Without a pattern the format's default applies: one less thing for a reader to check.
        const c = clone(root)
        delete (get(c, path) as Obj).pattern
        yield c
        continue
      }
      const plain = PLAIN[k]
      const isDrainLen = k === 'len' && (v as Obj).op === 'drain'
      if (plain !== undefined && (k !== 'len' || isDrainLen) && x !== plain) {
        const c = clone(root)
        set(c, [...path, k], plain)
        yield c
      }
      yield* visit(x, [...path, k])
    }
  }
  yield* visit(root, [])
}

function get(root: Json, path: (string | number)[]): Json {
  let v: Json = root
  for (const k of path) v = (v as Obj)[k as string] as Json
  return v
}

function set(root: Json, path: (string | number)[], value: Json): void {
  const parent = get(root, path.slice(0, -1)) as Obj
  parent[path[path.length - 1] as string] = value
}
