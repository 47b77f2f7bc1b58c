/**
 * The probe's trace_marker lines (the tracer attributes kernel events to ops by them). Around each
 * op execution the probe, given `--marker PATH`, writes exactly
 *
 *     splicelab:begin <path>
 *     splicelab:end <path>
 *
 * where <path> is the op path ("ops[3]", "ops[5].body[1]"). A repeat body op writes one pair per
 * iteration. ftrace shows a marker write as `tracing_mark_write: <text>` (event ftrace:print).
 * The C probe writes the same text (MARKER_BEGIN / MARKER_END of resources/probe/vocabulary.h,
 * generated from these constants).
 */
export const MARKER_PREFIX = 'splicelab:'
export const MARKER_BEGIN = `${MARKER_PREFIX}begin`
export const MARKER_END = `${MARKER_PREFIX}end`

export type MarkerPhase = 'begin' | 'end'

export interface Marker {
  phase: MarkerPhase
  path: string
}

/** The text the probe writes to trace_marker for `phase` of the op at `path`. */
export function buildMarker(phase: MarkerPhase, path: string): string {
  return `${phase === 'begin' ? MARKER_BEGIN : MARKER_END} ${path}`
}

const MARKER_RE = /^splicelab:(begin|end) (\S+)\s*$/

/** Parses a marker text (the body of a tracing_mark_write record); null when it is not one. */
export function parseMarker(text: string): Marker | null {
  const m = MARKER_RE.exec(text.trim())
  return m ? { phase: m[1] as MarkerPhase, path: m[2]! } : null
}
