/**
 * A saved run's kernel trace as the app shows it, read from the run's Perfetto export (the one
 * the core already makes from the raw trace_pipe text, `exportRun … perfetto`): op slices from the
 * probe's markers, kernel events per CPU and task, and per op the same series the live charts draw
 * (pages shared, stolen, copied, reloads, bytes, bytes copied; measured or inferred as the run's
 * trace was), counted by the core's own
 * TraceAggregator so the per-op numbers and the live curves cannot disagree.
 */
import type { TraceFormatFile } from '../../shared/trace/export'
import { TraceAggregator } from '../../shared/trace/aggregate'
import type { TraceEvent } from '../../shared/trace/parser'
import { emptyLiveCounts, LIVE_SERIES, type LiveCounts, type SeriesCounting } from '../../shared/vocabulary'

export interface OpSlice {
  path: string
  name: string
  /** µs from the trace's start. */
  start: number
  dur: number
  outcome?: string
  /** 'trace markers' (kernel times) or the probe's durations laid end to end. */
  timing: string
}

export interface KernelEvent {
  /** Index in time order (stable key for lists). */
  i: number
  /** µs from the trace's start. */
  ts: number
  /** "system:event". */
  name: string
  cpu: number
  pid: number
  tid: number
  task: string
  body: string
  /** The op whose markers enclose the event in the trace's order (exports that say it). */
  op?: string
}

export interface KernelTrace {
  slices: OpSlice[]
  events: KernelEvent[]
  lost: { ts: number; count: number; cpu: number }[]
  /** Kernel events the export left out (past its limit). */
  eventsLeftOut: number
}

export function readPerfetto(file: TraceFormatFile): KernelTrace {
  const tasks = new Map<number, string>()
  const slices: OpSlice[] = []
  const events: KernelEvent[] = []
  const lost: KernelTrace['lost'] = []
  for (const e of file.traceEvents) {
    if (e.ph === 'M' && e.name === 'thread_name' && e.cat === undefined) tasks.set(e.tid, String(e.args?.name ?? ''))
  }
  for (const e of file.traceEvents) {
    if (e.ph === 'X' && e.cat === 'op') {
      slices.push({ path: String(e.args?.path ?? e.name), name: e.name, start: e.ts, dur: e.dur ?? 0, outcome: e.args?.outcome as string | undefined, timing: String(e.args?.timing ?? '') })
    } else if (e.ph === 'i' && e.cat === 'lost') {
      lost.push({ ts: e.ts, count: Number(e.args?.count ?? 0), cpu: Number(e.args?.cpu ?? -1) })
    } else if (e.ph === 'i') {
      const task = tasks.get(e.tid) ?? ''
      events.push({ i: events.length, ts: e.ts, name: `${e.cat}:${e.name}`, cpu: Number(e.args?.cpu ?? -1), pid: e.pid, tid: e.tid, task: task.replace(/-\d+$/, ''), body: String(e.args?.body ?? ''), ...(typeof e.args?.op === 'string' ? { op: e.args.op } : {}) })
    }
  }
  events.sort((a, b) => a.ts - b.ts || a.i - b.i)
  events.forEach((e, i) => (e.i = i))
  slices.sort((a, b) => a.start - b.start)
  return { slices, events, lost, eventsLeftOut: Number(file.metadata.kernelEventsLeftOut ?? 0) }
}

/**
 * Events of an op: those the export tied to it by the markers' order, else (older exports) those
 * inside its slice(s) in time (a repeat body has one slice per iteration).
 */
export function eventsOfOp(trace: KernelTrace, path: string): KernelEvent[] {
  if (trace.events.some((e) => e.op !== undefined)) return trace.events.filter((e) => e.op === path)
  const spans = trace.slices.filter((s) => s.path === path && s.timing === 'trace markers')
  if (!spans.length) return []
  return trace.events.filter((e) => spans.some((s) => e.ts >= s.start && e.ts <= s.start + s.dur))
}

/**
 * Per op path, the live series summed over its slices: the events go through one TraceAggregator
 * in time order (so a reload of a page an earlier op stole is still recognised), and its buckets are
 * taken at each slice's start (what came before belongs to no op) and end (what came inside is the op's).
 */
export function seriesPerOp(trace: KernelTrace, pageSize: number, counting: SeriesCounting = 'inferred'): Map<string, LiveCounts> {
  const out = new Map<string, LiveCounts>()
  const spans = trace.slices.filter((s) => s.timing === 'trace markers')
  if (!spans.length) return out
  const agg = new TraceAggregator(pageSize, null, counting)
  for (const e of trace.events) if (e.tid > 0) agg.trackPid(e.tid)
  const drain = (into: LiveCounts | null): void => {
    for (const b of agg.takeBuckets(true)) if (into) for (const s of LIVE_SERIES) into[s] += b.counts[s] ?? 0
  }
  // Boundaries in time order; an event at a slice's end (µs rounding) belongs to the slice.
  const bounds = spans.flatMap((s) => [{ t: s.start, end: false, path: s.path }, { t: s.start + s.dur, end: true, path: s.path }]).sort((a, b) => a.t - b.t || Number(a.end) - Number(b.end))
  let k = 0
  const pass = (ts: number): void => {
    while (k < bounds.length && (bounds[k]!.end ? bounds[k]!.t < ts : bounds[k]!.t <= ts)) {
      const b = bounds[k++]!
      if (b.end) {
        let c = out.get(b.path)
        if (!c) out.set(b.path, (c = emptyLiveCounts()))
        drain(c)
      } else drain(null)
    }
  }
  for (const e of trace.events) {
    pass(e.ts)
    agg.push(toRecord(e))
  }
  pass(Infinity)
  for (const s of spans) if (!out.has(s.path)) out.set(s.path, emptyLiveCounts())
  return out
}

function toRecord(e: KernelEvent): TraceEvent {
  return { kind: 'event', task: e.task, pid: e.tid, tgid: e.pid, cpu: e.cpu, flags: '', ts: e.ts / 1e6, name: e.name, body: e.body }
}
