/**
 * Exports of a traced run, as pure functions over what the lab keeps: the RunRecord, the live bucket
 * series and (optionally) the parsed kernel events.
 *
 * - toPerfetto: Chrome's Trace Event Format (JSON object form), which ui.perfetto.dev and
 *   chrome://tracing open. Ops are complete slices ("X"), kernel events instants ("i", thread scope),
 *   LOST reports global instants, the bucket series counter tracks ("C"). Timestamps are
 *   microseconds from the earliest of the first kernel event and the series' start.
 *   Format: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
 * - bucketsCsv / perOpCsv: the counters as CSV for spreadsheets.
 */
import type { RunRecord, TraceBucket } from '../run/types'
import type { OpOutcome } from '../results'
import { parseMarker } from '../probe/markers'
import { TraceStreamParser, type TraceEvent } from './parser'
import { LIVE_SERIES, type LiveSeriesName } from '../vocabulary'

/** The series counted in bytes; the others count pages. */
const BYTE_SERIES: ReadonlySet<LiveSeriesName> = new Set(['bytes', 'bytesCopied'])

/** One Trace Event Format record (the subset this export writes). */
export interface TraceFormatEvent {
  name: string
  ph: 'X' | 'i' | 'C' | 'M'
  /** Microseconds. */
  ts: number
  dur?: number
  pid: number
  tid: number
  cat?: string
  s?: 't' | 'p' | 'g'
  args?: Record<string, string | number>
}

export interface TraceFormatFile {
  traceEvents: TraceFormatEvent[]
  displayTimeUnit: 'ms' | 'ns'
  metadata: Record<string, string | number>
}

export interface PerfettoInput {
  /** Live series as the aggregator produced them (t in ms from bucketsT0). */
  buckets: readonly TraceBucket[]
  /** Kernel clock (s) of the series' t = 0 (TraceSummary.t0); default: the first kernel event. */
  bucketsT0?: number
  /** Kernel events kept for the run, markers included; optional (a run may keep none). */
  events?: readonly TraceEvent[]
  /** Kernel events of the run that are not in `events` (past an export limit, or never kept). */
  eventsLeftOut?: number
  /** Where the kernel reported lost events (LOST lines), so the gaps show on the timeline. */
  lost?: readonly LostAt[]
}

/** A "CPU:n [LOST k EVENTS]" line, placed at the kernel time of the event after it (or before it, at the end). */
export interface LostAt {
  ts: number
  cpu: number
  count: number
}

/**
 * Kernel events put into one Perfetto export at most. Default 250,000 (about 40 MB of JSON, which
 * the Perfetto UI opens in seconds); the rest are counted in the file's metadata.
 */
export const MAX_EXPORTED_EVENTS = 250_000

/**
 * Parses saved trace_pipe text into events for an export: at most `max`, the rest counted; and
 * where the kernel reported lost events (LOST lines carry no time: they get their neighbour's).
 */
export function eventsOfText(text: string, max = MAX_EXPORTED_EVENTS): { events: TraceEvent[]; left: number; lost: LostAt[] } {
  const events: TraceEvent[] = []
  const lost: LostAt[] = []
  let left = 0
  let lastTs: number | null = null
  const waiting: { cpu: number; count: number }[] = []
  const parser = new TraceStreamParser((r) => {
    if (r.kind === 'lost') {
      waiting.push({ cpu: r.cpu, count: r.count })
      return
    }
    lastTs = r.ts
    for (const w of waiting.splice(0)) lost.push({ ts: r.ts, ...w })
    if (events.length < max) events.push(r)
    else left++
  })
  parser.push(text)
  parser.end()
  for (const w of waiting) lost.push({ ts: lastTs ?? 0, ...w })
  return { events, left, lost }
}

/** The "process" all op slices and counters live in (Perfetto groups tracks by pid). */
const LAB_PID = 1
const OPS_TID = 1

/**
 * Op slices come from the probe's markers when the events hold them (kernel timestamps, exact), else
 * from the probe's own per-op durations laid end to end from 0 (the order is right, the gaps between
 * ops are not known, which the slice's args say).
 */
export function toPerfetto(record: RunRecord, input: PerfettoInput): TraceFormatFile {
  const events = input.events ?? []
  // Time 0 is the earliest of the first kernel event and the series' start, so neither is clipped.
  const first = events.length > 0 ? events[0]!.ts : undefined
  const t0 = Math.min(first ?? Infinity, input.bucketsT0 ?? Infinity)
  const base = Number.isFinite(t0) ? t0 : 0
  const us = (seconds: number): number => Math.max(0, Math.round((seconds - base) * 1e6))
  const bucketsAt = us(input.bucketsT0 ?? first ?? base)
  const out: TraceFormatEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid: LAB_PID, tid: OPS_TID, args: { name: `splice-lab ${record.scenario.name}` } },
    { name: 'thread_name', ph: 'M', ts: 0, pid: LAB_PID, tid: OPS_TID, args: { name: 'ops' } },
  ]
  const byPath = new Map(record.observation.ops.map((o) => [o.path, o]))

  // Ops from markers: a begin opens a slice, the matching end closes it (repeat bodies: one per iteration).
  const open = new Map<string, number>()
  let fromMarkers = 0
  for (const e of events) {
    if (e.name !== 'ftrace:tracing_mark_write') continue
    const m = parseMarker(e.body)
    if (!m) continue
    if (m.phase === 'begin') open.set(m.path, us(e.ts))
    else {
      const start = open.get(m.path)
      if (start === undefined) continue
      open.delete(m.path)
      const op = byPath.get(m.path)
      out.push({ name: `${m.path} ${op?.op ?? ''}`.trim(), cat: 'op', ph: 'X', ts: start, dur: us(e.ts) - start, pid: LAB_PID, tid: OPS_TID, args: { path: m.path, timing: 'trace markers', ...(op ? { outcome: outcomeText(op.outcome) } : {}) } })
      fromMarkers++
    }
  }
  if (fromMarkers === 0) {
    let at = 0
    for (const op of record.observation.ops) {
      const dur = Math.max(0, Math.round(op.ns / 1000))
      out.push({ name: `${op.path} ${op.op}`, cat: 'op', ph: 'X', ts: at, dur, pid: LAB_PID, tid: OPS_TID, args: { path: op.path, timing: 'probe durations laid end to end (gaps unknown)', outcome: outcomeText(op.outcome) } })
      at += dur
    }
  }

  // Kernel events: one thread track per task, under the traced process's pid (tgid when known). Each
  // carries the op whose markers enclose it in the trace's order (args.op): a guest's coarse trace
  // clock can give a marker and the events around it one timestamp, so time alone cannot tell.
  const named = new Set<number>()
  let inOp: string | null = null
  for (const e of events) {
    if (e.name === 'ftrace:tracing_mark_write') {
      const m = parseMarker(e.body)
      if (m) inOp = m.phase === 'begin' ? m.path : inOp === m.path ? null : inOp
      continue
    }
    const pid = e.tgid ?? e.pid
    if (!named.has(e.pid)) {
      named.add(e.pid)
      out.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid: e.pid, args: { name: `${e.task}-${e.pid}` } })
    }
    const colon = e.name.indexOf(':')
    out.push({ name: e.name.slice(colon + 1), cat: colon > 0 ? e.name.slice(0, colon) : 'kernel', ph: 'i', s: 't', ts: us(e.ts), pid, tid: e.pid, args: { cpu: e.cpu, body: e.body, ...(inOp !== null ? { op: inOp } : {}) } })
  }

  // Lost events: global instants where the kernel said so, so a gap in the events is not mistaken for quiet.
  for (const l of input.lost ?? []) {
    out.push({ name: `LOST ${l.count} events`, cat: 'lost', ph: 'i', s: 'g', ts: us(l.ts), pid: LAB_PID, tid: OPS_TID, args: { cpu: l.cpu, count: l.count } })
  }

  // Counters: pages in one track (shared/stolen/copied/reloads stack well), bytes in their own (other unit).
  for (const b of input.buckets) {
    const ts = bucketsAt + Math.round(b.t * 1000)
    const pages: Record<string, number> = {}
    for (const s of LIVE_SERIES) if (!BYTE_SERIES.has(s)) pages[s] = b.counts[s] ?? 0
    out.push({ name: 'pages per bucket', ph: 'C', ts, pid: LAB_PID, tid: OPS_TID, args: pages })
    out.push({ name: 'bytes moved per bucket', ph: 'C', ts, pid: LAB_PID, tid: OPS_TID, args: { bytes: b.counts.bytes ?? 0, bytesCopied: b.counts.bytesCopied ?? 0 } })
  }

  return {
    traceEvents: out,
    displayTimeUnit: 'ms',
    metadata: {
      run: record.id,
      scenario: record.scenario.name,
      target: record.target.label,
      kernel: record.target.kernel,
      fs: record.fs,
      startedAt: record.startedAt,
      lostEvents: record.trace?.lost ?? 0,
      kernelEvents: events.length,
      kernelEventsLeftOut: input.eventsLeftOut ?? 0,
      ...(record.trace?.unavailable ? { traceUnavailable: record.trace.unavailable } : {}),
    },
  }
}

function outcomeText(o: OpOutcome): string {
  const changed = o.drain ? `, drain read ${o.drain.read} changed ${o.drain.changedBytes}` : ''
  return `${o.errno ? `-1 ${o.errno}` : `ret ${o.ret}`}${changed}`
}

/**
 * The first line of a CSV export: what ran, as a comment (pandas' `comment='#'`, R's `comment.char`,
 * gnuplot and spreadsheets' import skip it), so a file on its own still says which target, kernel
 * and filesystem its numbers come from.
 */
export function csvAbout(record: RunRecord): string {
  const t = record.target as RunRecord['target'] & { bootArgs?: string; patches?: string[] }
  const extra = [t.bootArgs ? `boot args ${t.bootArgs}` : '', t.patches?.length ? `patches ${t.patches.join(' ')}` : ''].filter(Boolean)
  const about = [`target ${t.label}`, `kernel ${t.kernel} ${t.arch}`, `fs ${record.fs}`, ...extra].join(', ')
  return `# splice-lab run ${record.id} (${record.scenario.name}): ${about.replace(/[\r\n]+/g, ' ')}\n`
}

/** RFC 4180 field: quoted when it holds a comma, quote or newline. */
function csvField(v: string | number): string {
  const s = String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** The live series as CSV: one row per bucket, `t_ms` then every series (0 where a bucket lacks it: older records). */
export function bucketsCsv(buckets: readonly TraceBucket[]): string {
  const rows = [['t_ms', ...LIVE_SERIES].join(',')]
  for (const b of buckets) rows.push([b.t, ...LIVE_SERIES.map((c) => b.counts[c] ?? 0)].map(csvField).join(','))
  return rows.join('\n') + '\n'
}

/** Per-op tracepoint counts of a run's trace as CSV: op path, op kind, tracepoint, count. */
export function perOpCsv(record: RunRecord): string {
  const kinds = new Map(record.observation.ops.map((o) => [o.path, o.op as string]))
  const rows = ['op,kind,tracepoint,count']
  for (const [path, counts] of Object.entries(record.trace?.perOp ?? {})) {
    for (const [name, n] of Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))) rows.push([path, kinds.get(path) ?? '', name, n].map(csvField).join(','))
  }
  return rows.join('\n') + '\n'
}
