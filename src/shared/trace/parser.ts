/**
 * ftrace text → typed events, incrementally. trace_pipe arrives through a pty or an ssh channel in
 * chunks split anywhere (mid-line, mid-field); TraceLineSplitter keeps the unfinished tail and hands
 * out whole lines, with a cap on how long a partial line may grow so memory stays bounded whatever
 * the stream (an oversized line is dropped and counted, never buffered without end).
 *
 * Line format (kernel/trace/trace_output.c, trace_print_context / lat-less default):
 *   "            bash-8850    [000] .....  2566.532278: mm_page_alloc: page=… order=0 …"
 *   "  kworker/u8:2-35  (     35) [001] d..2. 2566.556815: mm_filemap_delete_from_page_cache: dev 0:26 …"
 *   "CPU:1 [LOST 123 EVENTS]"                                    (ring buffer overrun, trace_pipe)
 * The task name is right-aligned in 16 columns and may itself contain spaces and dashes, so the pid
 * is the "-<digits>" directly followed by the "[cpu]" field, not the first "-".
 */
import { TRACE_EVENTS } from '../vocabulary'

export interface TraceEvent {
  kind: 'event'
  task: string
  pid: number
  /** Present when options/record-tgid is on. */
  tgid: number | null
  cpu: number
  flags: string
  /** Seconds, as the kernel prints it (trace_clock local: monotonic-ish per boot). */
  ts: number
  /** "system:event" where the system is known (see systemOf), else the bare event name. */
  name: string
  /** Everything after "<event>: ". */
  body: string
  /**
   * Binary records only: a numeric field of the event's format, read from the record without
   * printing the body (undefined when the format has no such integer field). Consumers that need a
   * value fall back to reading it from the body where this is absent.
   */
  num?(field: string): number | undefined
}

export interface LostEvents {
  kind: 'lost'
  cpu: number
  count: number
}

export type TraceRecord = TraceEvent | LostEvents

/** Longest partial line kept while waiting for its newline. Real lines are < 1 KiB. Default 64 KiB. */
export const MAX_LINE = 64 * 1024

export class TraceLineSplitter {
  private tail = ''
  /** Lines dropped because they grew past MAX_LINE without a newline. */
  oversized = 0

  /**
   * Feed a chunk; calls onLine(text, start, end) for each complete line, where text.slice(start, end)
   * is the line without its newline (and \r). Lines are handed out as ranges of the chunk, not as
   * strings: the parser reads a flat chunk much faster than a sliced line.
   */
  push(chunk: string, onLine: (text: string, start: number, end: number) => void): void {
    let start = 0
    let nl = chunk.indexOf('\n')
    if (nl === -1) {
      this.tail += chunk
      if (this.tail.length > MAX_LINE) {
        this.tail = ''
        this.oversized++
      }
      return
    }
    if (this.tail) {
      const line = this.tail + chunk.slice(0, nl)
      this.tail = ''
      onLine(line, 0, endOf(line, 0, line.length))
      start = nl + 1
      nl = chunk.indexOf('\n', start)
    }
    while (nl !== -1) {
      onLine(chunk, start, endOf(chunk, start, nl))
      start = nl + 1
      nl = chunk.indexOf('\n', start)
    }
    this.tail = chunk.slice(start)
    if (this.tail.length > MAX_LINE) {
      this.tail = ''
      this.oversized++
    }
  }

  /** The stream ended: a last line without newline is still a line. */
  flush(onLine: (text: string, start: number, end: number) => void): void {
    const line = this.tail
    this.tail = ''
    if (line) onLine(line, 0, endOf(line, 0, line.length))
  }
}

/** End of the line [start, end) without a trailing \r. */
function endOf(text: string, start: number, end: number): number {
  return end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end
}

const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]/

/**
 * Known event names → "system:event". The text format prints only the event name. The values are
 * literals, so the names the aggregator switches on compare by identity.
 */
const KNOWN_NAMES: Record<string, string> = Object.fromEntries(TRACE_EVENTS.map((e) => [e.slice(e.indexOf(':') + 1), e]))

/**
 * "mm_page_alloc" → "kmem:mm_page_alloc"; "sys_enter_x" → "syscalls:sys_enter_x"; others as they
 * are. The binary reader names its events with it too, so both readers give the same names.
 */
export function qualified(raw: string): string {
  return Object.hasOwn(KNOWN_NAMES, raw) ? KNOWN_NAMES[raw]! : raw.length > 4 && raw.startsWith('sys_') ? `syscalls:${raw}` : raw
}

/*
 * Speed: this is the hot loop of a live run, so lines are read in place with charCodeAt from the
 * chunk they arrived in. No regex (a match array costs more than the rest of the line), and no
 * string builtin that takes a string argument (startsWith and multi-character indexOf allocate or
 * go through the runtime; measured at 50-150 ns a call here, a whole line's budget).
 */

/**
 * The context, as trace_print_context writes it; the first '-' from the left that starts a complete
 * context is the pid's (a dash inside a task name, "systemd-journal" or "Web Content-x", is not
 * followed by one):
 *   <task> -<pid> <spaces> [ "(" <spaces> (<tgid>|"-------") ")" <spaces> ] "[" <cpu> "]" <spaces> <flags> <spaces> <sec>.<frac> ": "
 * The values of the last line read are kept in the fields (one line at a time, no match array).
 */
class ContextReader {
  task = ''
  pid = 0
  tgid: number | null = null
  cpu = 0
  flags = ''
  ts = 0

  /** Reads the context of text[start, end); returns the index of the event name, or -1 if none. */
  read(text: string, start: number, end: number): number {
    for (let dash = text.indexOf('-', start); dash !== -1 && dash < end; dash = text.indexOf('-', dash + 1)) {
      const at = this.fromDash(text, start, end, dash)
      if (at !== -1) return at
    }
    return -1
  }

  private fromDash(text: string, start: number, end: number, dash: number): number {
    let i = dash + 1
    let c = text.charCodeAt(i)
    if (!isDigit(c)) return -1
    let pid = 0
    for (; isDigit(c); c = text.charCodeAt(++i)) pid = pid * 10 + (c - 48)
    const at = this.afterPid(text, end, i)
    if (at === -1) return -1
    let taskStart = start
    while (text.charCodeAt(taskStart) === 32) taskStart++
    this.task = text.slice(taskStart, dash)
    this.pid = pid
    return at
  }

  /** From just after the pid's digits: tgid, cpu, flags, timestamp; returns the index after ": ". */
  private afterPid(text: string, end: number, i: number): number {
    // Every loop below stops at the line's end: '\n', '\r' or NaN past the string are none of
    // digit, space or the punctuation it looks for.
    let c = text.charCodeAt(i)
    if (!isSpace(c)) return -1
    while (isSpace(c)) c = text.charCodeAt(++i)
    let tgid: number | null = null
    if (c === 40 /* ( */) {
      c = text.charCodeAt(++i)
      while (isSpace(c)) c = text.charCodeAt(++i)
      if (isDigit(c)) {
        tgid = 0
        for (; isDigit(c); c = text.charCodeAt(++i)) tgid = tgid * 10 + (c - 48)
      } else if (c === 45) {
        while (c === 45) c = text.charCodeAt(++i)
      } else return -1
      if (c !== 41 /* ) */) return -1
      c = text.charCodeAt(++i)
      if (!isSpace(c)) return -1
      while (isSpace(c)) c = text.charCodeAt(++i)
    }
    if (c !== 91 /* [ */) return -1
    c = text.charCodeAt(++i)
    if (!isDigit(c)) return -1
    let cpu = 0
    for (; isDigit(c); c = text.charCodeAt(++i)) cpu = cpu * 10 + (c - 48)
    if (c !== 93 /* ] */) return -1
    c = text.charCodeAt(++i)
    if (!isSpace(c)) return -1
    while (isSpace(c)) c = text.charCodeAt(++i)
    const flagsStart = i
    while (i < end && !isSpace(c)) c = text.charCodeAt(++i)
    if (i === flagsStart || i >= end) return -1
    const flagsEnd = i
    while (isSpace(c)) c = text.charCodeAt(++i)
    // "<sec>.<frac>: " as exact integers; dividing once gives the same double as Number("sec.frac").
    if (!isDigit(c)) return -1
    const tsStart = i
    let whole = 0
    for (; isDigit(c); c = text.charCodeAt(++i)) whole = whole * 10 + (c - 48)
    if (c !== 46 /* . */) return -1
    c = text.charCodeAt(++i)
    if (!isDigit(c)) return -1
    let frac = 0
    let scale = 1
    for (; isDigit(c); c = text.charCodeAt(++i)) {
      frac = frac * 10 + (c - 48)
      scale *= 10
    }
    if (c !== 58 /* : */ || i + 1 >= end || text.charCodeAt(i + 1) !== 32) return -1
    this.tgid = tgid
    this.cpu = cpu
    this.flags = text.slice(flagsStart, flagsEnd)
    this.ts = scale <= 1e15 && whole < 2 ** 53 / scale ? (whole * scale + frac) / scale : Number(text.slice(tsStart, i))
    return i + 2
  }
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isSpace = (c: number): boolean => c === 32 || c === 9
/** The characters that end an event name: ':', '(' and ' '. */
const endsName = (c: number): boolean => c === 58 || c === 40 || c === 32

const context = new ContextReader()

/**
 * Event names seen so far with their qualified forms (for "sys_x": the enter and exit names),
 * matched in place: a cached name matches when the character after it ends a name and its
 * characters are the line's. The last match is tried first, since lines mostly repeat one event.
 * A trace enables a handful of events; NAME_CACHE_SIZE bounds the work when it enables many.
 */
interface CachedName {
  raw: string
  name: string
  enter: string
  exit: string
}
const NAME_CACHE_SIZE = 16
const nameCache: CachedName[] = []
let lastHit = 0

function nameAt(text: string, start: number, end: number): CachedName {
  const n = nameCache.length
  search: for (let j = 0; j < n; j++) {
    const index = (lastHit + j) % n
    const e = nameCache[index]!
    const length = e.raw.length
    const after = start + length
    if (after > end || (after < end && !endsName(text.charCodeAt(after)))) continue
    for (let k = 0; k < length; k++) if (e.raw.charCodeAt(k) !== text.charCodeAt(start + k)) continue search
    lastHit = index
    return e
  }
  let nameEnd = start
  while (nameEnd < end && !endsName(text.charCodeAt(nameEnd))) nameEnd++
  const raw = text.slice(start, nameEnd)
  const call = raw.length > 4 && raw.startsWith('sys_') ? raw.slice(4) : ''
  const e: CachedName = { raw, name: qualified(raw), enter: call && qualified('sys_enter_' + call), exit: call && qualified('sys_exit_' + call) }
  if (nameCache.length === NAME_CACHE_SIZE) nameCache.pop()
  nameCache.unshift(e)
  lastHit = 0
  return e
}

/**
 * Parses one line. Returns null for lines that are not events (headers starting with '#', blank
 * lines, anything unrecognised — counted by the caller if it cares).
 */
export function parseTraceLine(line: string): TraceRecord | null {
  return parseTraceText(line, 0, line.length)
}

/** parseTraceLine(text.slice(start, end)), read in place. */
export function parseTraceText(text: string, start: number, end: number): TraceRecord | null {
  if (start >= end) return null
  const first = text.charCodeAt(start)
  if (first === 35 /* # */) return null
  if (first === 67 /* C */) {
    const lost = LOST.exec(text.slice(start, end))
    if (lost) return { kind: 'lost', cpu: Number(lost[1]), count: Number(lost[2]) }
  }
  const nameStart = context.read(text, start, end)
  if (nameStart === -1) return null
  const names = nameAt(text, nameStart, end)
  const nameEnd = nameStart + names.raw.length
  const terminator = nameEnd < end ? text.charCodeAt(nameEnd) : -1
  if (names.enter) {
    // Syscall events print as "sys_splice(fd_in: 4, …)" (enter) and "sys_splice -> 0x2000" (exit).
    if (terminator === 40) return event(names.enter, text.slice(nameEnd, end))
    let from = nameEnd
    while (from < end && text.charCodeAt(from) === 32) from++
    if (from + 1 < end && text.charCodeAt(from) === 45 && text.charCodeAt(from + 1) === 62 /* -> */) from += 2
    return event(names.exit, trimmed(text, from, end))
  }
  // Body after ": ", where trace-cmd-style padding may follow the colon.
  let bodyStart = nameEnd
  if (terminator === 58) bodyStart++
  while (bodyStart < end && text.charCodeAt(bodyStart) === 32) bodyStart++
  return event(names.name, text.slice(bodyStart, end))
}

/** text.slice(start, end).trim(), without the intermediate string when nothing needs trimming. */
function trimmed(text: string, start: number, end: number): string {
  while (start < end && text.charCodeAt(start) <= 32) start++
  while (end > start && text.charCodeAt(end - 1) <= 32) end--
  return text.slice(start, end)
}

function event(name: string, body: string): TraceEvent {
  const c = context
  return { kind: 'event', task: c.task, pid: c.pid, tgid: c.tgid, cpu: c.cpu, flags: c.flags, ts: c.ts, name, body }
}

/** Return value of a syscall exit event body ("0x2000" → 8192; "0xfffffffffffffff5" → -11). */
export function syscallReturn(body: string): number {
  // Usual case read in place: "0x" and up to 13 hex digits (below 2^52, so exact and non-negative).
  if (body.length > 2 && body.length <= 15 && body.charCodeAt(0) === 48 && body.charCodeAt(1) === 120) {
    let value = 0
    let i = 2
    for (; i < body.length; i++) {
      const c = body.charCodeAt(i)
      const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1
      if (digit < 0) break
      value = value * 16 + digit
    }
    if (i === body.length) return value
  }
  const s = body.trim()
  if (!s.startsWith('0x')) return Number(s)
  if (s.length === 18 && s[2] === 'f') return Number(BigInt.asIntN(64, BigInt(s)))
  return parseInt(s.slice(2), 16)
}

/** Parses a whole stream incrementally; records go to onRecord, unparsable lines are counted. */
export class TraceStreamParser {
  private readonly splitter = new TraceLineSplitter()
  lines = 0
  unparsed = 0

  constructor(private readonly onRecord: (r: TraceRecord) => void) {}

  push(chunk: string): void {
    this.splitter.push(chunk, this.line)
  }

  end(): void {
    this.splitter.flush(this.line)
  }

  get oversized(): number {
    return this.splitter.oversized
  }

  private readonly line = (text: string, start: number, end: number): void => {
    this.lines++
    const r = parseTraceText(text, start, end)
    if (r) this.onRecord(r)
    else if (end > start && text.charCodeAt(start) !== 35) this.unparsed++
  }
}
