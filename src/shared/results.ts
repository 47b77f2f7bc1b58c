/**
 * The shapes that cross between the two executions of a scenario (DESIGN.md, "One workload, two
 * executions"): what the model predicts, what the probe observes, and how they compare. The model
 * (src/shared/model), the probe's reader (src/main/lab), the comparison (src/shared/compare), the
 * run records, the CLI and the renderer all use these and nothing private.
 *
 * Ops are identified by their path in the scenario ("ops[3]", "ops[5].body[1]"). Ops inside a
 * `repeat` are reported once per body op, aggregated over all iterations (counts summed).
 */
import type { Filesystem, MountOptions, OpKind } from './scenario/schema'

export const POLICIES = ['stock', 'steal-or-copy', 'copy'] as const
export type Policy = (typeof POLICIES)[number]

/** The five counters of the RFC's /proc/fs/splice (patch 4), same names on both sides. */
export interface SpliceStats {
  filemapCopied: number
  filemapMoved: number
  directCopied: number
  vmspliceCopied: number
  vmspliceStole: number
}

/**
 * A run of drained bytes that differ from what the range held when it was put into the pipe.
 * Offsets are relative to the drain's output (0 = the first byte this drain read).
 * holds: 'zero' — all zero bytes now (punch hole, truncate, zero range);
 *        'current' — equal to what the file/buffer holds now at the source position (a later write showed through);
 *        'other' — neither (e.g. a page reused for something else).
 */
export interface ChangedRange {
  start: number
  end: number
  holds: 'zero' | 'current' | 'other'
}

/** What one drain read, against the content at splice time. */
export interface DrainOutcome {
  /** Bytes returned by read(): may be short. */
  read: number
  /** Changed ranges, merged and sorted; capped at MAX_RANGES (changedBytes stays exact). */
  changed: ChangedRange[]
  changedBytes: number
}

export const MAX_RANGES = 64

/** One outcome an op can have: its return value (or errno) and, for a drain, what it saw. */
export interface OpOutcome {
  ret: number
  /** errno name ("EINVAL"), null when the call succeeded. */
  errno: string | null
  drain?: DrainOutcome
}

/** Tracepoint names as ftrace spells them, e.g. "filemap:mm_filemap_delete_from_page_cache". */
export type TracepointName = string

export interface CountRange {
  min: number
  max: number
}

export interface PageCounts {
  /** Page references put into the pipe that are shared with the page cache or a process. */
  shared: number
  /** Pages stolen: removed from their owner, now the pipe's alone. */
  stolen: number
  /** Pages whose data was copied into a fresh page. */
  copied: number
}

export interface OpPrediction {
  path: string
  op: OpKind
  /** How many times this op runs (the repeat count for a body op, else 1). */
  iterations: number
  /**
   * The outcomes the model allows. Usually one; several where an input the model cannot know (folio
   * size chosen by the kernel, a race) decides. An observed outcome outside this set is a disagreement.
   */
  outcomes: OpOutcome[]
  pages: PageCounts
  bytesCopied: number
  /** Page-cache reloads this op causes (a stolen or dropped page read again). */
  reloads: number
  /** Deltas of the five /proc/fs/splice counters this op would cause on a kernel with the RFC. */
  stats: SpliceStats
  /**
   * Where the kernel decides and the model cannot know how (a race takes a page's lock or reference
   * before the steal does, readahead picks the folio size), the range each counter may take; `stats`
   * is then one allowed value. Absent: exactly `stats`.
   */
  statsRange?: Record<keyof SpliceStats, CountRange>
  tracepoints: Record<TracepointName, CountRange>
  /** Estimated cost in ns from the unit costs. */
  costNs: number
  /** Why the model decided as it did, for people (one line each, citing the rule). */
  notes: string[]
}

export interface UnitCosts {
  /** Copy bandwidth, bytes per ns (= GB/s). Default 8. */
  copyBytesPerNs: number
  /** Reading a page back into the page cache, ns per page. Default 1500. */
  reloadNsPerPage: number
  /** Removing a page from the page cache to give it to the pipe, ns per page. Default 300. */
  stealNsPerPage: number
  /** Taking a reference to a page, ns per page. Default 30. */
  shareNsPerPage: number
  /** A minor fault, ns per page. Default 400. */
  minorFaultNs: number
}

export const DEFAULT_COSTS: UnitCosts = {
  copyBytesPerNs: 8,
  reloadNsPerPage: 1500,
  stealNsPerPage: 300,
  shareNsPerPage: 30,
  minorFaultNs: 400,
}

/** What the model needs to know about where the scenario runs. */
export interface ModelEnv {
  fs: Filesystem
  pageSize: number
  /**
   * The kernel's release (`uname -r`, e.g. "6.18.44-fc-v657", or "6.1"): rules that differ between
   * kernels are keyed by its major.minor (src/shared/model/kernels.ts).
   */
  kernel: string
  /** mkfs/mount options of the scratch filesystem (the entry of `fs` counts); absent: the scenario's `mount`. */
  mount?: MountOptions
  costs: UnitCosts
}

export interface Prediction {
  policy: Policy
  env: ModelEnv
  ops: OpPrediction[]
  totals: { pages: PageCounts; bytesCopied: number; reloads: number; costNs: number; changedBytes: number }
  /** About the prediction as a whole, when there is something to say (a kernel the rules are extrapolated to). */
  notes?: string[]
}

/** One JSON line the probe printed for one op (or one aggregated repeat body op). */
export interface OpObservation {
  path: string
  op: OpKind
  iterations: number
  /** The outcome (for a repeat body op: the first iteration that differed from the rest, else the last). */
  outcome: OpOutcome
  /** Distinct outcomes and how often each happened, for repeated scenarios and repeat bodies. */
  histogram?: { outcome: OpOutcome; count: number }[]
  ns: number
  /** perf_event_open tracepoint counts for this op; absent when perf is not available. */
  tracepoints?: Record<TracepointName, number>
  /** Deltas of /proc/fs/splice when the kernel has it, else null. */
  stats: SpliceStats | null
  /** Hardware counters where the machine has a PMU, else null. */
  hw: { cycles: number; instructions: number } | null
}

export interface Observation {
  ops: OpObservation[]
  /** Whole-run facts the probe reports: whether stats and perf were available and why not. */
  facts: { spliceStats: boolean; perf: boolean; traceMarker: boolean; notes: string[] }
  /** Set when the probe did not finish (crash, kill, disconnect): ops holds what it had done. */
  incomplete?: { reason: string }
}

export type Agreement = 'agree' | 'disagree' | 'unknown'

export interface OpComparison {
  path: string
  op: OpKind
  byPolicy: Record<Policy, { agreement: Agreement; reasons: string[] }>
}

export interface Verdict {
  /** The policy every op agreed with, or 'none' when no policy explains the kernel. */
  behavesLike: Policy | 'none'
  perPolicy: Record<Policy, { agree: number; disagree: number; unknown: number }>
  summary: string
}

export interface Comparison {
  ops: OpComparison[]
  verdict: Verdict
}

export { TRACEPOINTS } from './vocabulary'
