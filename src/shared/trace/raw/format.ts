/**
 * The layouts the kernel publishes for its binary ring buffer, parsed from tracefs text:
 * `events/header_page` (the page header), `events/header_event` (the event header's bit split and
 * special type numbers) and each event's `format` (id, fields with offset/size/signedness, print fmt).
 * Nothing about the layout is assumed where the kernel says it: a file that does not say what the
 * decoder needs is a FormatError naming the file and the line, and the tracer falls back to text.
 *
 * Sources: kernel/trace/ring_buffer.c (ring_buffer_print_page_header, ring_buffer_print_entry_header),
 * kernel/trace/trace_events.c (f_show: "field:%s %s;\toffset:%u;\tsize:%u;\tsigned:%d;").
 */

export class FormatError extends Error {
  override name = 'FormatError'
}

/** One field of an event, as its format file declares it. */
export interface Field {
  /** The C type as declared ("unsigned long", "__data_loc char[]", "const struct iovec *"). */
  type: string
  name: string
  offset: number
  size: number
  signed: boolean
  /** Element count of a fixed array ("char comm[16]" → 16); 0 for a flexible array ("char buf[]"); -1 if not an array. */
  arrayLength: number
  /** Dynamic data: the field holds (length << 16 | offset); for __rel_loc the offset counts from the field's end. */
  dynamic: 'data_loc' | 'rel_loc' | null
}

export interface EventFormat {
  id: number
  /** Under events/: "kmem" of kmem/mm_page_alloc. */
  system: string
  name: string
  fields: Field[]
  /** Fields by name, common_* included. */
  byName: Map<string, Field>
  /** The print fmt line's text after "print fmt: ", as the kernel wrote it. */
  printFmt: string
}

export interface PageHeader {
  timestampOffset: number
  timestampSize: number
  commitOffset: number
  commitSize: number
  dataOffset: number
  /** Bytes of event data a page can hold; dataOffset + dataSize is the page (sub-buffer) size. */
  dataSize: number
}

export interface EventHeader {
  typeLenBits: number
  timeDeltaBits: number
  padding: number
  timeExtend: number
  timeStamp: number
  dataMaxTypeLen: number
}

const FIELD_LINE = /^\s*field:\s*(.+?)\s*;\s*offset:\s*(\d+)\s*;\s*size:\s*(\d+)\s*;\s*(?:signed:\s*(\d+)\s*;)?/

/** "unsigned long pfn" → { type: "unsigned long", name: "pfn" }; "char comm[16]" → array of 16. */
function parseDeclaration(decl: string, where: string): Pick<Field, 'type' | 'name' | 'arrayLength' | 'dynamic'> {
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(\d*)\])?$/.exec(decl.trim())
  if (!m || !m[1]!.trim()) throw new FormatError(`${where}: cannot read the field declaration "${decl}"`)
  let type = m[1]!.trim()
  let arrayLength = m[3] === undefined ? -1 : m[3] === '' ? 0 : Number(m[3])
  let dynamic: Field['dynamic'] = null
  if (type.startsWith('__data_loc ')) dynamic = 'data_loc'
  else if (type.startsWith('__rel_loc ')) dynamic = 'rel_loc'
  if (dynamic) {
    // "__data_loc char[] name": the brackets belong to the type, the field is a 32-bit locator.
    type = type.replace(/\[\]$/, '').trim()
    arrayLength = 0
  }
  return { type, name: m[2]!, arrayLength, dynamic }
}

function parseField(line: string, where: string): Field | null {
  const m = FIELD_LINE.exec(line)
  if (!m) return null
  const decl = parseDeclaration(m[1]!, where)
  return { ...decl, offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' }
}

/** events/<system>/<name>/format. `system` comes from the path: the file does not say it. */
export function parseEventFormat(text: string, system: string): EventFormat {
  const where = `events/${system}/…/format`
  const name = /^name:\s*(\S+)\s*$/m.exec(text)?.[1]
  const id = /^ID:\s*(\d+)\s*$/m.exec(text)?.[1]
  if (!name) throw new FormatError(`${where}: no "name:" line`)
  if (!id) throw new FormatError(`events/${system}/${name}/format: no "ID:" line`)
  const at = `events/${system}/${name}/format`
  const fields: Field[] = []
  for (const line of text.split('\n')) {
    if (!/^\s*field:/.test(line)) continue
    const f = parseField(line, at)
    if (!f) throw new FormatError(`${at}: cannot read the field line "${line.trim()}"`)
    fields.push(f)
  }
  // To the end of the file: a format string may hold a newline, which the file shows as is.
  const printFmt = /^print fmt:[ \t]*([\s\S]*)$/m.exec(text)?.[1]?.trimEnd()
  if (printFmt === undefined) throw new FormatError(`${at}: no "print fmt:" line`)
  const byName = new Map(fields.map((f) => [f.name, f]))
  for (const common of ['common_type', 'common_flags', 'common_preempt_count', 'common_pid']) {
    if (!byName.has(common)) throw new FormatError(`${at}: no ${common} field`)
  }
  return { id: Number(id), system, name, fields, byName, printFmt }
}

/** events/header_page. */
export function parsePageHeader(text: string): PageHeader {
  const byName = new Map<string, Field>()
  for (const line of text.split('\n')) {
    const f = parseField(line, 'events/header_page')
    if (f && !byName.has(f.name)) byName.set(f.name, f)
  }
  const need = (n: string): Field => {
    const f = byName.get(n)
    if (!f) throw new FormatError(`events/header_page: no "${n}" field`)
    return f
  }
  const ts = need('timestamp')
  const commit = need('commit')
  const data = need('data')
  if (ts.size !== 8) throw new FormatError(`events/header_page: timestamp is ${ts.size} bytes (expected 8)`)
  if (commit.size !== 4 && commit.size !== 8) throw new FormatError(`events/header_page: commit is ${commit.size} bytes (expected 4 or 8)`)
  return { timestampOffset: ts.offset, timestampSize: ts.size, commitOffset: commit.offset, commitSize: commit.size, dataOffset: data.offset, dataSize: data.size }
}

/** events/header_event ("type_len : 5 bits", "padding : type == 29", …). */
export function parseEventHeader(text: string): EventHeader {
  const bits = (n: string): number | undefined => {
    const v = new RegExp(`^\\s*${n}\\s*:\\s*(\\d+)\\s*bits`, 'm').exec(text)?.[1]
    return v === undefined ? undefined : Number(v)
  }
  const type = (n: string): number | undefined => {
    const v = new RegExp(`^\\s*${n}\\s*:\\s*type\\s*==\\s*(\\d+)`, 'm').exec(text)?.[1]
    return v === undefined ? undefined : Number(v)
  }
  const h = {
    typeLenBits: bits('type_len'),
    timeDeltaBits: bits('time_delta'),
    padding: type('padding'),
    timeExtend: type('time_extend'),
    timeStamp: type('time_stamp'),
    dataMaxTypeLen: Number(/data max type_len\s*==\s*(\d+)/.exec(text)?.[1] ?? NaN),
  }
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || !Number.isFinite(v)) throw new FormatError(`events/header_event: cannot find ${k}`)
  }
  const e = h as EventHeader
  // The decoder reads the header as one 32-bit word: type_len in the low bits, time_delta above.
  if (e.typeLenBits + e.timeDeltaBits !== 32) throw new FormatError(`events/header_event: type_len (${e.typeLenBits} bits) and time_delta (${e.timeDeltaBits} bits) do not make a 32-bit word`)
  return e
}

/** The layouts one trace needs: both headers and the formats of its events, by id. */
export interface TraceFormats {
  page: PageHeader
  event: EventHeader
  events: Map<number, EventFormat>
}

/**
 * A bundle of tracefs files as `tail -n +1 FILE…` prints them ("==> path <==" before each), paths
 * relative to events/ (header_page, header_event, kmem/mm_page_alloc/format…). One command on the
 * target gets every layout a trace needs.
 */
export function parseFormatBundle(text: string): TraceFormats {
  const files = new Map<string, string>()
  const re = /^==> (.+?) <==$/gm
  let m: RegExpExecArray | null
  let last: { path: string; start: number } | null = null
  while ((m = re.exec(text))) {
    if (last) files.set(last.path, text.slice(last.start, m.index))
    last = { path: m[1]!, start: m.index + m[0].length + 1 }
  }
  if (last) files.set(last.path, text.slice(last.start))
  const file = (path: string): string => {
    const f = files.get(path)
    if (f === undefined) throw new FormatError(`the layout bundle has no ${path}`)
    return f
  }
  const events = new Map<number, EventFormat>()
  for (const [path, content] of files) {
    const fm = /^(?:.*\/)?([^/]+)\/([^/]+)\/format$/.exec(path)
    if (!fm) continue
    const f = parseEventFormat(content, fm[1]!)
    events.set(f.id, f)
  }
  return { page: parsePageHeader(file('header_page')), event: parseEventHeader(file('header_event')), events }
}
