/**
 * The tracer: a private ftrace instance on the target, never the global buffer (DESIGN.md,
 * "Tracing"), so the lab coexists with anyone else using ftrace on the machine. The instance is named
 * `splice-lab-<session pid>-<random>`: a later connect removes instances whose session is gone
 * (cleanStaleInstances), so a crash or a dropped connection cannot leave one behind for long.
 *
 * Only the probe's process tree is traced: wrap() makes the command write its own pid into the
 * instance's set_event_pid and then exec the probe (same pid), with options/event-fork so children
 * forked by fork/write_other_process ops are followed.
 */
import { randomBytes } from 'node:crypto'
import type { Target } from '../target/types'
import { shellQuote } from '../target/quote'
import type { LiveSeriesListener, RunTracer } from './types'
import type { TraceBucket, TraceSummary } from '../../shared/run/types'
import { TraceStreamParser, type TraceRecord } from '../../shared/trace/parser'
import { TraceAggregator } from '../../shared/trace/aggregate'
import { OPTIONAL_TRACED_EVENTS, TRACED_EVENTS, type SeriesCounting } from '../../shared/vocabulary'
import type { TraceFormats } from '../../shared/trace/raw/format'
import { openRawReader, RawPageLog, untracedCommand, type RawReader } from './trace-raw'

export const INSTANCE_PREFIX = 'splice-lab-'

/** Events that show sharing, stealing, copying and reloading (system/event, as under events/). */
export const DEFAULT_EVENTS = TRACED_EVENTS

/** Per-CPU ring size. Default 8 MiB: a 1 GiB streaming run at ~1 event per page fits between reads. */
export const DEFAULT_BUFFER_KB = 8192
/** How often live buckets go to the charts. Default 100 ms (one chart bucket). */
export const EMIT_MS = 100
/**
 * Raw trace_pipe text kept for the run's record (for exports that show every event), in characters.
 * Default 32 Mi, about 270,000 events: the whole of most runs; of a GiB-scale streaming run, its
 * beginning.
 */
export const KEEP_RAW_CHARS = 32 * 2 ** 20
/** Live buckets kept for the record. Default 36,000: an hour of 100 ms buckets. */
export const MAX_KEPT_BUCKETS = 36_000
/**
 * Draining at stop: a flush marker is written to the instance's trace_marker and trace_pipe is read
 * until it comes back (every event recorded before it has then been read), at most DRAIN_MAX_MS.
 * When no marker can be written (tracing never switched on), reading stops once the pipe has been
 * quiet for DRAIN_QUIET_MS.
 */
const DRAIN_QUIET_MS = 300
const DRAIN_MAX_MS = 5000
export const FLUSH_MARKER = 'splicelab:flush'

export interface TracerOptions {
  bufferKb?: number
  events?: readonly string[]
  pageSize?: number
  /** Receives the raw trace_pipe text as it arrives (for `splice-lab trace`, which saves it). */
  onRaw?: (chunk: string) => void
  /**
   * Who is traced. Default 'wrapped': nobody until the command made by wrap() registers its own pid
   * (the instance's tracing_on stays 0 until then, so nothing from other processes fills the ring
   * between open and the probe's start). A number: that pid and its children, from start(). 'all':
   * every task, from start() (for `splice-lab trace` without --pid).
   */
  pids?: 'wrapped' | 'all' | number
  /** Receives every parsed record (events and lost-event notices), e.g. to count or keep them. */
  onRecord?: (r: TraceRecord) => void
  /** How much raw text rawText() keeps. Default KEEP_RAW_CHARS; 0 keeps none. */
  keepRawChars?: number
  /**
   * Read the text trace_pipe even where the binary per-CPU trace_pipe_raw could be read (`--text`).
   * Default false: binary, falling back to text (and saying why) when it cannot be read or decoded.
   */
  text?: boolean
}

const EVENT_RE = /^[a-z0-9_]+\/[a-z0-9_]+$/

/**
 * Opens a tracer, or one that says why there is none: a run goes on without a trace when tracefs is
 * missing or not writable (TraceSummary.unavailable).
 */
export async function openTracer(target: Target, options: TracerOptions = {}): Promise<RunTracer> {
  const facts = await target.facts()
  const root = true // ExecOptions.root: through sudo -n when the session is not root
  if (!facts.tracefs.path || !facts.tracefs.writable) {
    return unavailableTracer(facts.tracefs.why ?? `tracefs ${facts.tracefs.path ? `at ${facts.tracefs.path} is not writable (needs root)` : 'is not mounted'}`)
  }
  const events = options.events ?? [...DEFAULT_EVENTS, ...(await offeredEvents(target, facts.tracefs.path, OPTIONAL_TRACED_EVENTS))]
  for (const e of events) if (!EVENT_RE.test(e)) throw new Error(`not an ftrace event name: "${e}" (expected system/event)`)
  const bufferKb = options.bufferKb ?? DEFAULT_BUFFER_KB
  if (!Number.isSafeInteger(bufferKb) || bufferKb < 1) throw new Error(`buffer size must be a whole number of KiB, got ${bufferKb}`)

  await cleanStaleInstances(target)
  const shellPid = (await target.exec('echo $$')).output.trim()
  const name = `${INSTANCE_PREFIX}${/^\d+$/.test(shellPid) ? shellPid : '0'}-${randomBytes(4).toString('hex')}`
  const dir = `${facts.tracefs.path}/instances/${name}`
  const q = shellQuote
  const run = async (cmd: string, what: string): Promise<string> => {
    const r = await target.exec(cmd, { root })
    if (r.code !== 0) throw new Error(`${what} failed on ${target.label}: ${r.output.trim() || `exit ${r.code}`}`)
    return r.output
  }

  await run(`mkdir ${q(dir)}`, `creating ftrace instance ${name}`)
  let disposed = false
  let stream: Awaited<ReturnType<Target['stream']>> | null = null
  let timer: ReturnType<typeof setInterval> | null = null
  let lastData = Date.now()
  const counting = seriesCounting(events)
  const aggregator = new TraceAggregator(options.pageSize ?? facts.pageSize, null, counting)
  const onRecord = options.onRecord
  const raw = new RawKeeper(options.keepRawChars ?? KEEP_RAW_CHARS)
  const keptBuckets: TraceBucket[] = []
  let bucketsDropped = 0
  const keep = (buckets: TraceBucket[]): TraceBucket[] => {
    const room = Math.max(0, MAX_KEPT_BUCKETS - keptBuckets.length)
    keptBuckets.push(...buckets.slice(0, room))
    bucketsDropped += Math.max(0, buckets.length - room)
    return buckets
  }
  const flushText = `${FLUSH_MARKER} ${randomBytes(4).toString('hex')}`
  let flushed = false
  const handle = (r: TraceRecord): void => {
    if (r.kind === 'event' && r.name === 'ftrace:tracing_mark_write' && r.body.startsWith(FLUSH_MARKER)) {
      if (r.body.trim() === flushText) flushed = true
      return
    }
    aggregator.push(r)
    onRecord?.(r)
  }
  const parser = new TraceStreamParser(handle)
  // The binary reader's pages are kept as they arrive and printed as trace_pipe lines at stop (for
  // the kept raw text and onRaw): printing while reading would slow the reader down.
  const pageLog = options.onRaw || raw.limit > 0 ? new RawPageLog(options.onRaw ? Infinity : raw.limit * RAW_BYTES_PER_CHAR + RAW_BYTES_SLACK) : null
  const printPages = (formats: TraceFormats): void => {
    if (!pageLog) return
    let chars = 0
    pageLog.print(formats, (chunk) => {
      chars += chunk.length
      raw.push(chunk)
      options.onRaw?.(chunk)
    })
    // Pages over the log's limit were not printed: their characters are estimated from those that were.
    if (pageLog.droppedBytes > 0) raw.dropped += Math.round(pageLog.droppedBytes * (chars / Math.max(1, pageLog.bytes)))
  }
  let binary: RawReader | null = null
  let reader: NonNullable<TraceSummary['reader']> = { kind: 'text', why: 'forced (--text)' }

  const dispose = async (): Promise<void> => {
    if (disposed) return
    disposed = true
    if (timer) clearInterval(timer)
    await stream?.stop().catch(() => undefined)
    await binary?.stop().catch(() => undefined)
    pageLog?.remove()
    // Disabling first is not needed for rmdir, but a failed rmdir must not leave events running.
    await target.exec(`echo 0 > ${q(dir)}/events/enable; rmdir ${q(dir)}`, { root }).catch(() => undefined)
  }

  let emit: LiveSeriesListener | null = null
  const pids = options.pids ?? 'wrapped'
  if (typeof pids === 'number' && (!Number.isSafeInteger(pids) || pids < 1)) throw new Error(`not a pid: ${pids}`)
  try {
    await run(
      [
        // A new instance records from the moment events are enabled, every task included (an empty
        // set_event_pid means no filter): keep it off until the traced pid is known.
        `echo 0 > ${q(dir)}/tracing_on`,
        ...(typeof pids === 'number' ? [`echo ${pids} > ${q(dir)}/set_event_pid`] : []),
        `echo ${q(bufferKb)} > ${q(dir)}/buffer_size_kb`,
        `echo 1 > ${q(dir)}/options/event-fork`,
        ...events.map((e) => `echo 1 > ${q(`${dir}/events/${e}/enable`)}`),
      ].join(' && '),
      `enabling events in ${name}`,
    )
  } catch (e) {
    await dispose()
    throw e
  }

  return {
    instance: name,
    markerPath: `${dir}/trace_marker`,
    counting,
    wrap(probeCommand: string): string {
      return `sh -c ${q(`echo $$ > ${q(dir)}/set_event_pid && echo 1 > ${q(dir)}/tracing_on && exec ${probeCommand}`)}`
    },
    async start(onBuckets: LiveSeriesListener): Promise<void> {
      emit = onBuckets
      const startText = async (): Promise<void> => {
        const cat = `exec cat ${q(dir)}/trace_pipe`
        stream = await target.stream(pids === 'all' ? untracedCommand(dir, cat) : cat, (chunk) => {
          lastData = Date.now()
          parser.push(chunk)
          raw.push(chunk)
          options.onRaw?.(chunk)
        }, { root })
      }
      if (!options.text) {
        try {
          binary = await openRawReader({
            target,
            tracefs: facts.tracefs.path!,
            dir,
            events,
            onRecord: handle,
            onFrames: pageLog ? (chunk) => pageLog.write(chunk) : undefined,
            untraced: pids === 'all',
            onError: (e) => {
              // The ring keeps what was not read yet: trace_pipe goes on from there. The pages read
              // so far are printed first, so the kept text stays in order.
              reader = { kind: 'text', why: `the binary reader stopped: ${e.message}` }
              const formats = binary?.formats
              binary = null
              if (formats) printPages(formats)
              if (!disposed) void startText().catch(() => undefined)
            },
          })
          reader = { kind: 'binary', why: binary.transport }
          await binary.start()
        } catch (e) {
          reader = { kind: 'text', why: `binary trace_pipe_raw unavailable: ${e instanceof Error ? e.message : String(e)}` }
          binary = null
        }
      }
      if (!binary) await startText()
      // A trace of every task leaves out the lab's reader (untracedCommand): a streamed reader writes
      // its pid into set_event_notrace_pid over its own channel, which can lag this one, and what it
      // did before that would be recorded. Tracing starts once the pid is there (a fresh instance's
      // list is empty until then; kernels before 5.8 have no list).
      if (pids === 'all') await run(awaitReaderExcluded(dir), `waiting for the trace reader to leave itself out of ${name}`)
      if (pids !== 'wrapped') await run(`echo 1 > ${q(dir)}/tracing_on`, `starting ${name}`)
      timer = setInterval(() => {
        const buckets = keep(aggregator.takeBuckets())
        if (buckets.length) onBuckets(buckets, aggregator.lost, aggregator.takeChangedSeries())
      }, EMIT_MS)
    },
    async stop(): Promise<TraceSummary> {
      const started = Date.now()
      if (stream || binary) {
        const marked = await target.exec(`[ "$(cat ${q(dir)}/tracing_on)" = 1 ] && echo ${q(flushText)} > ${q(dir)}/trace_marker`, { root })
        if (marked.code === 0) while (!flushed && Date.now() - started < DRAIN_MAX_MS) await sleep(20)
        else {
          lastData = Date.now()
          while (Date.now() - lastData < DRAIN_QUIET_MS && Date.now() - started < DRAIN_MAX_MS) await sleep(50)
        }
        // Recording ends here: what a still-running task does after the window (a trace of the whole
        // machine) would otherwise fill the ring and count as overrun while the readers finish.
        await target.exec(`echo 0 > ${q(dir)}/tracing_on`, { root }).catch(() => undefined)
      }
      if (timer) clearInterval(timer)
      timer = null
      await stream?.stop()
      stream = null
      parser.end()
      if (binary) {
        await binary.stop()
        printPages(binary.formats)
      }
      // The last (partial) buckets go to the charts too: a run shorter than one bucket has no other.
      const rest = keep(aggregator.takeBuckets(true))
      if (rest.length) emit?.(rest, aggregator.lost, aggregator.takeChangedSeries())
      // trace_pipe's "LOST n EVENTS" lines report the very events the per-CPU overrun counters count
      // (measured: their sums are equal), so the two are not added: the larger is taken, in case
      // the stream was stopped before the last LOST line was read. Oversized lines are ours, added.
      const ring = await readLostCounters(target, dir, root)
      return {
        instance: name,
        events: aggregator.events,
        lost: Math.max(aggregator.lost, ring) + parser.oversized,
        perOp: aggregator.perOp,
        seriesPerOp: aggregator.seriesPerOp,
        buckets: keptBuckets,
        counting,
        ...(aggregator.start !== null ? { t0: aggregator.start } : {}),
        ...(bucketsDropped > 0 ? { bucketsDropped } : {}),
        ...(raw.limit > 0 ? { raw: { chars: raw.length, droppedChars: raw.dropped } } : {}),
        reader,
      }
    },
    rawText: () => raw.text(),
    dispose,
  }
}

/** 'measured' when every one of the fix's steal/copy tracepoints is among the enabled events. */
export function seriesCounting(events: readonly string[]): SeriesCounting {
  return OPTIONAL_TRACED_EVENTS.every((e) => events.includes(e)) ? 'measured' : 'inferred'
}

/** Those of `events` (system/event) the kernel offers: a kernel without them is traced without them. */
export async function offeredEvents(target: Target, tracefs: string, events: readonly string[]): Promise<string[]> {
  if (!events.length) return []
  const tests = events.map((e) => `[ ! -e ${shellQuote(`${tracefs}/events/${e}/enable`)} ] || echo ${shellQuote(e)}`)
  const r = await target.exec(tests.join('; '), { root: true }).catch(() => null)
  const seen = new Set(r?.output.split('\n').map((l) => l.trim()))
  return events.filter((e) => seen.has(e))
}

/** Sum of overrun and dropped events over the instance's CPUs (per_cpu/cpuN/stats). */
async function readLostCounters(target: Target, dir: string, root: boolean): Promise<number> {
  const r = await target.exec(`cat ${shellQuote(dir)}/per_cpu/cpu*/stats`, { root })
  if (r.code !== 0) return 0
  let lost = 0
  for (const m of r.output.matchAll(/^(?:overrun|dropped events): (\d+)/gm)) lost += Number(m[1])
  return lost
}

/**
 * Removes instances left by sessions that no longer exist (a crash, a dropped connection).
 * An instance whose session shell is still alive belongs to a live run and is left alone.
 */
export async function cleanStaleInstances(target: Target): Promise<string[]> {
  const facts = await target.facts()
  if (!facts.tracefs.path || !facts.tracefs.writable) return []
  const root = true
  const dir = `${facts.tracefs.path}/instances`
  const list = await target.exec(`ls ${shellQuote(dir)}`, { root })
  const removed: string[] = []
  for (const name of list.output.split(/\s+/)) {
    const m = /^splice-lab-(\d+)-[0-9a-f]+$/.exec(name)
    if (!m) continue
    const alive = await target.exec(`kill -0 ${m[1]} 2>/dev/null`, { root })
    if (alive.code === 0) continue
    const path = shellQuote(`${dir}/${name}`)
    const r = await target.exec(`echo 0 > ${path}/events/enable; rmdir ${path}`, { root })
    if (r.code === 0) removed.push(name)
  }
  return removed
}

function unavailableTracer(why: string): RunTracer {
  return {
    instance: '',
    markerPath: null,
    counting: 'inferred',
    wrap: (cmd) => cmd,
    start: async () => undefined,
    stop: async () => ({ instance: '', events: 0, lost: 0, perOp: {}, unavailable: why }),
    rawText: () => '',
    dispose: async () => undefined,
  }
}

/**
 * Raw page bytes kept per character of kept text: the binary pages are 3-4× smaller than their text
 * (bench:trace), so half a byte per character keeps a little more than the text limit needs.
 */
const RAW_BYTES_PER_CHAR = 0.5
/** Raw bytes kept beyond that: whole pages (4 KiB each) and task names even under a tiny text limit. Default 256 KiB. */
const RAW_BYTES_SLACK = 256 * 1024

/** The first `limit` characters of a stream, cut at a line end; the rest is counted, not kept. */
class RawKeeper {
  private readonly chunks: string[] = []
  length = 0
  dropped = 0
  private full = false

  constructor(readonly limit: number) {}

  push(chunk: string): void {
    if (this.full || this.limit <= 0) {
      this.dropped += chunk.length
      return
    }
    if (this.length + chunk.length <= this.limit) {
      this.chunks.push(chunk)
      this.length += chunk.length
      return
    }
    // The first chunk that does not fit: what is kept ends at the last whole line within the limit.
    const kept = (this.chunks.join('') + chunk).slice(0, this.limit)
    const text = kept.slice(0, kept.lastIndexOf('\n') + 1)
    this.chunks.length = 0
    this.chunks.push(text)
    this.dropped += this.length + chunk.length - text.length
    this.length = text.length
    this.full = true
  }

  text(): string {
    return this.chunks.join('')
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Shell: waits (up to 10 s, else exit 1) until the instance's set_event_notrace_pid names a pid, where the kernel has one. */
function awaitReaderExcluded(dir: string): string {
  const f = shellQuote(`${dir}/set_event_notrace_pid`)
  return `[ ! -e ${f} ] || { i=0; while [ -z "$(cat ${f})" ]; do i=$((i + 1)); [ $i -le 100 ] || exit 1; sleep 0.1; done; }`
}
