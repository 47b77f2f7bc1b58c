import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { TraceStreamParser, type TraceRecord } from '../parser'
import { TraceAggregator } from '../aggregate'
import { DecodeError, plainRecord, RawTraceDecoder } from './decoder'
import { FormatError, parseEventFormat, parseFormatBundle } from './format'
import { compilePrintFmt } from './printfmt'
import { FRAME, FrameReader, RawTraceStream, frame, helloFrame, payloadText, textBytes } from './frames'
import { traceLine } from './text'

const fixture = (name: string): Buffer => readFileSync(new URL(`../../../../test/fixtures/trace/${name}`, import.meta.url))

/** Records of a framed capture, bodies printed. */
function decode(chunks: Iterable<Uint8Array>): TraceRecord[] {
  const out: TraceRecord[] = []
  const s = new RawTraceStream({ onRecord: (r) => out.push(plainRecord(r)) })
  for (const c of chunks) s.push(c)
  s.end()
  return out
}

function parseText(text: string): TraceRecord[] {
  const out: TraceRecord[] = []
  const p = new TraceStreamParser((r) => out.push(r))
  p.push(text)
  p.end()
  expect(p.unparsed).toBe(0)
  return out
}

/**
 * %p values: the kernel prints a pointer hashed with a per-boot secret (lib/vsprintf.c, ptr_to_id);
 * the binary record does not carry what the hash is made of, so the binary reader prints "(ptrval)".
 */
const unhashed = (r: TraceRecord): TraceRecord => (r.kind === 'event' ? { ...r, body: r.body.replace(/\bpage=[0-9a-f]{16}\b/, (m) => (m === 'page=0000000000000000' ? m : 'page=(ptrval)')) } : r)

/** The frames of a capture file. */
function frames(bytes: Uint8Array): Array<{ type: number; cpu: number; payload: Uint8Array }> {
  const out: Array<{ type: number; cpu: number; payload: Uint8Array }> = []
  const r = new FrameReader({ frame: (type, cpu, payload) => out.push({ type, cpu, payload: payload.slice() }) })
  r.push(bytes)
  r.end()
  return out
}

const ops = fixture('raw-ops.rawtrace')
const opsText = fixture('raw-ops.txt').toString('latin1')

describe('binary trace_pipe_raw reader', () => {
  it('decodes a raw capture from this kernel to the records its text twin parses to', () => {
    const raw = decode([ops])
    const text = parseText(opsText)
    expect(raw.length).toBeGreaterThan(400)
    // The workload moved between CPUs op by op: the equality covers merging them by time.
    expect(new Set(raw.map((r) => r.cpu)).size).toBeGreaterThan(1)
    expect(raw.map(unhashed)).toEqual(text.map(unhashed))
    // The capture holds every kind the tracer asks for, so the equality covers each one's printing.
    const names = new Set(raw.map((r) => (r.kind === 'event' ? r.name : 'lost')))
    for (const n of ['syscalls:sys_enter_splice', 'syscalls:sys_exit_splice', 'syscalls:sys_enter_tee', 'syscalls:sys_exit_vmsplice', 'kmem:mm_page_alloc', 'kmem:mm_page_free', 'filemap:mm_filemap_add_to_page_cache', 'filemap:mm_filemap_delete_from_page_cache', 'ftrace:tracing_mark_write']) {
      expect(names).toContain(n)
    }
  })

  it('aggregates to the same per-op counts and live series as the text twin (fields read without printing bodies)', () => {
    const fromRaw = new TraceAggregator()
    const s = new RawTraceStream({ onRecord: (r) => fromRaw.push(r) })
    s.push(ops)
    s.end()
    const fromText = new TraceAggregator()
    for (const r of parseText(opsText)) fromText.push(r)
    expect(fromRaw.perOp).toEqual(fromText.perOp)
    expect(Object.keys(fromRaw.perOp).length).toBeGreaterThan(10)
    const raw = fromRaw.takeBuckets(true)
    expect(raw).toEqual(fromText.takeBuckets(true))
    // The workload splices, tees and vmsplices in every op: the series are not all zero.
    expect(raw.reduce((n, b) => n + b.counts.bytes + b.counts.shared + b.counts.copied, 0)).toBeGreaterThan(0)
  })

  it('counts the events a page header says were missed, as many as the CPU stats overran', () => {
    const raw = decode([fixture('raw-missed.rawtrace')])
    const lost = raw.filter((r) => r.kind === 'lost')
    const overrun = [...fixture('raw-missed.stats').toString().matchAll(/^overrun: (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0)
    expect(overrun).toBeGreaterThan(0)
    expect(lost.reduce((a, r) => a + (r.kind === 'lost' ? r.count : 0), 0)).toBe(overrun)
    // The events that were kept still equal the text twin's.
    expect(raw.filter((r) => r.kind === 'event').map(unhashed)).toEqual(parseText(fixture('raw-missed.txt').toString('latin1')).map(unhashed))
  })

  it('gives the same records however the byte stream is split', () => {
    const whole = decode([ops])
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: ops.length - 1 }), { maxLength: 40 }), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), ops.length]
        const chunks = at.slice(1).map((end, i) => ops.subarray(at[i], end))
        expect(decode(chunks)).toEqual(whole)
      }),
      { numRuns: 60 },
    )
  })

  it('merges CPUs by time, whichever CPU is read first', () => {
    const f = frames(ops)
    const pages = f.filter((x) => x.type === FRAME.PAGE && x.cpu === 0)
    // CPU 0's pages again under CPU 1, the second one's clock 1 µs later: records alternate.
    const shifted = pages.map((p) => {
      const page = new Uint8Array(p.payload)
      const dv = new DataView(page.buffer)
      dv.setBigUint64(0, dv.getBigUint64(0, true) + 1000n, true)
      return frame(FRAME.PAGE, 1, page)
    })
    const head = f.filter((x) => x.type !== FRAME.PAGE && x.type !== FRAME.SYNC).map((x) => frame(x.type, x.cpu, x.payload))
    const one = pages.map((p) => frame(FRAME.PAGE, 0, p.payload))
    const merged = decode([...head, ...shifted, ...one, frame(FRAME.SYNC, 0, new Uint8Array(0))])
    const ts = merged.map((r) => (r.kind === 'event' ? r.ts : 0))
    expect(ts).toEqual([...ts].sort((a, b) => a - b))
    expect(merged.filter((r) => r.kind === 'event' && r.cpu === 1)).toHaveLength(merged.length / 2)
  })

  it('refuses an event id it has no format for, naming the id and the formats it has', () => {
    const f = frames(ops)
    const bundle = payloadText(f.find((x) => x.type === FRAME.FORMATS)!.payload)
    // The layouts without mm_page_alloc's: its records can no longer be read.
    const without = bundle.replace(/==> kmem\/mm_page_alloc\/format <==[\s\S]*?(?===>)/, '')
    const formats = parseFormatBundle(without)
    const d = new RawTraceDecoder({ formats, littleEndian: true, onRecord: () => undefined })
    const page = f.find((x) => x.type === FRAME.PAGE)!
    expect(() => d.page(0, page.payload)).toThrow(DecodeError)
    expect(() => d.page(0, page.payload)).toThrow(/event id \d+ is not among the formats read at start/)
  })

  it('refuses records shorter than their format says (the layout changed)', () => {
    const f = frames(ops)
    const bundle = payloadText(f.find((x) => x.type === FRAME.FORMATS)!.payload)
    const moved = bundle.replace(/(==> kmem\/mm_page_free\/format <==[\s\S]*?field:unsigned int order;\toffset:)16/, '$1200')
    expect(moved).not.toBe(bundle)
    const d = new RawTraceDecoder({ formats: parseFormatBundle(moved), littleEndian: true, onRecord: () => undefined })
    const pages = f.filter((x) => x.type === FRAME.PAGE)
    expect(() => pages.forEach((p) => d.page(p.cpu, p.payload))).toThrow(/kmem\/mm_page_free record of \d+ bytes is shorter than its format/)
  })

  it('refuses layouts it cannot read, naming the file', () => {
    expect(() => parseFormatBundle('==> header_page <==\n\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n')).toThrow(/events\/header_page: no "commit" field/)
    const header = payloadText(frames(ops).find((x) => x.type === FRAME.FORMATS)!.payload).replace('type_len    :    5 bits', 'type_len    :    6 bits')
    expect(() => parseFormatBundle(header)).toThrow(FormatError)
    expect(() => parseFormatBundle(header)).toThrow(/header_event: type_len \(6 bits\) and time_delta \(27 bits\) do not make a 32-bit word/)
  })

  it('refuses a print fmt it cannot print, naming the event and the construct', () => {
    const format = parseEventFormat('name: odd\nID: 9\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\tfield:unsigned long x;\toffset:8;\tsize:8;\tsigned:0;\n\nprint fmt: "x=%s", __print_hex(REC->x, 8)\n', 'test')
    expect(() => compilePrintFmt(format)).toThrow(/events\/test\/odd\/format: print fmt calls __print_hex\(\)/)
  })

  it('reads a stream written in big-endian order', () => {
    const r = new FrameReader({ frame: () => undefined })
    r.push(helloFrame(false))
    expect(r.byteOrder).toBe('be')
    expect(() => new FrameReader({ frame: () => undefined }).push(textBytes('garbage!garbage!'))).toThrow(/does not start with a HELLO frame/)
  })

  it('prints lines the text parser reads back into the same records', () => {
    const raw = decode([ops, ...[]])
    const lines = raw.map(traceLine).join('\n') + '\n'
    expect(parseText(lines)).toEqual(raw)
    const missed = decode([fixture('raw-missed.rawtrace')])
    expect(parseText(missed.map(traceLine).join('\n'))).toEqual(missed)
  })
})

describe('print fmt', () => {
  const format = (fields: string, fmt: string) =>
    parseEventFormat(`name: e\nID: 7\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n${fields}\nprint fmt: ${fmt}\n`, 'test')
  const record = (bytes: number[]) => {
    const b = new Uint8Array(64)
    b.set(bytes, 8)
    return { view: new DataView(b.buffer), bytes: b, start: 0, end: 64, littleEndian: true }
  }

  it('prints flags the table names, then what is left in hex (trace_print_flags_seq)', () => {
    const f = format('\tfield:unsigned long flags;\toffset:8;\tsize:8;\tsigned:0;', '"f=%s", (REC->flags) ? __print_flags(REC->flags, "|", {( unsigned long)(1UL << 0), "A"}, {( unsigned long)(1UL << 1), "B"}, { 0, ((void *)0) }) : "none"')
    const print = compilePrintFmt(f)
    expect(print(record([0b111]))).toBe('f=A|B|0x4')
    expect(print(record([0]))).toBe('f=none')
  })

  it('prints signed and unsigned values of every width, dynamic strings and symbols', () => {
    const f = format(
      '\tfield:int ret;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] name;\toffset:12;\tsize:4;\tsigned:0;\n\tfield:unsigned char kind;\toffset:16;\tsize:1;\tsigned:0;',
      '"ret=%d u=%u x=%x name=%s kind=%s", REC->ret, REC->ret, REC->ret, __get_str(name), __print_symbolic(REC->kind, { 1, "one" }, { 2, "two" })',
    )
    // ret = -11; name at offset 24, 3 bytes ("ab\0"); kind = 2.
    const r = record([0xf5, 0xff, 0xff, 0xff, 24, 0, 3, 0, 2])
    r.bytes.set([97, 98, 0], 24)
    expect(compilePrintFmt(f)(r)).toBe('ret=-11 u=4294967285 x=fffffff5 name=ab kind=two')
  })

  it('takes a precision from its own argument (%.*s) and a format string with a newline in it', () => {
    const f = format('\tfield:int len;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char name[8];\toffset:12;\tsize:8;\tsigned:0;', '"%.*s (%x)\n", REC->len, REC->name, (uint)REC->len')
    const r = record([3, 0, 0, 0, 104, 101, 108, 108, 111, 0])
    expect(compilePrintFmt(f)(r)).toBe('hel (3)\n')
  })
})
