/**
 * The seam between a run (src/main/lab/run.ts) and the tracer (src/main/lab/tracer.ts): the run
 * knows nothing of ftrace; it asks an optional RunTracer to wrap the probe's command line (so the
 * probe's own pid is traced from its first syscall: `echo $$ > set_event_pid; exec probe …`) and to
 * start/stop around it.
 */
import type { TraceBucket, TraceSummary } from '../../shared/run/types'
import type { LiveCounts, SeriesCounting } from '../../shared/vocabulary'

/** Live series as they stream: new buckets, lost events so far, and the per-op series of ops that moved. */
export type LiveSeriesListener = (buckets: TraceBucket[], lost: number, perOp?: Record<string, LiveCounts>) => void

export interface RunTracer {
  /** The instance name (under tracefs instances/), for logs and records. */
  readonly instance: string
  /** The instance's own trace_marker, handed to the probe (--marker); null when there is no trace. */
  readonly markerPath: string | null
  /** How the live stolen/copied series are counted: from the fix's tracepoints where the kernel has them. */
  readonly counting: SeriesCounting
  /** Return a shell command that registers its own pid with the instance, then execs `probeCommand`. */
  wrap(probeCommand: string): string
  /** Called before the probe starts: enable events and start streaming trace_pipe. */
  start(onBuckets: LiveSeriesListener): Promise<void>
  /** Called after the probe ends (on every path): drain what is left and summarise. */
  stop(): Promise<TraceSummary>
  /** The raw trace_pipe text kept for the record (TraceSummary.raw says how much did not fit). */
  rawText(): string
  /** Remove the instance and disable everything this tracer enabled. Idempotent; called in finally. */
  dispose(): Promise<void>
}
