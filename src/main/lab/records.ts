/**
 * Run records on disk: one JSON file per run under runsDir() (or a given directory). Reading
 * validates with zod, so a damaged or foreign file is an error naming the field, and the app never
 * renders a half-shaped record.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { runsDir } from '../paths'
import { MountOptions, ScenarioSchema } from '../../shared/scenario/schema'
import { POLICIES } from '../../shared/results'
import { FILESYSTEMS } from '../../shared/vocabulary'
import { TARGET_KINDS } from '../../shared/target'
import { RUN_RECORD_VERSION, type RunRecord } from '../../shared/run/types'
import type { ExportFormat } from '../../shared/api'
import { bucketsCsv, csvAbout, eventsOfText, perOpCsv, toPerfetto } from '../../shared/trace/export'

const Filesystem = z.enum(FILESYSTEMS)
const Stats = z.object({ filemapCopied: z.number(), filemapMoved: z.number(), directCopied: z.number(), vmspliceCopied: z.number(), vmspliceStole: z.number() })
const Range = z.object({ start: z.number().int(), end: z.number().int(), holds: z.enum(['zero', 'current', 'other']) })
const Outcome = z.object({
  ret: z.number(),
  errno: z.string().nullable(),
  drain: z.object({ read: z.number(), changed: z.array(Range), changedBytes: z.number() }).optional(),
})
const Pages = z.object({ shared: z.number(), stolen: z.number(), copied: z.number() })
const Costs = z.object({ copyBytesPerNs: z.number(), reloadNsPerPage: z.number(), stealNsPerPage: z.number(), shareNsPerPage: z.number(), minorFaultNs: z.number() })
const Env = z.object({ fs: Filesystem, pageSize: z.number().int().positive(), costs: Costs, kernel: z.string().optional(), mount: MountOptions.optional() })
const OpKind = z.string().min(1)
const OpPrediction = z.object({
  path: z.string(),
  op: OpKind,
  iterations: z.number(),
  outcomes: z.array(Outcome),
  pages: Pages,
  bytesCopied: z.number(),
  reloads: z.number(),
  stats: Stats,
  tracepoints: z.record(z.string(), z.object({ min: z.number(), max: z.number() })),
  costNs: z.number(),
  notes: z.array(z.string()),
})
const Prediction = z.object({
  policy: z.enum(POLICIES),
  env: Env,
  ops: z.array(OpPrediction),
  totals: z.object({ pages: Pages, bytesCopied: z.number(), reloads: z.number(), costNs: z.number(), changedBytes: z.number() }),
})
const OpObservation = z.object({
  path: z.string(),
  op: OpKind,
  iterations: z.number(),
  outcome: Outcome,
  histogram: z.array(z.object({ outcome: Outcome, count: z.number() })).optional(),
  ns: z.number(),
  tracepoints: z.record(z.string(), z.number()).optional(),
  stats: Stats.nullable(),
  hw: z.object({ cycles: z.number(), instructions: z.number() }).nullable(),
})
const Observation = z.object({
  ops: z.array(OpObservation),
  facts: z.object({ spliceStats: z.boolean(), perf: z.boolean(), traceMarker: z.boolean(), notes: z.array(z.string()) }),
  incomplete: z.object({ reason: z.string() }).optional(),
})
const Agreement = z.object({ agreement: z.enum(['agree', 'disagree', 'unknown']), reasons: z.array(z.string()) })
const Counts = z.object({ agree: z.number(), disagree: z.number(), unknown: z.number() })
const Comparison = z.object({
  ops: z.array(z.object({ path: z.string(), op: OpKind, byPolicy: z.object({ stock: Agreement, 'steal-or-copy': Agreement, copy: Agreement }) })),
  verdict: z.object({
    behavesLike: z.enum([...POLICIES, 'none']),
    perPolicy: z.object({ stock: Counts, 'steal-or-copy': Counts, copy: Counts }),
    summary: z.string(),
  }),
})
const Trace = z.object({
  instance: z.string(),
  events: z.number(),
  lost: z.number(),
  perOp: z.record(z.string(), z.record(z.string(), z.number())),
  seriesPerOp: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  unavailable: z.string().optional(),
  buckets: z.array(z.object({ t: z.number(), counts: z.record(z.string(), z.number()) })).optional(),
  t0: z.number().optional(),
  bucketsDropped: z.number().optional(),
  raw: z.object({ chars: z.number(), droppedChars: z.number() }).optional(),
  reader: z.object({ kind: z.enum(['binary', 'text']), why: z.string().optional() }).optional(),
  counting: z.enum(['measured', 'inferred']).optional(),
})

export const RunRecordSchema = z.object({
  version: z.literal(RUN_RECORD_VERSION),
  id: z.string().regex(/^[A-Za-z0-9_-]+$/),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  scenario: ScenarioSchema,
  target: z.object({ label: z.string(), kind: z.enum(TARGET_KINDS), kernel: z.string(), arch: z.string(), pageSize: z.number(), root: z.boolean(), tracefs: z.boolean(), perf: z.boolean(), spliceStats: z.boolean(), vm: z.object({ kernel: z.string(), accelerator: z.enum(['kvm', 'tcg']), bootArgs: z.array(z.string()), cmdline: z.string() }).optional() }),
  fs: Filesystem,
  dir: z.string(),
  env: Env,
  predictions: z.object({ stock: Prediction, 'steal-or-copy': Prediction, copy: Prediction }),
  observation: Observation,
  comparison: Comparison,
  trace: Trace.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  kernelLog: z.string().optional(),
})

export class RecordError extends Error {
  constructor(
    message: string,
    readonly code: 'not-found' | 'unreadable' = 'unreadable',
  ) {
    super(message)
    this.name = 'RecordError'
  }
}

/** Writes the record atomically (temp file + rename); returns its path. */
export async function saveRunRecord(record: RunRecord, dir = runsDir()): Promise<string> {
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${record.id}.json`)
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(record, null, 1) + '\n')
  await rename(tmp, path)
  return path
}

/** Where a run's raw trace text lives: beside its record. */
export const runTracePath = (id: string, dir = runsDir()): string => join(dir, `${id}.trace.txt`)

/** Saves the raw trace_pipe text of a run beside its record (temp file + rename); returns its path. */
export async function saveRunTrace(id: string, text: string, dir = runsDir()): Promise<string> {
  await mkdir(dir, { recursive: true })
  const path = runTracePath(id, dir)
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, text)
  await rename(tmp, path)
  return path
}

/** The raw trace text saved with a run, or null when the run kept none. */
export async function loadRunTrace(id: string, dir = runsDir()): Promise<string | null> {
  try {
    return await readFile(runTracePath(id, dir), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

export function parseRunRecord(text: string, source: string): RunRecord {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new RecordError(`${source}: not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  const r = RunRecordSchema.safeParse(value)
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(record)'}: ${i.message}`)
    throw new RecordError(`${source}: not a run record of version ${RUN_RECORD_VERSION}: ${first.join('; ')}`)
  }
  return r.data as RunRecord
}

export async function loadRunRecord(path: string): Promise<RunRecord> {
  return parseRunRecord(await readFile(path, 'utf8'), path)
}

export interface ListedRecord {
  path: string
  record?: RunRecord
  /** Why the file could not be read as a record. */
  problem?: string
}

/** Every record in the directory, newest first; unreadable files are listed with the reason. */
export async function listRunRecords(dir = runsDir()): Promise<ListedRecord[]> {
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  const out = await Promise.all(
    names.map(async (n): Promise<ListedRecord> => {
      const path = join(dir, n)
      try {
        return { path, record: await loadRunRecord(path) }
      } catch (e) {
        return { path, problem: e instanceof Error ? e.message : String(e) }
      }
    }),
  )
  return out.sort((a, b) => (b.record?.startedAt ?? '').localeCompare(a.record?.startedAt ?? ''))
}

/**
 * The run records of one directory (default runsDir()): what the Lab saves after a run, and what
 * the app and the CLI list, open and export.
 */
export class RunRecords {
  constructor(readonly dir = runsDir()) {}

  save(record: RunRecord): Promise<string> {
    return saveRunRecord(record, this.dir)
  }

  saveTrace(id: string, text: string): Promise<string> {
    return saveRunTrace(id, text, this.dir)
  }

  /** The record of run `id`; RecordError 'not-found' when there is none. */
  async load(id: string): Promise<RunRecord> {
    const path = join(this.dir, `${id}.json`)
    try {
      return await loadRunRecord(path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RecordError(`no run record ${id} (looked for ${path})`, 'not-found')
      throw e instanceof RecordError ? e : new RecordError(e instanceof Error ? e.message : String(e))
    }
  }

  /** Saved records, newest first; files that do not read as records go to `warn`, not into the list. */
  async list(warn: (message: string) => void): Promise<RunRecord[]> {
    const out: RunRecord[] = []
    for (const entry of await listRunRecords(this.dir)) {
      if (entry.record) out.push(entry.record)
      else warn(entry.problem ?? `${entry.path}: unreadable`)
    }
    return out
  }

  /**
   * JSON: the record itself. CSV: the run's per-op tracepoint counts. Series CSV: its live series, one
   * row per 100 ms. Perfetto: Chrome's Trace Event Format; op slices from the probe's markers, kernel
   * events as instants and the series as counters when the run kept its raw trace (`<id>.trace.txt`),
   * else op slices from the probe's per-op durations.
   */
  async export(record: RunRecord, format: ExportFormat): Promise<string> {
    if (format === 'json') return JSON.stringify(record, null, 2) + '\n'
    if (format === 'csv') return csvAbout(record) + perOpCsv(record)
    if (format === 'series-csv') return csvAbout(record) + bucketsCsv(record.trace?.buckets ?? [])
    const raw = await loadRunTrace(record.id, this.dir)
    const { events, left, lost } = raw === null ? { events: [], left: 0, lost: [] } : eventsOfText(raw)
    const file = toPerfetto(record, { buckets: record.trace?.buckets ?? [], bucketsT0: record.trace?.t0, events, eventsLeftOut: left, lost })
    const kept = record.trace?.raw
    if (kept?.droppedChars) file.metadata.rawTraceNotKept = `${kept.droppedChars} characters of trace_pipe text after the first ${kept.chars}`
    return JSON.stringify(file)
  }
}
