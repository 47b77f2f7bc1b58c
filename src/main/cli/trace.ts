/**
 * `splice-lab trace`: record raw kernel events from a private ftrace instance on a target (this
 * machine, ssh, or a VM: its stream ports carry the trace as they carry a run's) for N seconds
 * (every task, or one pid and its children) into a file, then print how many of each event arrived
 * and how many were lost. The global ftrace state is never touched; the instance is removed
 * on every path (normal end, Ctrl-C, error), and stale ones of crashed sessions on the next connect.
 */
import { createWriteStream } from 'node:fs'
import type { Command } from 'commander'
import { errorMessage } from '../target'
import { openLab, targetLine, targetOptions, type TargetCliOptions } from './connect'
import { progress } from './output'
import { stopSignal } from './stop'
import { DEFAULT_BUFFER_KB, DEFAULT_EVENTS, FLUSH_MARKER } from '../lab/tracer'
import type { TraceRecord } from '../../shared/trace/parser'

interface TraceCliOptions extends TargetCliOptions {
  duration: string
  events?: string
  pid?: string
  bufferKb: string
  out: string
  text?: boolean
}

export function registerTrace(program: Command): void {
  targetOptions(program.command('trace'))
    .description('record raw kernel events from a private ftrace instance for N seconds to a file')
    .option('--duration <seconds>', 'how long to record', '5')
    .option('--events <list>', `comma-separated system:event or system/event names (default: ${DEFAULT_EVENTS.join(',')})`)
    .option('--pid <pid>', "trace only this pid (on the target: a VM's pid in the guest) and the children it forks (default: every task)")
    .option('--buffer-kb <kb>', 'per-CPU ring buffer size in KiB', String(DEFAULT_BUFFER_KB))
    .requiredOption('--out <file>', 'where to write the events, as trace_pipe text lines (required)')
    .option('--text', 'read the text trace_pipe instead of the binary per-CPU trace_pipe_raw')
    .action(async (o: TraceCliOptions) => {
      process.exitCode = await traceCommand(o)
    })
}

/** "kmem:mm_page_alloc" or "kmem/mm_page_alloc" → "kmem/mm_page_alloc"; anything else is an error naming it. */
export function parseEventList(text: string): string[] {
  const out: string[] = []
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9_]+)[:/]([a-z0-9_]+)$/.exec(part)
    if (!m) throw new Error(`--events: "${part}" is not an event name (expected system:event, e.g. kmem:mm_page_alloc)`)
    const name = `${m[1]}/${m[2]}`
    if (!out.includes(name)) out.push(name)
  }
  if (!out.length) throw new Error('--events: give at least one event')
  return out
}

/**
 * Passes trace_pipe text on whole lines, without the tracer's own flush mark (written at stop so it
 * knows it has read everything before it): the file holds the events asked for, as many as counted.
 */
export function withoutFlushMark(write: (text: string) => void): { push(chunk: string): void; end(): void } {
  const mark = `: tracing_mark_write: ${FLUSH_MARKER} `
  let partial = ''
  const pass = (text: string): void => {
    const kept = text.split('\n').filter((line) => !line.includes(mark)).join('\n')
    if (kept) write(kept)
  }
  return {
    push(chunk) {
      const text = partial + chunk
      const cut = text.lastIndexOf('\n') + 1
      partial = text.slice(cut)
      // Each whole line keeps its newline: the last element of the split is the empty string after it.
      if (cut) pass(text.slice(0, cut))
    },
    end() {
      if (partial) pass(partial)
      partial = ''
    },
  }
}

/** The longest --duration (24 days): Node's timers overflow past 2^31-1 ms. */
const MAX_DURATION_S = 24 * 24 * 3600

function positiveNumber(text: string, what: string, integer: boolean): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) throw new Error(`${what} must be a positive ${integer ? 'whole ' : ''}number, got "${text}"`)
  return n
}

async function traceCommand(o: TraceCliOptions): Promise<number> {
  let duration: number, bufferKb: number, pid: number | undefined, events: readonly string[]
  try {
    duration = positiveNumber(o.duration, '--duration', false)
    // setTimeout takes at most 2^31-1 ms (about 24.8 days) and fires after 1 ms past it.
    if (duration > MAX_DURATION_S) throw new Error(`--duration must be at most ${MAX_DURATION_S} s (24 days), got "${o.duration}"`)
    bufferKb = positiveNumber(o.bufferKb, '--buffer-kb', true)
    pid = o.pid === undefined ? undefined : positiveNumber(o.pid, '--pid', true)
    events = o.events ? parseEventList(o.events) : DEFAULT_EVENTS
  } catch (e) {
    console.error(`splice-lab trace: ${errorMessage(e)}`)
    return 2
  }

  const lab = await openLab('trace', o, progress(), { records: null })
  if (!lab) return 1

  const out = createWriteStream(o.out)
  const raw = withoutFlushMark((text) => out.write(text))
  const counts = new Map<string, number>()
  let lostLines = 0
  const onRecord = (r: TraceRecord): void => {
    if (r.kind === 'lost') lostLines += r.count
    else counts.set(r.name, (counts.get(r.name) ?? 0) + 1)
  }
  const stop = stopSignal()
  try {
    const target = lab.target
    const facts = await lab.facts()
    console.error(targetLine(target.label, facts))
    for (const note of [...lab.notes, ...facts.notes]) console.error(`note: ${note}`)
    const tracer = await lab.tracer({ keepRawChars: 0, events, bufferKb, pids: pid ?? 'all', onRaw: (chunk) => raw.push(chunk), onRecord, text: o.text })
    try {
      if (!tracer.markerPath) {
        const summary = await tracer.stop()
        console.error(`splice-lab trace: no trace on ${target.label}: ${summary.unavailable}`)
        return 1
      }
      console.error(`tracing ${pid === undefined ? 'every task' : `pid ${pid} and its children`} in ftrace instance ${tracer.instance} for ${duration} s (Ctrl-C stops early)`)
      await tracer.start(() => undefined)
      await new Promise<void>((resolve) => {
        const done = (): void => (clearTimeout(timer), resolve())
        const timer = setTimeout(done, duration * 1000)
        if (stop.signal.aborted) done()
        else stop.signal.addEventListener('abort', done, { once: true })
      })
      const summary = await tracer.stop()
      console.error(`read ${summary.reader?.kind === 'binary' ? 'binary pages' : 'text'}${summary.reader?.why ? `: ${summary.reader.why}` : ''}`)
      const total = [...counts.values()].reduce((a, b) => a + b, 0)
      const width = Math.max(5, ...[...counts.keys()].map((k) => k.length))
      for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${name.padEnd(width)}  ${n}`)
      console.log(`${'total'.padEnd(width)}  ${total}`)
      // summary.lost adds the per-CPU overrun/dropped counters and oversized lines to the LOST lines.
      console.log(`lost events: ${summary.lost}${summary.lost > 0 ? ` (lost-event notices: ${lostLines}; raise --buffer-kb)` : ''}`)
      console.error(`raw events written to ${o.out}`)
      return 0
    } finally {
      await tracer.dispose()
    }
  } catch (e) {
    if (!stop.quiet) console.error(`splice-lab trace: ${errorMessage(e)}`)
    return 1
  } finally {
    stop.release()
    raw.end()
    await new Promise<void>((r) => out.end(() => r()))
    await lab.dispose()
  }
}
