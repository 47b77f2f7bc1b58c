/**
 * The seed's cost, counted (issue 11): per preset × filesystem × policy the kernel was booted with,
 * pages stolen, pages copied, bytes copied and reloads — what the model predicted for that policy
 * against what the kernel counted.
 *
 * Pages are taken from the /proc/fs/splice counters on both sides (the model predicts their deltas
 * per op, the probe reads them per op), so the two columns count the same thing: stolen =
 * filemap moved + vmsplice stole, copied = filemap copied + vmsplice copied + direct copied.
 * Bytes copied are bytes copied *into pipes* from a file (splice) or from user memory (vmsplice):
 * measured, the sum of the splice:splice_copy events' bytes= in a traced run on a kernel that has
 * them (the run's bytesCopied series); predicted, the model's bytes copied by those same ops (its
 * pipe → file splices and tee copies are left out: the tracepoint does not see them). /proc/fs/splice
 * counts pages, not bytes: an untraced run has no measured bytes (null). Measured reloads come from
 * the traced run's live series (page-cache additions of a page an earlier deletion removed,
 * src/shared/trace/aggregate.ts); a run traced without a series has none.
 */
import type { OpPrediction, Policy, SpliceStats } from '../results'
import { POLICIES } from '../results'
import type { RunRecord } from './types'

export interface CostCounts {
  stolen: number
  copied: number
  bytesCopied: number | null
  reloads: number | null
}

export interface CostRow {
  preset: string
  fs: string
  /** The policy the kernel was booted with (`splice_policy=`), else stock. */
  policy: Policy
  runs: number
  /** Ops compared: those the probe observed (an incomplete run's missing ops are left out on both sides). */
  ops: number
  predicted: CostCounts
  /** Null when a run's kernel has no /proc/fs/splice (or an observed op lacks its deltas). */
  measured: CostCounts | null
  /** Predicted cost (ns) and measured op time (ns), only for runs under KVM; else null. */
  times: { predictedNs: number; measuredNs: number } | null
}

export interface CostTable {
  rows: CostRow[]
  totals: Omit<CostRow, 'preset' | 'fs' | 'policy'>
  /** Why times are missing, once per reason ("under TCG time is not comparable"). */
  notes: string[]
}

const POLICY_ARG = 'splice_policy='

/** The policy a record's kernel ran: the last `splice_policy=` of its boot args or command line, else stock. */
export function bootedPolicy(r: RunRecord): Policy {
  const words = [...(r.target.vm?.cmdline.split(/\s+/) ?? []), ...(r.target.vm?.bootArgs ?? [])]
  const arg = words.filter((w) => w.startsWith(POLICY_ARG)).pop()
  const value = arg?.slice(POLICY_ARG.length)
  return (POLICIES as readonly string[]).includes(value ?? '') ? (value as Policy) : 'stock'
}

function stolenOf(s: SpliceStats): number {
  return s.filemapMoved + s.vmspliceStole
}

function copiedOf(s: SpliceStats): number {
  return s.filemapCopied + s.vmspliceCopied + s.directCopied
}

/** Why a record's times are not shown, or null when they are (KVM). */
function timesWhyNot(r: RunRecord): string | null {
  const accel = r.target.vm?.accelerator
  if (accel === 'kvm') return null
  if (accel === 'tcg') return 'under TCG (emulated CPU) time is not comparable; counts are'
  return `${r.target.label} is not a KVM guest; times shown only for KVM runs`
}

function reloadsMeasured(r: RunRecord): number | null {
  const buckets = r.trace?.buckets
  if (!buckets || r.trace?.unavailable) return null
  return buckets.reduce((n, b) => n + b.counts.reloads, 0)
}

/** The splice_copy events' bytes= summed over a traced run, where the kernel had them; else null. */
function bytesCopiedMeasured(r: RunRecord): number | null {
  const buckets = r.trace?.buckets
  if (!buckets || r.trace?.unavailable || r.trace?.counting !== 'measured') return null
  return buckets.reduce((n, b) => n + (b.counts.bytesCopied ?? 0), 0)
}

/**
 * The bytes an op's prediction copies into pipes from a file or user memory: what the splice_copy
 * events' bytes= count. The model copies bytes in three places (src/shared/model/policy.ts copyPage
 * from a file or user page, which also counts filemap/vmsplice copied; copy's tee; pipe.ts's
 * pipe → file splice); only the first fills a pipe from a file or user memory, so an op's bytes count
 * when it is a splice or vmsplice whose /proc/fs/splice copies are not zero.
 */
export function bytesCopiedIntoPipes(o: OpPrediction): number {
  if (o.op !== 'splice' && o.op !== 'vmsplice') return 0
  return o.stats.filemapCopied + o.stats.vmspliceCopied > 0 ? o.bytesCopied : 0
}

/** One record's row (runs = 1). */
export function costOfRecord(r: RunRecord): CostRow {
  const policy = bootedPolicy(r)
  const observed = r.observation.ops
  const paths = new Set(observed.map((o) => o.path))
  const predOps = r.predictions[policy].ops.filter((o) => paths.has(o.path))
  const predicted: CostCounts = { stolen: 0, copied: 0, bytesCopied: 0, reloads: 0 }
  for (const o of predOps) {
    predicted.stolen += stolenOf(o.stats)
    predicted.copied += copiedOf(o.stats)
    predicted.bytesCopied! += bytesCopiedIntoPipes(o)
    predicted.reloads! += o.reloads
  }
  let measured: CostCounts | null = { stolen: 0, copied: 0, bytesCopied: bytesCopiedMeasured(r), reloads: reloadsMeasured(r) }
  for (const o of observed) {
    if (!o.stats || !measured) {
      measured = null
      break
    }
    measured.stolen += stolenOf(o.stats)
    measured.copied += copiedOf(o.stats)
  }
  const times = timesWhyNot(r)
    ? null
    : { predictedNs: predOps.reduce((n, o) => n + o.costNs, 0), measuredNs: observed.reduce((n, o) => n + o.ns, 0) }
  return { preset: r.scenario.name, fs: r.fs, policy, runs: 1, ops: observed.length, predicted, measured, times }
}

/** One run's cost as the Run view shows it: every policy's prediction beside what the kernel counted. */
export interface RunCost {
  /** The policy the kernel was booted with (`splice_policy=`), else stock. */
  booted: Policy
  /** Per policy, over the ops the probe observed. */
  predicted: Record<Policy, { stolen: number; copied: number; bytesCopied: number; reloads: number; costNs: number }>
  /** Null fields: not known for this run. */
  measured: { stolen: number | null; copied: number | null; bytesCopied: number | null; reloads: number | null; ns: number }
  /** Where the measured pages come from: the kernel's /proc/fs/splice, its splice tracepoints, or inferred from stock tracepoints. */
  pagesFrom: '/proc/fs/splice' | 'splice tracepoints' | 'inferred from tracepoints' | null
  /** Why the times are not comparable (an emulated CPU), or null when they are. */
  timesNote: string | null
}

/** A run's cost per policy and measured (pages from /proc/fs/splice when the kernel has it, else the traced series). */
export function runCost(r: RunRecord): RunCost {
  const paths = new Set(r.observation.ops.map((o) => o.path))
  const predicted = Object.fromEntries(
    POLICIES.map((p) => {
      const c = { stolen: 0, copied: 0, bytesCopied: 0, reloads: 0, costNs: 0 }
      for (const o of r.predictions[p].ops) {
        if (!paths.has(o.path)) continue
        c.stolen += stolenOf(o.stats)
        c.copied += copiedOf(o.stats)
        c.bytesCopied += bytesCopiedIntoPipes(o)
        c.reloads += o.reloads
        c.costNs += o.costNs
      }
      return [p, c]
    }),
  ) as RunCost['predicted']
  const ops = r.observation.ops
  const stats = ops.length > 0 && ops.every((o) => o.stats)
  const buckets = r.trace && !r.trace.unavailable ? r.trace.buckets : undefined
  const sum = (k: 'stolen' | 'copied'): number | null => (buckets ? buckets.reduce((n, b) => n + (b.counts[k] ?? 0), 0) : null)
  const measured = {
    stolen: stats ? ops.reduce((n, o) => n + stolenOf(o.stats!), 0) : sum('stolen'),
    copied: stats ? ops.reduce((n, o) => n + copiedOf(o.stats!), 0) : sum('copied'),
    bytesCopied: bytesCopiedMeasured(r),
    reloads: reloadsMeasured(r),
    ns: ops.reduce((n, o) => n + o.ns, 0),
  }
  const pagesFrom = stats ? '/proc/fs/splice' : !buckets ? null : r.trace?.counting === 'measured' ? 'splice tracepoints' : 'inferred from tracepoints'
  const accel = r.target.vm?.accelerator
  return { booted: bootedPolicy(r), predicted, measured, pagesFrom, timesNote: accel === 'tcg' ? 'under TCG (an emulated CPU) times are not comparable with the model’s or a real machine’s: compare the counts' : null }
}

function addNullable(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b
}

function addCounts(a: CostCounts | null, b: CostCounts | null): CostCounts | null {
  if (!a || !b) return null
  return {
    stolen: a.stolen + b.stolen,
    copied: a.copied + b.copied,
    bytesCopied: addNullable(a.bytesCopied, b.bytesCopied),
    reloads: addNullable(a.reloads, b.reloads),
  }
}

function addRows<T extends Omit<CostRow, 'preset' | 'fs' | 'policy'>>(a: T, b: CostRow): T {
  return {
    ...a,
    runs: a.runs + b.runs,
    ops: a.ops + b.ops,
    predicted: addCounts(a.predicted, b.predicted)!,
    measured: addCounts(a.measured, b.measured),
    times: a.times && b.times
      ? { predictedNs: a.times.predictedNs + b.times.predictedNs, measuredNs: a.times.measuredNs + b.times.measuredNs }
      : null,
  }
}

/** The cost table of some records: runs of the same preset × fs × policy are summed; rows sorted. */
export function costTable(records: RunRecord[]): CostTable {
  const byKey = new Map<string, CostRow>()
  const notes = new Set<string>()
  for (const r of records) {
    const why = timesWhyNot(r)
    if (why) notes.add(why)
    const row = costOfRecord(r)
    const key = `${row.preset}\0${row.fs}\0${row.policy}`
    const had = byKey.get(key)
    byKey.set(key, had ? addRows(had, row) : row)
  }
  const rows = [...byKey.values()].sort(
    (a, b) => a.preset.localeCompare(b.preset) || a.fs.localeCompare(b.fs) || POLICIES.indexOf(a.policy) - POLICIES.indexOf(b.policy),
  )
  const zero: CostTable['totals'] = {
    runs: 0,
    ops: 0,
    predicted: { stolen: 0, copied: 0, bytesCopied: 0, reloads: 0 },
    measured: { stolen: 0, copied: 0, bytesCopied: 0, reloads: 0 },
    times: { predictedNs: 0, measuredNs: 0 },
  }
  const totals = rows.length ? rows.reduce(addRows, zero) : { ...zero, measured: null, times: null }
  return { rows, totals, notes: [...notes] }
}

function cell(predicted: number | null, measured: number | null | undefined): string {
  const m = measured === undefined || measured === null ? '—' : String(measured)
  const p = predicted === null ? '—' : String(predicted)
  const flag = measured !== undefined && measured !== null && predicted !== null && measured !== predicted ? ' ≠' : ''
  return `${p} / ${m}${flag}`
}

function ms(ns: number): string {
  return (ns / 1e6).toFixed(2)
}

/** The table as text: each cell "predicted / measured", "≠" where they differ, "—" where unknown. */
export function formatCostTable(t: CostTable): string {
  const head = ['PRESET', 'FS', 'POLICY', 'RUNS', 'STOLEN', 'COPIED', 'BYTES COPIED', 'RELOADS', 'TIME ms']
  const line = (label: [string, string, string], r: Omit<CostRow, 'preset' | 'fs' | 'policy'>): string[] => [
    ...label,
    String(r.runs),
    cell(r.predicted.stolen, r.measured?.stolen),
    cell(r.predicted.copied, r.measured?.copied),
    cell(r.predicted.bytesCopied, r.measured?.bytesCopied),
    cell(r.predicted.reloads, r.measured?.reloads),
    r.times ? `${ms(r.times.predictedNs)} / ${ms(r.times.measuredNs)}` : '—',
  ]
  const body = [...t.rows.map((r) => line([r.preset, r.fs, r.policy], r)), line(['total', '', ''], t.totals)]
  const all = [head, ...body]
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)))
  const fmt = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const rule = widths.map((w) => '-'.repeat(w))
  const out = [fmt(head), ...body.slice(0, -1).map(fmt), fmt(rule), fmt(body.at(-1) ?? rule)]
  out.push('', 'cells: predicted / measured (/proc/fs/splice; bytes copied and reloads from the trace). — not known; ≠ differs.')
  if (t.rows.some((r) => r.measured === null)) out.push('a row with no measured counts: its kernel has no /proc/fs/splice.')
  out.push('bytes copied: into pipes by splice from a file and vmsplice, measured from splice:splice_copy bytes= in runs traced (--trace) on a kernel with that tracepoint, else —.')
  for (const n of t.notes) out.push(`times: ${n}.`)
  return out.join('\n')
}
