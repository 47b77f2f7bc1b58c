/**
 * A run: one scenario executed on one target (on one filesystem), with the model's predictions made
 * for the same environment, the observation, the comparison and (optionally) the trace summary.
 * Saved as JSON so the app and the CLI can reopen it; live runs stream RunEvents while they go.
 */
import type { Scenario, Filesystem } from '../scenario/schema'
import type { LiveCounts, SeriesCounting } from '../vocabulary'
import type { TargetKind, VmFacts } from '../target'
import type { Comparison, ModelEnv, Observation, OpObservation, Policy, Prediction } from '../results'

export const RUN_RECORD_VERSION = 1

/** Target facts as recorded in a run (a plain copy of what the target reported at connect). */
export interface RecordedTarget {
  label: string
  kind: TargetKind
  kernel: string
  arch: string
  pageSize: number
  root: boolean
  tracefs: boolean
  perf: boolean
  spliceStats: boolean
  /** A VM target: the kernel as named, the accelerator and the kernel command line (boot arguments included). */
  vm?: Pick<VmFacts, 'kernel' | 'accelerator' | 'bootArgs' | 'cmdline'>
}

/** Per-op tracepoint counts from the ftrace stream (attributed by the probe's trace_marker writes). */
export interface TraceSummary {
  instance: string
  events: number
  lost: number
  /** Counts per op path, then per "system:event". */
  perOp: Record<string, Record<string, number>>
  /**
   * The live series summed per op path, attributed by the probe's markers in stream order (exact even
   * where the trace clock is too coarse to order a marker and its events; absent in older records).
   */
  seriesPerOp?: Record<string, LiveCounts>
  /** Why there is no trace, when there is none. */
  unavailable?: string
  /** The live series of the whole run (absent in records made before they were kept). */
  buckets?: TraceBucket[]
  /** Kernel clock (s) of the series' t = 0, to line the series up with raw events. */
  t0?: number
  /**
   * How the stolen, copied and bytesCopied series were counted: 'measured' from the fix's
   * splice:splice_steal / splice_copy tracepoints, 'inferred' from stock ones (absent in older
   * records: inferred).
   */
  counting?: SeriesCounting
  /** Buckets past MAX_KEPT_BUCKETS, not kept. */
  bucketsDropped?: number
  /**
   * The raw trace_pipe text saved beside the record (`<id>.trace.txt`): its length in characters,
   * and how much of the stream did not fit under the tracer's keep limit (the text is the run's
   * beginning).
   */
  raw?: { chars: number; droppedChars: number }
  /**
   * How the events were read: 'binary' (per-CPU trace_pipe_raw pages; `why` says over what) or
   * 'text' (trace_pipe; `why` says why not binary: --text, or what failed).
   */
  reader?: { kind: 'binary' | 'text'; why?: string }
}

export interface RunRecord {
  version: typeof RUN_RECORD_VERSION
  id: string
  /** ISO 8601. */
  startedAt: string
  finishedAt: string | null
  scenario: Scenario
  target: RecordedTarget
  fs: Filesystem
  /** Where the scenario's files lived on the target. */
  dir: string
  env: ModelEnv
  predictions: Record<Policy, Prediction>
  observation: Observation
  comparison: Comparison
  trace?: TraceSummary
  /** Set when the run did not complete; what was done is kept above. */
  error?: { code: string; message: string }
  /**
   * What the kernel logged while the probe ran (dmesg after the run's mark), kept when the run
   * errored or no policy explains it; for a target that crashed, its console text.
   */
  kernelLog?: string
}

/** One point of a live time series: counts in a time bucket since the run started. */
export interface TraceBucket {
  /** Bucket start, ms since the first event. */
  t: number
  /** Counts per series in this bucket, e.g. { shared: 3, stolen: 0, copied: 1, reloads: 0, bytes: 4096 }. */
  counts: LiveCounts
}

export type RunPhase = 'preflight' | 'upload' | 'compile' | 'prepare' | 'trace' | 'probe' | 'compare' | 'cleanup' | 'done'

/** What a live run streams while it goes (to the CLI's progress line and the app's charts). */
export type RunEvent =
  | { type: 'phase'; runId: string; phase: RunPhase; message: string }
  | { type: 'prediction'; runId: string; predictions: Record<Policy, Prediction> }
  | { type: 'op'; runId: string; observation: OpObservation; index: number; total: number }
  /** perOp: the series so far (cumulative) of the ops that moved since the last trace event. */
  | { type: 'trace'; runId: string; buckets: TraceBucket[]; lost: number; counting?: SeriesCounting; perOp?: Record<string, LiveCounts> }
  | { type: 'log'; runId: string; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'finished'; runId: string; record: RunRecord }
