/**
 * The probe's output, read on the TypeScript side: the JSON line shapes the C probe prints
 * (resources/probe: observe.c, main.c, calibrate.c, output.c; this file is their single TypeScript
 * definition — the C side prints exactly these), and `ObservationBuilder`, a tolerant incremental
 * reader that turns a byte stream cut anywhere (a pty, an ssh channel) into an `Observation`
 * (src/shared/results.ts). Change a line shape here and in the C files together.
 *
 * Wire format: one JSON object per line, `type` first. Lines that are not probe JSON (a shell's
 * echo, a compiler warning, a sanitizer report) are kept as log, never fatal. `\r\n` (ptys) and
 * `\n` both end a line.
 *
 *   {"type":"hello","protocol":1,"pid":123,"pageSize":4096,
 *    "facts":{"spliceStats":false,"perf":true,"traceMarker":true,"hw":false,"notes":["…why not…"]}}
 *   {"type":"op","path":"ops[3]","op":"drain","iterations":1,
 *    "outcome":{"ret":4096,"errno":null,"drain":{"read":4096,"changed":[{"start":100,"end":300,"holds":"current"}],"changedBytes":200}},
 *    "histogram":[{"outcome":{…},"count":1}],"ns":1234,"tracepoints":{"syscalls:sys_enter_splice":0},"stats":null,"hw":null}
 *        (optional "run": 0-based index of the scenario run when the probe itself loops over runs)
 *   {"type":"calibration","costs":{"copyBytesPerNs":…,"reloadNsPerPage":…,"stealNsPerPage":…,"shareNsPerPage":…,"minorFaultNs":…},"notes":[…]}
 *   {"type":"error","code":"scratch","message":"cannot create files in /x: EACCES","path":"ops[2]"}   (path optional)
 *   {"type":"done","ops":12,"exit":0}
 *   {"type":"done","ops":3,"exit":143,"signal":"SIGTERM"}   (stopped by a signal after finishing its op)
 *
 * A batch (`probe --batch`) brackets each program's lines, hello to done, with these (parseBatchLine):
 *   {"type":"begin","index":0}
 *   {"type":"end","index":0,"exit":0}        (the program's exit status as a shell gives it: 128+N killed by signal N)
 *
 * Exit codes: see PROBE_EXIT.
 */
import { MAX_RANGES, type ChangedRange, type DrainOutcome, type Observation, type OpObservation, type OpOutcome, type SpliceStats, type UnitCosts } from '../results'
import { OP_KINDS, type OpKind } from '../scenario/schema'

/** Version of the line format; the hello line carries it so a stale cached probe is recognised. */
export const PROBE_PROTOCOL = 1

export { PROBE_EXIT } from '../vocabulary'

export interface ProbeFacts {
  spliceStats: boolean
  perf: boolean
  traceMarker: boolean
  /** Hardware cycles/instructions counters were available. */
  hw: boolean
  /** Why something is missing (perf_event_paranoid, no tracefs, no /proc/fs/splice), one line each. */
  notes: string[]
}

export interface ProbeHelloLine {
  type: 'hello'
  protocol: number
  pid: number
  pageSize: number
  facts: ProbeFacts
}

export interface ProbeOpLine extends OpObservation {
  type: 'op'
  /** 0-based scenario run, when the probe loops over Scenario.runs itself. */
  run?: number
}

export interface ProbeCalibrationLine {
  type: 'calibration'
  costs: UnitCosts
  notes: string[]
}

export interface ProbeErrorLine {
  type: 'error'
  /** Short machine-readable kind: "usage", "program", "scratch", "setup", "timeout", "internal", "signal". */
  code: string
  message: string
  /** The op the error belongs to, when it belongs to one. */
  path?: string
}

export interface ProbeDoneLine {
  type: 'done'
  ops: number
  exit: number
  /** The signal that stopped the probe ("SIGTERM"), when one did (exit 128 + its number). */
  signal?: string
}

export type ProbeLine = ProbeHelloLine | ProbeOpLine | ProbeCalibrationLine | ProbeErrorLine | ProbeDoneLine

/** A line that looked like probe JSON but did not have the right shape: kept with the reason. */
export interface MalformedLine {
  line: string
  problem: string
}

// ---------------------------------------------------------------------------------------------------
// Shape checks. Hand-written rather than zod: this runs on every line of a GiB-scale stream and must
// say exactly which field is wrong.

type Obj = Record<string, unknown>

class ShapeError extends Error {}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function num(o: Obj, key: string, where: string): number {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ShapeError(`${where}.${key}: expected a number, got ${JSON.stringify(v)}`)
  return v
}
function str(o: Obj, key: string, where: string): string {
  const v = o[key]
  if (typeof v !== 'string') throw new ShapeError(`${where}.${key}: expected a string, got ${JSON.stringify(v)}`)
  return v
}
function bool(o: Obj, key: string, where: string): boolean {
  const v = o[key]
  if (typeof v !== 'boolean') throw new ShapeError(`${where}.${key}: expected true or false, got ${JSON.stringify(v)}`)
  return v
}
function obj(v: unknown, where: string): Obj {
  if (!isObj(v)) throw new ShapeError(`${where}: expected an object, got ${JSON.stringify(v)}`)
  return v
}
function strings(v: unknown, where: string): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ShapeError(`${where}: expected a list of strings`)
  return v as string[]
}

const HOLDS = new Set<ChangedRange['holds']>(['zero', 'current', 'other'])
const OP_KIND_SET = new Set<string>(OP_KINDS)

function parseDrain(v: unknown, where: string): DrainOutcome {
  const o = obj(v, where)
  const changedRaw = o.changed
  if (!Array.isArray(changedRaw)) throw new ShapeError(`${where}.changed: expected a list of ranges`)
  const changed = changedRaw.map((r, i): ChangedRange => {
    const w = `${where}.changed[${i}]`
    const ro = obj(r, w)
    const holds = str(ro, 'holds', w)
    if (!HOLDS.has(holds as ChangedRange['holds'])) throw new ShapeError(`${w}.holds: expected zero, current or other, got "${holds}"`)
    const start = num(ro, 'start', w)
    const end = num(ro, 'end', w)
    if (end <= start) throw new ShapeError(`${w}: empty or reversed range ${start}..${end}`)
    return { start, end, holds: holds as ChangedRange['holds'] }
  })
  if (changed.length > MAX_RANGES) throw new ShapeError(`${where}.changed: ${changed.length} ranges, more than MAX_RANGES (${MAX_RANGES})`)
  return { read: num(o, 'read', where), changed, changedBytes: num(o, 'changedBytes', where) }
}

function parseOutcome(v: unknown, where: string): OpOutcome {
  const o = obj(v, where)
  const errno = o.errno
  if (errno !== null && errno !== undefined && typeof errno !== 'string') throw new ShapeError(`${where}.errno: expected an errno name or null`)
  const out: OpOutcome = { ret: num(o, 'ret', where), errno: (errno as string | null | undefined) ?? null }
  if (o.drain !== undefined && o.drain !== null) out.drain = parseDrain(o.drain, `${where}.drain`)
  return out
}

function parseCounts(v: unknown, where: string): Record<string, number> {
  const o = obj(v, where)
  for (const k of Object.keys(o)) num(o, k, where)
  return o as Record<string, number>
}

const STAT_KEYS: (keyof SpliceStats)[] = ['filemapCopied', 'filemapMoved', 'directCopied', 'vmspliceCopied', 'vmspliceStole']

function parseStats(v: unknown, where: string): SpliceStats | null {
  if (v === null || v === undefined) return null
  const o = obj(v, where)
  const s = {} as SpliceStats
  for (const k of STAT_KEYS) s[k] = num(o, k, where)
  return s
}

function parseOpLine(o: Obj): ProbeOpLine {
  const path = str(o, 'path', 'op')
  const w = `op ${path}`
  const op = str(o, 'op', w)
  if (!OP_KIND_SET.has(op)) throw new ShapeError(`${w}.op: unknown op kind "${op}"`)
  const line: ProbeOpLine = {
    type: 'op',
    path,
    op: op as OpKind,
    iterations: o.iterations === undefined ? 1 : num(o, 'iterations', w),
    outcome: parseOutcome(o.outcome, `${w}.outcome`),
    ns: num(o, 'ns', w),
    stats: parseStats(o.stats, `${w}.stats`),
    hw: null,
  }
  if (o.histogram !== undefined) {
    if (!Array.isArray(o.histogram)) throw new ShapeError(`${w}.histogram: expected a list`)
    line.histogram = o.histogram.map((h, i) => {
      const ho = obj(h, `${w}.histogram[${i}]`)
      return { outcome: parseOutcome(ho.outcome, `${w}.histogram[${i}].outcome`), count: num(ho, 'count', `${w}.histogram[${i}]`) }
    })
  }
  if (o.tracepoints !== undefined && o.tracepoints !== null) line.tracepoints = parseCounts(o.tracepoints, `${w}.tracepoints`)
  if (o.hw !== undefined && o.hw !== null) {
    const hw = obj(o.hw, `${w}.hw`)
    line.hw = { cycles: num(hw, 'cycles', `${w}.hw`), instructions: num(hw, 'instructions', `${w}.hw`) }
  }
  if (o.run !== undefined) line.run = num(o, 'run', w)
  return line
}

/** Unit costs from a calibration line's `costs`; every cost must be a positive finite number. */
export function parseUnitCosts(v: unknown): UnitCosts {
  const o = obj(v, 'calibration.costs')
  const keys: (keyof UnitCosts)[] = ['copyBytesPerNs', 'reloadNsPerPage', 'stealNsPerPage', 'shareNsPerPage', 'minorFaultNs']
  const costs = {} as UnitCosts
  for (const k of keys) {
    const n = num(o, k, 'calibration.costs')
    if (!(n > 0)) throw new ShapeError(`calibration.costs.${k}: expected a positive number, got ${n}`)
    costs[k] = n
  }
  return costs
}

/** A batch's bracket around one program's lines. */
export type ProbeBatchLine = { type: 'begin'; index: number } | { type: 'end'; index: number; exit: number }

/** A batch's begin or end line, or null for any other line (the program's own, for its reader). */
export function parseBatchLine(raw: string): ProbeBatchLine | null {
  const line = raw.trim()
  if (!line.startsWith('{"type":"begin"') && !line.startsWith('{"type":"end"')) return null
  try {
    const v: unknown = JSON.parse(line)
    if (!isObj(v)) return null
    const index = num(v, 'index', String(v.type))
    return v.type === 'begin' ? { type: 'begin', index } : { type: 'end', index, exit: num(v, 'exit', 'end') }
  } catch {
    return null
  }
}

/**
 * Parses one line. Returns the typed line, `null` for a line that is not probe JSON (log), or a
 * MalformedLine when it is JSON with a probe `type` but a wrong shape.
 */
export function parseProbeLine(raw: string): ProbeLine | MalformedLine | null {
  const line = raw.trim()
  if (!line.startsWith('{"type"') && !line.startsWith('{ "type"')) return null
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch (e) {
    return { line, problem: `not valid JSON: ${(e as Error).message}` }
  }
  if (!isObj(v)) return null
  try {
    switch (v.type) {
      case 'hello': {
        const f = obj(v.facts, 'hello.facts')
        return {
          type: 'hello',
          protocol: num(v, 'protocol', 'hello'),
          pid: num(v, 'pid', 'hello'),
          pageSize: num(v, 'pageSize', 'hello'),
          facts: {
            spliceStats: bool(f, 'spliceStats', 'hello.facts'),
            perf: bool(f, 'perf', 'hello.facts'),
            traceMarker: bool(f, 'traceMarker', 'hello.facts'),
            hw: f.hw === undefined ? false : bool(f, 'hw', 'hello.facts'),
            notes: strings(f.notes, 'hello.facts.notes'),
          },
        }
      }
      case 'op':
        return parseOpLine(v)
      case 'calibration':
        return { type: 'calibration', costs: parseUnitCosts(v.costs), notes: strings(v.notes, 'calibration.notes') }
      case 'error': {
        const e: ProbeErrorLine = { type: 'error', code: typeof v.code === 'string' ? v.code : 'error', message: str(v, 'message', 'error') }
        if (typeof v.path === 'string') e.path = v.path
        return e
      }
      case 'done': {
        const done: ProbeDoneLine = { type: 'done', ops: num(v, 'ops', 'done'), exit: v.exit === undefined ? 0 : num(v, 'exit', 'done') }
        if (v.signal !== undefined) done.signal = str(v, 'signal', 'done')
        return done
      }
      default:
        return { line, problem: `unknown probe line type ${JSON.stringify(v.type)}` }
    }
  } catch (e) {
    if (e instanceof ShapeError) return { line, problem: e.message }
    throw e
  }
}

export function isMalformed(x: ProbeLine | MalformedLine | null): x is MalformedLine {
  return x !== null && 'problem' in x
}

// ---------------------------------------------------------------------------------------------------
// Merging observations of the same op (several scenario runs).

function outcomeKey(o: OpOutcome): string {
  const d = o.drain
  return JSON.stringify([o.ret, o.errno ?? null, d ? [d.read, d.changedBytes, d.changed.map((r) => [r.start, r.end, r.holds])] : null])
}

function histogramOf(o: OpObservation): { outcome: OpOutcome; count: number }[] {
  return o.histogram && o.histogram.length ? o.histogram : [{ outcome: o.outcome, count: 1 }]
}

function maxCounts<T extends string>(a: Partial<Record<T, number>> | undefined, b: Partial<Record<T, number>> | undefined): Record<T, number> | undefined {
  if (!a || !b) return undefined
  const out = { ...a } as Record<T, number>
  for (const [k, v] of Object.entries(b) as [T, number][]) out[k] = Math.max(out[k] ?? 0, v)
  return out
}

/**
 * Folds the observations of one op over several scenario runs into one: histograms add up; `outcome`
 * is the first outcome that differed from the first run's, else the first run's; `ns` is the mean per
 * run; tracepoint counts, /proc/fs/splice deltas and hw counters are the maximum per run (an excess
 * is what a model's range misses most often; the histogram keeps the outcome spread).
 * Shortcut, known: a count that dips below a predicted minimum in one run but not in the others is
 * not visible after the merge.
 */
export function mergeOpRuns(runs: OpObservation[]): OpObservation {
  if (runs.length === 0) throw new Error('mergeOpRuns: no observations')
  const first = runs[0]!
  if (runs.length === 1) return { ...first, histogram: histogramOf(first) }
  const hist = new Map<string, { outcome: OpOutcome; count: number }>()
  let outcome = first.outcome
  const firstKey = outcomeKey(first.outcome)
  let ns = 0
  let tracepoints = first.tracepoints
  let stats: SpliceStats | null = first.stats
  let hw = first.hw
  for (const r of runs) {
    if (r.path !== first.path || r.op !== first.op) throw new Error(`mergeOpRuns: ${r.path} (${r.op}) is not ${first.path} (${first.op})`)
    for (const h of histogramOf(r)) {
      const k = outcomeKey(h.outcome)
      const have = hist.get(k)
      if (have) have.count += h.count
      else hist.set(k, { outcome: h.outcome, count: h.count })
    }
    if (outcome === first.outcome && outcomeKey(r.outcome) !== firstKey) outcome = r.outcome
    ns += r.ns
    if (r !== first) {
      tracepoints = maxCounts(tracepoints, r.tracepoints)
      stats = stats && r.stats ? (maxCounts(stats as unknown as Record<string, number>, r.stats as unknown as Record<string, number>) as unknown as SpliceStats) : null
      hw = hw && r.hw ? { cycles: Math.max(hw.cycles, r.hw.cycles), instructions: Math.max(hw.instructions, r.hw.instructions) } : null
    }
  }
  const merged: OpObservation = {
    path: first.path,
    op: first.op,
    iterations: first.iterations,
    outcome,
    histogram: [...hist.values()],
    ns: Math.round(ns / runs.length),
    stats,
    hw,
  }
  if (tracepoints) merged.tracepoints = tracepoints
  return merged
}

/** One Observation from the Observations of several runs of the same scenario (the probe called N times). */
export function mergeObservations(observations: Observation[]): Observation {
  if (observations.length === 0) throw new Error('mergeObservations: no observations')
  if (observations.length === 1) return observations[0]!
  const byPath = new Map<string, OpObservation[]>()
  for (const o of observations) {
    for (const op of o.ops) {
      const list = byPath.get(op.path)
      if (list) list.push(op)
      else byPath.set(op.path, [op])
    }
  }
  const notes = [...new Set(observations.flatMap((o) => o.facts.notes))]
  const merged: Observation = {
    ops: [...byPath.values()].map(mergeOpRuns),
    facts: {
      spliceStats: observations.every((o) => o.facts.spliceStats),
      perf: observations.every((o) => o.facts.perf),
      traceMarker: observations.every((o) => o.facts.traceMarker),
      notes: [...notes, `${observations.length} runs merged: histograms per op`],
    },
  }
  const incomplete = observations.map((o, i) => (o.incomplete ? `run ${i + 1}: ${o.incomplete.reason}` : null)).filter((x): x is string => x !== null)
  if (incomplete.length) merged.incomplete = { reason: incomplete.join('; ') }
  return merged
}

// ---------------------------------------------------------------------------------------------------
// The incremental reader.

/** Longest line kept; a longer one (a runaway process writing without newlines) is cut and logged. Default 1 MiB. */
export const MAX_LINE_CHARS = 1 << 20

export class ObservationBuilder {
  hello: ProbeHelloLine | null = null
  done: ProbeDoneLine | null = null
  calibration: ProbeCalibrationLine | null = null
  readonly errors: ProbeErrorLine[] = []
  readonly malformed: MalformedLine[] = []
  /** Lines that were not probe JSON, in order (shell noise, sanitizer reports…). */
  readonly log: string[] = []
  /** Op lines in arrival order (per run when the probe loops over runs). */
  readonly opLines: ProbeOpLine[] = []
  private partial = ''

  /**
   * Feeds a chunk of output, cut anywhere. Returns the probe lines completed by this chunk, in order,
   * so a live run can stream them.
   */
  push(chunk: string): ProbeLine[] {
    const out: ProbeLine[] = []
    let text = this.partial + chunk
    let nl = text.indexOf('\n')
    let start = 0
    while (nl !== -1) {
      const line = this.take(text.slice(start, nl))
      if (line) out.push(line)
      start = nl + 1
      nl = text.indexOf('\n', start)
    }
    text = text.slice(start)
    if (text.length > MAX_LINE_CHARS) {
      this.log.push(`${text.slice(0, 200)}… (${text.length} characters without a newline, cut)`)
      text = ''
    }
    this.partial = text
    return out
  }

  /**
   * Feeds one whole line (for callers that already split lines, e.g. a pty line reader); returns the
   * probe line it was, or null for log and malformed lines. Do not mix with a pending partial chunk.
   */
  pushLine(line: string): ProbeLine | null {
    return this.take(line)
  }

  /** The op observations so far, in arrival order (one per op line). */
  get opCount(): number {
    return this.opLines.length
  }

  private take(raw: string): ProbeLine | null {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const parsed = parseProbeLine(line)
    if (parsed === null) {
      if (line.trim() !== '') this.log.push(line)
      return null
    }
    if (isMalformed(parsed)) {
      this.malformed.push(parsed)
      return null
    }
    switch (parsed.type) {
      case 'hello':
        this.hello = parsed
        break
      case 'op':
        this.opLines.push(parsed)
        break
      case 'calibration':
        this.calibration = parsed
        break
      case 'error':
        this.errors.push(parsed)
        break
      case 'done':
        this.done = parsed
        break
    }
    return parsed
  }

  /**
   * The Observation so far. `incompleteReason` (the probe was killed, the session dropped, a non-zero
   * exit) marks it incomplete; so does a missing done line or a fatal error line. Finished ops are kept.
   */
  finish(incompleteReason?: string): Observation {
    if (this.partial !== '') {
      const rest = this.partial
      this.partial = ''
      this.take(rest)
    }
    const byPath = new Map<string, OpObservation[]>()
    for (const l of this.opLines) {
      const { type: _type, run: _run, ...op } = l
      const list = byPath.get(op.path)
      if (list) list.push(op)
      else byPath.set(op.path, [op])
    }
    const ops = [...byPath.values()].map((list) => (list.length === 1 ? list[0]! : mergeOpRuns(list)))
    const notes = this.hello ? [...this.hello.facts.notes] : ['the probe printed no hello line']
    for (const m of this.malformed) notes.push(`malformed probe line: ${m.problem}`)
    const obs: Observation = {
      ops,
      facts: {
        spliceStats: this.hello?.facts.spliceStats ?? false,
        perf: this.hello?.facts.perf ?? false,
        traceMarker: this.hello?.facts.traceMarker ?? false,
        notes,
      },
    }
    const reasons: string[] = []
    if (incompleteReason) reasons.push(incompleteReason)
    for (const e of this.errors) reasons.push(e.path ? `${e.path}: ${e.message}` : e.message)
    if (!this.done && !incompleteReason) reasons.push(`the probe stopped before its done line (after ${ops.length} op${ops.length === 1 ? '' : 's'})`)
    if (reasons.length) obs.incomplete = { reason: reasons.join('; ') }
    return obs
  }
}

/** Unit costs from a calibration run's output (`probe --calibrate DIR`); throws naming what is missing or wrong. */
export function parseCalibrationOutput(text: string): UnitCosts {
  const b = new ObservationBuilder()
  b.push(text)
  b.finish('calibration')
  if (b.calibration) return b.calibration.costs
  const why = b.errors.map((e) => e.message).concat(b.malformed.map((m) => m.problem))
  throw new Error(`the probe printed no calibration line${why.length ? `: ${why.join('; ')}` : ''}${b.log.length ? ` (output: ${b.log.slice(-3).join(' | ')})` : ''}`)
}
