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

  /** Feed a chunk; calls onLine for each complete line (without the newline, \r stripped). */
  push(chunk: string, onLine: (line: string) => void): void {
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
      onLine(stripCr(this.tail + chunk.slice(0, nl)))
      this.tail = ''
      start = nl + 1
      nl = chunk.indexOf('\n', start)
    }
    while (nl !== -1) {
      onLine(stripCr(chunk.slice(start, nl)))
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
  flush(onLine: (line: string) => void): void {
    if (this.tail) onLine(stripCr(this.tail))
    this.tail = ''
  }
}

function stripCr(line: string): string {
  return line.length > 0 && line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line
}

// One regex for the fixed part of the context; the task name is whatever precedes it.
//   -<pid> [ (<tgid>) ] [<cpu>] <flags> <ts>: <event>: <body>
const CONTEXT = /-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(\S+)\s+(\d+\.\d+): /
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]/

/** Event names whose system is known: the text format prints only the event name. */
const SYSTEM_OF: Record<string, string> = {
  mm_filemap_add_to_page_cache: 'filemap',
  mm_filemap_delete_from_page_cache: 'filemap',
  mm_page_alloc: 'kmem',
  mm_page_free: 'kmem',
  mm_page_free_batched: 'kmem',
  tracing_mark_write: 'ftrace',
}

const qualifiedNames = new Map<string, string>()

/** "mm_page_alloc" → "kmem:mm_page_alloc", memoised: the hot path allocates no name strings. */
function qualified(raw: string): string {
  let name = qualifiedNames.get(raw)
  if (name === undefined) {
    const system = raw.startsWith('sys_') ? 'syscalls' : SYSTEM_OF[raw]
    name = system ? `${system}:${raw}` : raw
    if (qualifiedNames.size < 4096) qualifiedNames.set(raw, name)
  }
  return name
}

/**
 * Parses one line. Returns null for lines that are not events (headers starting with '#', blank
 * lines, anything unrecognised — counted by the caller if it cares).
 */
export function parseTraceLine(line: string): TraceRecord | null {
  if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) return null
  if (line.charCodeAt(0) === 67 /* C */ && line.startsWith('CPU:')) {
    const lost = LOST.exec(line)
    if (lost) return { kind: 'lost', cpu: Number(lost[1]), count: Number(lost[2]) }
  }
  // The regex needs "-<pid>", optional "(tgid)", then "[cpu]": a dash inside a task name ("kworker/u8:2")
  // is followed by no "[cpu]", so the first match is the real pid.
  const match = CONTEXT.exec(line)
  if (!match) return null
  const matchIndex = match.index
  // The event name runs to the first ':', '(' or ' ' after the context (indexOf beats a regex group here).
  const nameStart = matchIndex + match[0].length
  let nameEnd = nameStart
  for (let c = line.charCodeAt(nameEnd); nameEnd < line.length && c !== 58 && c !== 40 && c !== 32; c = line.charCodeAt(++nameEnd));
  const raw = line.slice(nameStart, nameEnd)
  if (raw.startsWith('sys_')) {
    // Syscall events print as "sys_splice(fd_in: 4, …)" (enter) and "sys_splice -> 0x2000" (exit).
    if (line.charCodeAt(nameEnd) === 40) return event(line, matchIndex, match, qualified('sys_enter_' + raw.slice(4)), line.slice(nameEnd))
    const arrow = line.indexOf('->', nameEnd)
    return event(line, matchIndex, match, qualified('sys_exit_' + raw.slice(4)), line.slice(arrow === -1 ? nameEnd : arrow + 2).trim())
  }
  const name = qualified(raw)
  // Body after ": ", where trace-cmd-style padding may follow the colon.
  let bodyStart = nameEnd
  if (line.charCodeAt(bodyStart) === 58) bodyStart++
  while (line.charCodeAt(bodyStart) === 32) bodyStart++
  return event(line, matchIndex, match, name, line.slice(bodyStart))
}

function event(line: string, at: number, m: RegExpExecArray, name: string, body: string): TraceEvent {
  const tgid = m[2]
  return {
    kind: 'event',
    task: taskOf(line, at),
    pid: Number(m[1]),
    tgid: tgid === undefined || tgid.startsWith('-') ? null : Number(tgid),
    cpu: Number(m[3]),
    flags: m[4]!,
    ts: Number(m[5]),
    name,
    body,
  }
}

function taskOf(line: string, end: number): string {
  let start = 0
  while (line.charCodeAt(start) === 32) start++
  return line.slice(start, end)
}

/** key=value fields of an event body ("dev 0:26 ino 2 pfn=0x11bcc9 ofs=0 order=0" → {pfn, ofs, order}). */
export function fieldsOf(body: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([A-Za-z_][A-Za-z0-9_]*)[=:]\s?(\S+?)(?:,|\s|\)|$)/g
  for (let m = re.exec(body); m; m = re.exec(body)) out[m[1]!] = m[2]!
  return out
}

/** Return value of a syscall exit event body ("0x2000" → 8192; "0xfffffffffffffff5" → -11). */
export function syscallReturn(body: string): number {
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

  private readonly line = (line: string): void => {
    this.lines++
    const r = parseTraceLine(line)
    if (r) this.onRecord(r)
    else if (line.length > 0 && line.charCodeAt(0) !== 35) this.unparsed++
  }
}
