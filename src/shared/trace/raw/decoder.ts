/**
 * Binary ring-buffer pages (what per_cpu/cpuN/trace_pipe_raw hands out, one sub-buffer per read) →
 * the same TraceRecords the text parser makes of trace_pipe, CPUs merged by timestamp.
 *
 * A page (kernel/trace/ring_buffer.c, struct buffer_data_page): a 64-bit timestamp, a commit word
 * (bytes of event data; bit 31 = events were missed before this page, bit 30 = their count is stored
 * as a long right after the data: ring_buffer_read_page), then the events. Each event starts with a
 * 32-bit header (type_len in the low bits, time_delta above: rb_event / ring_buffer_print_entry_header):
 *   type_len 1..28       data of type_len × 4 bytes follows the header
 *   type_len 0           array[0] is the length (itself included), data follows it
 *   padding (29)         time_delta 0: the rest of the page is empty; else array[0] bytes to skip
 *   time_extend (30)     delta = array[0] << 27 | time_delta, added to the time
 *   time_stamp (31)      absolute time = array[0] << 27 | time_delta
 * The time of a data event is the page's timestamp plus every delta up to and including its own.
 *
 * Speed: events are read in place with one DataView per page; a record is the only allocation per
 * event. Its body is printed from the page the first time someone reads it (most consumers read the
 * bodies of a few event kinds only), so a record keeps its page alive until then.
 */
import { FormatError, type EventFormat, type TraceFormats } from './format'
import { compilePrintFmt, castInt, cString, readField, type RecordView } from './printfmt'
import { Cmdlines, LatencyFlagsCache } from './context'
import { qualified, type TraceEvent, type TraceRecord } from '../parser'

export class DecodeError extends Error {
  override name = 'DecodeError'
}

/** Commit word bits (kernel/trace/ring_buffer.c RB_MISSED_EVENTS, RB_MISSED_STORED) and the size mask (kbuffer's COMMIT_MASK). */
const MISSED_EVENTS = 0x80000000
const MISSED_STORED = 0x40000000
const COMMIT_MASK = (1 << 27) - 1

interface EventInfo {
  /** The record's name, as the text parser names the same event. */
  name: string
  print: (r: RecordView) => string
  /** Bytes of payload the format's fields need; a shorter record means the layout changed. */
  minSize: number
  format: EventFormat
}

/** Reused for every body printed (one at a time), so printing allocates only the body. */
const view: RecordView = { view: new DataView(new ArrayBuffer(0)), bytes: new Uint8Array(0), start: 0, end: 0, littleEndian: true }

/** An event from a binary page; `body` is printed on first read. Equal field by field to the text parser's. */
export class RawTraceEvent implements TraceEvent {
  readonly kind = 'event' as const
  task: string
  pid: number
  tgid: number | null = null
  cpu: number
  flags: string
  ts: number
  name: string
  #info: EventInfo
  #view: DataView
  #bytes: Uint8Array
  #start: number
  #end: number
  #le: boolean
  #body: string | null = null

  constructor(task: string, pid: number, cpu: number, flags: string, ts: number, info: EventInfo, dv: DataView, bytes: Uint8Array, start: number, end: number, le: boolean) {
    this.task = task
    this.pid = pid
    this.cpu = cpu
    this.flags = flags
    this.ts = ts
    this.name = info.name
    this.#info = info
    this.#view = dv
    this.#bytes = bytes
    this.#start = start
    this.#end = end
    this.#le = le
  }

  num(field: string): number | undefined {
    const f = this.#info.format.byName.get(field)
    if (!f || f.dynamic || f.arrayLength >= 0 || this.#start + f.offset + f.size > this.#end) return undefined
    const v = readField(this.#view, this.#start + f.offset, f.size, f.signed, this.#le)
    return typeof v === 'number' ? v : undefined
  }

  get body(): string {
    if (this.#body === null) {
      view.view = this.#view
      view.bytes = this.#bytes
      view.start = this.#start
      view.end = this.#end
      view.littleEndian = this.#le
      this.#body = this.#info.print(view)
    }
    return this.#body
  }
}

/** A record as a plain object (body printed), for JSON, tests and comparisons. */
export function plainRecord(r: TraceRecord): TraceRecord {
  if (r.kind === 'lost') return { kind: 'lost', cpu: r.cpu, count: r.count }
  return { kind: 'event', task: r.task, pid: r.pid, tgid: r.tgid, cpu: r.cpu, flags: r.flags, ts: r.ts, name: r.name, body: r.body }
}

/** The arguments of a syscall event: the 8-byte fields after __syscall_nr (kernel/trace/trace_syscalls.c). */
function syscallArgs(format: EventFormat, where: string): Array<{ name: string; offset: number }> {
  const nr = format.fields.findIndex((f) => f.name === '__syscall_nr')
  if (nr === -1) throw new FormatError(`${where}: a syscall event without __syscall_nr`)
  const args = format.fields.slice(nr + 1)
  for (const a of args) {
    if (a.size !== 8 || a.dynamic || a.arrayLength >= 0) throw new FormatError(`${where}: syscall field ${a.name} is not a plain argument (${a.type}, ${a.size} bytes); the binary reader prints plain arguments only`)
  }
  return args.map((a) => ({ name: a.name, offset: a.offset }))
}

function u64(r: RecordView, offset: number): number | bigint {
  const lo = r.view.getUint32(offset + (r.littleEndian ? 0 : 4), r.littleEndian)
  const hi = r.view.getUint32(offset + (r.littleEndian ? 4 : 0), r.littleEndian)
  return hi < 0x200000 ? hi * 4294967296 + lo : r.view.getBigUint64(offset, r.littleEndian)
}

/**
 * How the text names and prints an event. Syscall events and trace_marker writes are printed by
 * their own functions, not their print fmt (print_syscall_enter / print_syscall_exit in
 * kernel/trace/trace_syscalls.c; trace_print_print in kernel/trace/trace_output.c).
 */
function eventInfo(format: EventFormat): EventInfo {
  const where = `events/${format.system}/${format.name}/format`
  const minSize = Math.max(...format.fields.map((f) => f.offset + f.size))
  if (format.system === 'syscalls' && format.name.startsWith('sys_enter_')) {
    const args = syscallArgs(format, where)
    return {
      name: qualified(format.name),
      minSize,
      format,
      // "(fd_in: 4, off_in: 0x7ffe…, …)": below 10 in decimal, else in hex.
      print: (r) => {
        let s = '('
        for (let i = 0; i < args.length; i++) {
          const v = u64(r, r.start + args[i]!.offset)
          s += `${args[i]!.name}: ${v < 10 ? String(v) : '0x' + v.toString(16)}${i === args.length - 1 ? '' : ', '}`
        }
        return s + ')'
      },
    }
  }
  if (format.system === 'syscalls' && format.name.startsWith('sys_exit_')) {
    const ret = format.byName.get('ret')
    if (!ret || ret.size !== 8) throw new FormatError(`${where}: a syscall exit without an 8-byte ret`)
    return { name: qualified(format.name), minSize, format, print: (r) => '0x' + castInt(u64(r, r.start + ret.offset), 64, false).toString(16) }
  }
  if (format.system === 'ftrace' && format.name === 'print') {
    const buf = format.byName.get('buf')
    if (!buf) throw new FormatError(`${where}: no buf field`)
    // A trace_marker write: the text shows the writer's symbol, tracing_mark_write, as the event name.
    return {
      name: qualified('tracing_mark_write'),
      minSize: buf.offset,
      format,
      print: (r) => {
        const s = cString(r.bytes, r.start + buf.offset, r.end)
        return s.endsWith('\n') ? s.slice(0, -1) : s
      },
    }
  }
  return { name: qualified(format.name), minSize, format, print: compilePrintFmt(format) }
}

export interface DecoderOptions {
  formats: TraceFormats
  /** Byte order of the target (its pages are in it). */
  littleEndian: boolean
  /** Task names; updated by whoever reads saved_cmdlines. */
  cmdlines?: Cmdlines
  onRecord: (r: TraceRecord) => void
}

/**
 * Decodes pages per CPU as they arrive and hands out records merged by timestamp at each sync(): a
 * sync marks the end of a round in which every CPU's buffer was read until it was empty, so nothing
 * recorded before the round's reads can still come (the same guarantee trace_pipe gives per read).
 */
export class RawTraceDecoder {
  readonly cmdlines: Cmdlines
  /** Events decoded. */
  events = 0
  pages = 0
  /** Pages whose header said events were missed but not how many (the per-CPU stats still count them). */
  missedUncounted = 0
  /** By event id; filled to the largest id, so lookups stay on a dense array (a sparse one falls back to a dictionary). */
  private readonly infos: Array<EventInfo | undefined>
  private readonly flagsCache = new LatencyFlagsCache()
  private readonly pending: Array<{ records: TraceRecord[]; ns: number[] }> = []
  private readonly le: boolean
  private readonly onRecord: (r: TraceRecord) => void
  private readonly dataOffset: number
  private readonly dataSize: number
  private readonly commitOffset: number
  private readonly tsOffset: number
  private readonly longSize: number
  private readonly typeMask: number
  private readonly deltaShift: number
  private readonly padding: number
  private readonly timeExtend: number
  private readonly timeStamp: number
  private readonly maxData: number

  constructor(o: DecoderOptions) {
    this.le = o.littleEndian
    this.onRecord = o.onRecord
    this.cmdlines = o.cmdlines ?? new Cmdlines()
    const maxId = Math.max(0, ...[...o.formats.events.keys()].filter((id) => id < 65536))
    this.infos = new Array<EventInfo | undefined>(maxId + 1).fill(undefined)
    for (const f of o.formats.events.values()) if (f.id < 65536) this.infos[f.id] = eventInfo(f)
    const p = o.formats.page
    const e = o.formats.event
    this.dataOffset = p.dataOffset
    this.dataSize = p.dataSize
    this.commitOffset = p.commitOffset
    this.tsOffset = p.timestampOffset
    this.longSize = p.commitSize
    this.typeMask = (1 << e.typeLenBits) - 1
    this.deltaShift = e.typeLenBits
    this.padding = e.padding
    this.timeExtend = e.timeExtend
    this.timeStamp = e.timeStamp
    this.maxData = e.dataMaxTypeLen
  }

  /** Bytes of one page as trace_pipe_raw reads return it. */
  get pageSize(): number {
    return this.dataOffset + this.dataSize
  }

  private queue(cpu: number): { records: TraceRecord[]; ns: number[] } {
    let q = this.pending[cpu]
    if (!q) {
      for (let i = this.pending.length; i <= cpu; i++) this.pending[i] = { records: [], ns: [] }
      q = this.pending[cpu]!
    }
    return q
  }

  /** Decodes one page of `cpu` (bytes.length ≥ the page's header and committed data). */
  page(cpu: number, bytes: Uint8Array): void {
    if (bytes.length < this.dataOffset) throw new DecodeError(`cpu ${cpu}: a page of ${bytes.length} bytes is shorter than its header (${this.dataOffset})`)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const le = this.le
    const q = this.queue(cpu)
    const commit = dv.getUint32(this.commitOffset + (le || this.longSize === 4 ? 0 : 4), le)
    const size = commit & COMMIT_MASK
    const end = this.dataOffset + size
    if (size > this.dataSize || end > bytes.length) throw new DecodeError(`cpu ${cpu}: page commit says ${size} bytes of events, more than the page holds (${Math.min(this.dataSize, bytes.length - this.dataOffset)})`)
    let ts = readU64(dv, this.tsOffset, le)
    this.pages++
    if (commit & MISSED_EVENTS) {
      if (commit & MISSED_STORED && end + this.longSize <= bytes.length) {
        const count = this.longSize === 8 ? readU64(dv, end, le) : dv.getUint32(end, le)
        q.records.push({ kind: 'lost', cpu, count })
        q.ns.push(ts)
      } else this.missedUncounted++
    }
    const typeMask = this.typeMask
    const shift = this.deltaShift
    const cmdlines = this.cmdlines
    const flagsCache = this.flagsCache
    let p = this.dataOffset
    while (p + 4 <= end) {
      const word = dv.getUint32(p, le)
      const type = word & typeMask
      const delta = word >>> shift
      let start: number
      let length: number
      if (type === 0) {
        if (p + 8 > end) break
        length = dv.getUint32(p + 4, le) - 4
        start = p + 8
      } else if (type <= this.maxData) {
        length = type * 4
        start = p + 4
      } else if (type === this.padding) {
        if (delta === 0) break // the rest of the page is empty
        p += 4 + dv.getUint32(p + 4, le)
        continue
      } else if (type === this.timeExtend) {
        ts += dv.getUint32(p + 4, le) * 134217728 + delta
        p += 8
        continue
      } else if (type === this.timeStamp) {
        ts = dv.getUint32(p + 4, le) * 134217728 + delta
        p += 8
        continue
      } else throw new DecodeError(`cpu ${cpu}: event header type ${type} at page offset ${p} is none the header_event names`)
      const next = start + length
      if (length < 8 || next > end) throw new DecodeError(`cpu ${cpu}: an event of ${length} bytes at page offset ${p} runs past the page's data (${end})`)
      ts += delta
      const id = dv.getUint16(start, le)
      const info = this.infos[id]
      if (!info) throw new DecodeError(`cpu ${cpu}: event id ${id} is not among the formats read at start (${this.knownIds()}); were events enabled or the kernel's events changed while tracing?`)
      if (length < info.minSize) throw new DecodeError(`cpu ${cpu}: a ${info.format.system}/${info.format.name} record of ${length} bytes is shorter than its format (${info.minSize}); the format changed?`)
      const pid = dv.getInt32(start + 4, le)
      const us = Math.floor((ts + 500) / 1000)
      q.records.push(new RawTraceEvent(cmdlines.name(pid), pid, cpu, flagsCache.get(bytes[start + 2]!, bytes[start + 3]!), us / 1e6, info, dv, bytes, start, next, le))
      q.ns.push(ts)
      this.events++
      p = next
    }
  }

  private knownIds(): string {
    const ids: string[] = []
    this.infos.forEach((info, id) => info && ids.push(`${id} ${info.format.system}/${info.format.name}`))
    return ids.join(', ')
  }

  /** Every CPU was read until empty: hand out what was decoded, merged by time (earliest first; ties to the lower CPU, as trace_pipe does). */
  sync(): void {
    const queues = this.pending.filter((q) => q && q.records.length > 0)
    if (queues.length === 1) {
      const q = queues[0]!
      for (const r of q.records) this.onRecord(r)
    } else if (queues.length > 1) {
      const at = new Array<number>(queues.length).fill(0)
      for (;;) {
        let best = -1
        let bestNs = Infinity
        for (let k = 0; k < queues.length; k++) {
          const i = at[k]!
          const ns = queues[k]!.ns
          if (i < ns.length && ns[i]! < bestNs) {
            bestNs = ns[i]!
            best = k
          }
        }
        if (best === -1) break
        this.onRecord(queues[best]!.records[at[best]!++]!)
      }
    }
    for (const q of queues) {
      q.records.length = 0
      q.ns.length = 0
    }
  }
}

function readU64(dv: DataView, offset: number, le: boolean): number {
  const lo = dv.getUint32(offset + (le ? 0 : 4), le)
  const hi = dv.getUint32(offset + (le ? 4 : 0), le)
  return hi * 4294967296 + lo
}
