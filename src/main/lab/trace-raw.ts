/**
 * Reading an ftrace instance's binary ring buffer (per_cpu/cpuN/trace_pipe_raw) on this machine,
 * straight from the files: one non-blocking reader per CPU, every CPU read until empty each round,
 * the round's pages decoded and merged by time (RawTraceDecoder.sync). The kernel formats nothing:
 * a page read is a copy of the ring's sub-buffer (tracing_buffers_read → ring_buffer_read_page), so
 * the lab keeps up with what the kernel records where trace_pipe's text formatting could not.
 *
 * O_NONBLOCK: a read of an empty trace_pipe_raw otherwise sleeps in the kernel (wait_on_pipe) and
 * would hold one of libuv's few threads per CPU; non-blocking reads return EAGAIN and the reader polls.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, constants, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { endianness, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StreamHandle, Target } from '../target/types'
import { shellQuote } from '../target/quote'
import { parseFormatBundle, type TraceFormats } from '../../shared/trace/raw/format'
import { RawTraceDecoder } from '../../shared/trace/raw/decoder'
import { FRAME, frame, helloFrame, RawTraceStream, textBytes } from '../../shared/trace/raw/frames'
import { traceLine } from '../../shared/trace/raw/text'
import type { TraceRecord } from '../../shared/trace/parser'
import { targetCacheDir } from './probe-build'
import { resourcePath } from './resources'

/** How long an idle reader waits before looking again. Default 20 ms: under a fifth of a chart bucket. */
export const POLL_MS = 20
/**
 * Pages read from one CPU per round before the others get their turn. Default 256 (1 MiB of 4 KiB
 * pages, ~25 k events): a round stays a few ms, and a busy CPU cannot starve the event loop.
 */
export const PAGES_PER_ROUND = 256
/** Rounds read at stop at most. Default 64: 64 MiB per CPU of 4 KiB pages, several full default rings. */
export const STOP_ROUNDS = 64
/** How often the task-name table (saved_cmdlines) is read again while tracing. Default 250 ms. */
export const CMDLINES_MS = 250

/** The tracefs files (relative to events/) whose layouts decoding `events` needs; ftrace/print is trace_marker's. */
export function layoutFiles(events: readonly string[]): string[] {
  return ['header_page', 'header_event', ...new Set([...events, 'ftrace/print'].map((e) => `${e}/format`))]
}

/** Reads every layout with one command on the target (`tail -n +1` prints each file under "==> path <=="). */
export async function readFormatsText(target: Target, tracefs: string, events: readonly string[]): Promise<string> {
  const files = layoutFiles(events).map(shellQuote).join(' ')
  const r = await target.exec(`cd ${shellQuote(`${tracefs}/events`)} && tail -n +1 ${files}`, { root: true })
  if (r.code !== 0) throw new Error(`reading the event layouts failed: ${r.output.trim() || `exit ${r.code}`}`)
  return r.output
}

export async function readFormats(target: Target, tracefs: string, events: readonly string[]): Promise<TraceFormats> {
  return parseFormatBundle(await readFormatsText(target, tracefs, events))
}

/** The CPUs an instance has buffers for (per_cpu/cpuN). */
export function instanceCpus(instanceDir: string): number[] {
  return readdirSync(join(instanceDir, 'per_cpu'))
    .map((d) => /^cpu(\d+)$/.exec(d)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
}

export interface LocalRawOptions {
  /** The instance directory (…/instances/<name>). */
  dir: string
  /** tracefs root, for saved_cmdlines. */
  tracefs: string
  /** Made first, so a layout it cannot decode is told apart from files it cannot open. */
  decoder: RawTraceDecoder
  /** A decode or read failure while running: the reader has stopped itself; the caller falls back. */
  onError: (e: Error) => void
  /** Receives the pages as a framed stream (src/shared/trace/raw/frames.ts), e.g. for a RawPageLog. */
  onFrames?: (chunk: Uint8Array) => void
}

/**
 * The local reader. Opening checks what a fallback needs to know early: the files exist and this
 * process may read them (the lab runs as root, or the files are readable), and every format compiles.
 */
export class LocalRawReader {
  readonly decoder: RawTraceDecoder
  private readonly fds: Array<{ cpu: number; fd: number }> = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private stopped = false
  private lastCmdlines = 0
  private lastCmdlinesText = ''
  private readonly le = endianness() === 'LE'
  private readonly pageSize: number
  /** Bytes read from the ring buffers. */
  bytes = 0

  constructor(private readonly o: LocalRawOptions) {
    this.decoder = o.decoder
    this.pageSize = this.decoder.pageSize
    try {
      for (const cpu of instanceCpus(o.dir)) {
        this.fds.push({ cpu, fd: openSync(join(o.dir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'), constants.O_RDONLY | constants.O_NONBLOCK) })
      }
    } catch (e) {
      this.closeAll()
      throw e
    }
    if (!this.fds.length) throw new Error(`${o.dir}/per_cpu has no cpuN directories`)
    o.onFrames?.(helloFrame(endianness() === 'LE'))
    this.refreshCmdlines(true)
  }

  start(): void {
    this.schedule(0)
  }

  get cpus(): number {
    return this.fds.length
  }

  /** Reads every CPU until empty (or PAGES_PER_ROUND), then hands out the round's records. Returns whether a CPU had more. */
  round(): boolean {
    this.refreshCmdlines(false)
    let more = false
    let pages = 0
    for (const { cpu, fd } of this.fds) {
      for (let n = 0; ; n++) {
        if (n === PAGES_PER_ROUND) {
          more = true
          break
        }
        // A fresh page each read: records print their bodies from it later.
        const page = new Uint8Array(this.pageSize)
        let got: number
        try {
          got = readSync(fd, page, 0, page.length, null)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break
          throw e
        }
        if (got <= 0) break
        this.bytes += got
        this.decoder.page(cpu, page.subarray(0, got))
        this.o.onFrames?.(frame(FRAME.PAGE, cpu, page.subarray(0, got), this.le))
        pages++
      }
    }
    this.decoder.sync()
    if (pages) this.o.onFrames?.(frame(FRAME.SYNC, 0, new Uint8Array(0), this.le))
    return more
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      let more = false
      try {
        more = this.round()
      } catch (e) {
        this.stopped = true
        this.closeAll()
        this.o.onError(e instanceof Error ? e : new Error(String(e)))
        return
      }
      this.schedule(more ? 0 : POLL_MS)
    }, ms)
  }

  private refreshCmdlines(force: boolean): void {
    const now = Date.now()
    if (!force && now - this.lastCmdlines < CMDLINES_MS) return
    this.lastCmdlines = now
    try {
      const text = readFileSync(join(this.o.tracefs, 'saved_cmdlines'), 'latin1')
      if (text === this.lastCmdlinesText) return
      this.lastCmdlinesText = text
      this.decoder.cmdlines.update(text)
      this.o.onFrames?.(frame(FRAME.CMDLINES, 0, textBytes(text), this.le))
    } catch {
      // Names are cosmetic: records keep their pids, and unknown ones print as "<...>" as in trace_pipe.
    }
  }

  /** Reads what is left (rounds until every CPU is empty), then closes. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    try {
      this.refreshCmdlines(true)
      // Bounded: tracing is still on, and a busy machine traced whole could refill the ring forever.
      for (let i = 0; i < STOP_ROUNDS && this.round(); i++) {
        // more pages than one round holds
      }
    } finally {
      this.stopped = true
      this.closeAll()
    }
  }

  private closeAll(): void {
    for (const { fd } of this.fds.splice(0)) {
      try {
        closeSync(fd)
      } catch {
        // already closed
      }
    }
  }
}

/** Every page the instance's CPUs hold now, read (consumed) until each is empty: for captures and benchmarks. */
export function readPagesNow(dir: string, pageSize: number): Array<{ cpu: number; page: Uint8Array }> {
  const out: Array<{ cpu: number; page: Uint8Array }> = []
  for (const cpu of instanceCpus(dir)) {
    const fd = openSync(join(dir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'), constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      for (;;) {
        const page = new Uint8Array(pageSize)
        let got: number
        try {
          got = readSync(fd, page, 0, pageSize, null)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break
          throw e
        }
        if (got <= 0) break
        out.push({ cpu, page: page.subarray(0, got) })
      }
    } finally {
      closeSync(fd)
    }
  }
  return out
}

/** A running binary reader, however its pages travel. */
export interface RawReader {
  /** For people: how the pages are read ("local trace_pipe_raw, 2 CPUs"). */
  readonly transport: string
  /** The layouts it decodes with (to print a RawPageLog). */
  readonly formats: TraceFormats
  /** Starts reading; rejects when the pages cannot be streamed at all. */
  start(): Promise<void>
  /** Reads what is left, then releases everything. Idempotent. */
  stop(): Promise<void>
}

export interface OpenRawOptions {
  target: Target
  tracefs: string
  /** The instance directory. */
  dir: string
  events: readonly string[]
  onRecord: (r: TraceRecord) => void
  onError: (e: Error) => void
  /** Receives the pages as a framed stream, as read (see LocalRawOptions.onFrames). */
  onFrames?: (chunk: Uint8Array) => void
  /** Leave the reader's own process out of the trace (a trace of every task, which would record the reader reading). */
  untraced?: boolean
}

/**
 * `command` (run on the target, replacing the shell that runs it) with its pid written into the
 * instance's set_event_notrace_pid first, so a trace of every task leaves out the lab's own reader
 * and what it forks (options/event-fork): reading the ring allocates pages, and a trace of an idle
 * VM was mostly the tracepipe helper's mm_page_alloc and mm_page_free. Kernels before 5.8 have no
 * such file: the command runs as it is.
 */
export function untracedCommand(dir: string, command: string): string {
  return `{ ${notrace(dir, '$$')}; }; ${command}`
}

/** Shell: `pid` (a number, or $$) added to the instance's set_event_notrace_pid where the kernel has one. */
function notrace(dir: string, pid: string): string {
  const file = shellQuote(`${dir}/set_event_notrace_pid`)
  return `[ ! -e ${file} ] || echo ${pid} >> ${file}`
}

/**
 * A binary reader for an instance, or an error saying why there is none (the tracer then reads the
 * text trace_pipe): the layouts are read and every event's print fmt compiled before anything runs.
 * Locally the lab reads the files itself when it may; elsewhere (and locally without root) the
 * tracepipe helper, compiled on the target, streams the pages over the target's stream channel.
 */
export async function openRawReader(o: OpenRawOptions): Promise<RawReader> {
  const formats = await readFormats(o.target, o.tracefs, o.events)
  let whyNotLocal = ''
  if (o.target.kind === 'local') {
    const decoder = new RawTraceDecoder({ formats, littleEndian: endianness() === 'LE', onRecord: o.onRecord })
    try {
      const local = new LocalRawReader({ dir: o.dir, tracefs: o.tracefs, decoder, onError: o.onError, onFrames: o.onFrames })
      const start = async (): Promise<void> => {
        // The reader is this process (see untracedCommand).
        if (o.untraced) await o.target.exec(notrace(o.dir, String(process.pid)), { root: true })
        local.start()
      }
      return { transport: `local per-CPU trace_pipe_raw (${local.cpus} CPUs)`, formats, start, stop: () => local.stop() }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      whyNotLocal = `cannot open ${o.dir}/per_cpu/cpuN/trace_pipe_raw from the lab process${code === 'EACCES' || code === 'EPERM' ? ' (it is not root)' : ''}: ${e instanceof Error ? e.message : String(e)}`
    }
  } else {
    // Compiles every layout now (byte order aside), so a layout it cannot print is refused before anything runs.
    new RawTraceDecoder({ formats, littleEndian: true, onRecord: () => undefined })
  }
  if (!o.target.streamBinary) throw new Error(`${whyNotLocal ? `${whyNotLocal}; and ` : ''}the ${o.target.kind} target cannot stream binary data`)
  try {
    return await openHelperReader(o, formats)
  } catch (e) {
    throw new Error(`${whyNotLocal ? `${whyNotLocal}; and ` : ''}${e instanceof Error ? e.message : String(e)}`)
  }
}

/** Compiler flags of the helper; part of its cache key. */
const TRACEPIPE_CFLAGS = ['-O2', '-Wall']

/** Uploads and compiles resources/tracepipe on the target unless it has this exact build; returns its path. */
export async function buildTracepipe(target: Target): Promise<string> {
  if (target.provideTracepipe) return target.provideTracepipe()
  const facts = await target.facts()
  if (!facts.compiler.path) throw new Error(`the tracepipe helper cannot be built on ${target.label}: ${facts.compiler.why ?? 'no C compiler'}`)
  const source = await readFile(resourcePath('tracepipe/tracepipe.c'))
  const hash = createHash('sha256').update(source).update(TRACEPIPE_CFLAGS.join(' ')).digest('hex').slice(0, 16)
  const dir = `${await targetCacheDir(target)}/tracepipe-${hash}`
  const bin = `${dir}/tracepipe`
  if ((await target.exec(`test -x ${shellQuote(bin)}`)).code === 0) return bin
  await target.upload(`${dir}/tracepipe.c`, source)
  const cc = await target.exec(`${shellQuote(facts.compiler.path)} ${TRACEPIPE_CFLAGS.join(' ')} -o ${shellQuote(`${bin}.tmp`)} ${shellQuote(`${dir}/tracepipe.c`)} 2>&1 && mv -f ${shellQuote(`${bin}.tmp`)} ${shellQuote(bin)}`, { timeoutMs: 120_000 })
  if (cc.code !== 0) throw new Error(`the tracepipe helper did not compile on ${target.label}: ${cc.output.trim()}`)
  return bin
}

/**
 * Builds the helper on this machine as a static binary (for targets without a compiler, such as a
 * VM's initramfs), at `out`; returns `out`. The caller uploads it and hands the path out through
 * Target.provideTracepipe.
 */
export async function buildTracepipeOnHost(out: string, cc = 'cc'): Promise<string> {
  await new Promise<void>((resolve, reject) =>
    execFile(cc, ['-static', ...TRACEPIPE_CFLAGS, '-o', out, resourcePath('tracepipe/tracepipe.c')], (e, _stdout, stderr) => (e ? reject(new Error(`building the tracepipe helper failed: ${stderr.trim() || e.message}`)) : resolve())),
  )
  return out
}

/** Stderr kept from the helper, for the reason when it ends early. Default 4 KiB. */
const HELPER_STDERR_CHARS = 4096

/** The helper on the target, its framed pages decoded as they arrive on the stream channel. */
async function openHelperReader(o: OpenRawOptions, formats: TraceFormats): Promise<RawReader> {
  const bin = await buildTracepipe(o.target)
  const pageSize = formats.page.dataOffset + formats.page.dataSize
  let failed = false
  const fail = (e: unknown): void => {
    if (failed || stopping) return
    failed = true
    void handle?.stop().catch(() => undefined)
    o.onError(e instanceof Error ? e : new Error(String(e)))
  }
  const decoded = new RawTraceStream({ formats, onRecord: o.onRecord, onWarning: (m) => (stderr = (stderr + m + '\n').slice(-HELPER_STDERR_CHARS)) })
  let stderr = ''
  let stopping = false
  let handle: StreamHandle | null = null
  const exec = `exec ${[bin, o.dir, String(pageSize), `${o.tracefs}/saved_cmdlines`].map(shellQuote).join(' ')}`
  const command = o.untraced ? untracedCommand(o.dir, exec) : exec
  return {
    transport: `tracepipe helper on ${o.target.label} (${bin})`,
    formats,
    start: async () => {
      const h = await o.target.streamBinary!(command, (chunk) => {
        if (failed) return
        o.onFrames?.(chunk)
        try {
          decoded.push(chunk)
        } catch (e) {
          fail(e)
        }
      }, { root: true, onStderr: (t) => (stderr = (stderr + t).slice(-HELPER_STDERR_CHARS)) })
      handle = h
      void h.done.then((code) => {
        if (!stopping) fail(new Error(`the tracepipe helper ended (exit ${code})${stderr.trim() ? `: ${stderr.trim()}` : ''}`))
      })
    },
    stop: async () => {
      stopping = true
      await handle?.stop()
      // The helper was stopped mid-stream: a frame cut short is expected; what arrived whole is kept.
      try {
        decoded.end()
      } catch {
        // cut short
      }
    },
  }
}

/**
 * The binary reader's pages, kept as they arrived (framed) in a temporary file and printed as
 * trace_pipe text only when asked (at stop): printing every event while reading would cost the
 * reader the time the ring has (measured: `splice-lab trace` printing live lost 20 % of a flood that
 * the reader alone read whole). `limitBytes` bounds what is kept when nobody needs every event.
 */
export class RawPageLog {
  private fd: number | null
  private readonly path: string
  /** Bytes written. */
  bytes = 0
  /** Bytes not kept (over the limit). */
  droppedBytes = 0

  constructor(private readonly limitBytes: number) {
    this.path = join(tmpdir(), `splice-lab-pages-${process.pid}-${randomBytes(4).toString('hex')}.rawtrace`)
    this.fd = openSync(this.path, 'w', 0o600)
  }

  /** A piece of the framed stream (whole frames, or any split of them for the helper's stream). */
  write(chunk: Uint8Array): void {
    if (this.fd === null) return
    if (this.bytes + chunk.length > this.limitBytes) {
      this.droppedBytes += chunk.length
      return
    }
    writeSync(this.fd, chunk)
    this.bytes += chunk.length
  }

  /** Decodes what was kept and hands out its trace_pipe lines in chunks; then removes the file. */
  print(formats: TraceFormats, onText: (chunk: string) => void): void {
    this.close()
    try {
      let lines: string[] = []
      let chars = 0
      const flush = (): void => {
        if (lines.length) onText(lines.join(''))
        lines = []
        chars = 0
      }
      const stream = new RawTraceStream({
        formats,
        onRecord: (r) => {
          const line = traceLine(r) + '\n'
          lines.push(line)
          chars += line.length
          if (chars >= PRINT_CHUNK) flush()
        },
      })
      // In pieces: a whole-machine trace can keep more than fits in memory at once.
      const fd = openSync(this.path, 'r')
      try {
        for (;;) {
          const piece = new Uint8Array(PRINT_READ_BYTES)
          const got = readSync(fd, piece, 0, piece.length, null)
          if (got <= 0) break
          stream.push(piece.subarray(0, got))
        }
      } finally {
        closeSync(fd)
      }
      try {
        stream.end()
      } catch {
        // A frame cut short (the helper was stopped mid-write): the whole frames before it are kept.
      }
      flush()
    } finally {
      this.remove()
    }
  }

  private close(): void {
    if (this.fd === null) return
    closeSync(this.fd)
    this.fd = null
  }

  /** Removes the file (idempotent). */
  remove(): void {
    this.close()
    rmSync(this.path, { force: true })
  }
}

/** Characters of trace lines per chunk RawPageLog.print hands out. Default 1 Mi. */
const PRINT_CHUNK = 2 ** 20
/** Bytes of the page file RawPageLog.print reads at a time. Default 4 MiB. */
const PRINT_READ_BYTES = 4 * 2 ** 20
