/**
 * The framed byte stream that carries raw trace pages from a target to the lab (the tracepipe helper's
 * stdout over a pipe or ssh, and the capture files in test/fixtures/trace/), split anywhere on the way.
 *
 * Frame: u16 type, u16 cpu, u32 payload length, payload — in the byte order of the machine that wrote
 * it (the pages inside are in that order too). The stream starts with a HELLO frame whose payload is
 * the u32 HELLO_MAGIC; a reader tells the writer's byte order from it. resources/tracepipe/tracepipe.c
 * writes the same layout.
 */
import { DecodeError, RawTraceDecoder } from './decoder'
import { parseFormatBundle, type TraceFormats } from './format'
import type { Cmdlines } from './context'
import type { TraceRecord } from '../parser'

export const FRAME = {
  /** Payload: u32 HELLO_MAGIC. First frame of a stream. */
  HELLO: 1,
  /** Payload: one page of `cpu`, as a trace_pipe_raw read returned it. */
  PAGE: 2,
  /** Every CPU was read until empty: records so far can be merged and handed out. */
  SYNC: 3,
  /** Payload: the text of saved_cmdlines (task names by pid). */
  CMDLINES: 4,
  /** Payload: the layouts (`tail -n +1` of header_page, header_event and each event's format). */
  FORMATS: 5,
  /** Payload: a message from the writer (it could not open or read something); the stream goes on. */
  ERROR: 6,
} as const

export const HELLO_MAGIC = 0x53504c54 // "SPLT"
export const FRAME_HEADER = 8
/** Largest payload a reader accepts: a page is at most a few sub-buffers; a bigger length is a broken stream. Default 4 MiB. */
export const MAX_FRAME = 4 * 2 ** 20

export interface FrameHandlers {
  frame(type: number, cpu: number, payload: Uint8Array): void
}

/** Reassembles frames from chunks split anywhere; payloads are views into the chunk when they fit in one. */
export class FrameReader {
  private partial: Uint8Array | null = null
  private partialFill = 0
  private header = new Uint8Array(FRAME_HEADER)
  private headerFill = 0
  private littleEndian: boolean | null = null
  /** Bytes read so far. */
  bytes = 0

  constructor(private readonly handlers: FrameHandlers) {}

  get byteOrder(): 'le' | 'be' | null {
    return this.littleEndian === null ? null : this.littleEndian ? 'le' : 'be'
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length
    let i = 0
    while (i < chunk.length) {
      if (this.partial) {
        const n = Math.min(this.partial.length - this.partialFill, chunk.length - i)
        this.partial.set(chunk.subarray(i, i + n), this.partialFill)
        this.partialFill += n
        i += n
        if (this.partialFill === this.partial.length) {
          const payload = this.partial
          this.partial = null
          this.deliver(payload)
        }
        continue
      }
      if (this.headerFill > 0 || chunk.length - i < FRAME_HEADER) {
        const n = Math.min(FRAME_HEADER - this.headerFill, chunk.length - i)
        this.header.set(chunk.subarray(i, i + n), this.headerFill)
        this.headerFill += n
        i += n
        if (this.headerFill < FRAME_HEADER) return
        this.headerFill = 0
        const length = this.readHeader(this.header, 0)
        if (chunk.length - i >= length) {
          this.deliver(chunk.subarray(i, i + length))
          i += length
        } else this.startPartial(length)
        continue
      }
      const length = this.readHeader(chunk, i)
      i += FRAME_HEADER
      if (chunk.length - i >= length) {
        this.deliver(chunk.subarray(i, i + length))
        i += length
      } else this.startPartial(length)
    }
  }

  /** The stream ended: a frame cut short is an error (the writer died mid-frame). */
  end(): void {
    if (this.partial || this.headerFill > 0) throw new DecodeError(`the raw trace stream ended in the middle of a frame (${this.bytes} bytes read)`)
  }

  private type = 0
  private cpu = 0

  private startPartial(length: number): void {
    this.partial = new Uint8Array(length)
    this.partialFill = 0
    if (length === 0) {
      this.partial = null
      this.deliver(new Uint8Array(0))
    }
  }

  private readHeader(bytes: Uint8Array, at: number): number {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + at, FRAME_HEADER)
    if (this.littleEndian === null) {
      if (dv.getUint16(0, true) === FRAME.HELLO) this.littleEndian = true
      else if (dv.getUint16(0, false) === FRAME.HELLO) this.littleEndian = false
      else throw new DecodeError(`the raw trace stream does not start with a HELLO frame (first bytes ${[...bytes.subarray(at, at + 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}); is the helper's output mixed with something else?`)
    }
    const le = this.littleEndian
    this.type = dv.getUint16(0, le)
    this.cpu = dv.getUint16(2, le)
    const length = dv.getUint32(4, le)
    if (length > MAX_FRAME) throw new DecodeError(`a raw trace frame of ${length} bytes (type ${this.type}) is larger than any page; the stream is broken`)
    return length
  }

  private deliver(payload: Uint8Array): void {
    if (this.type === FRAME.HELLO) {
      const magic = payload.length >= 4 ? new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, this.littleEndian!) : 0
      if (magic !== HELLO_MAGIC) throw new DecodeError(`the raw trace stream's HELLO frame has magic 0x${magic.toString(16)}, expected 0x${HELLO_MAGIC.toString(16)}`)
    }
    this.handlers.frame(this.type, this.cpu, payload)
  }
}

/** latin1 text of a payload (tracefs files are ASCII). */
export function payloadText(payload: Uint8Array): string {
  let s = ''
  for (let i = 0; i < payload.length; i += 8192) s += String.fromCharCode(...payload.subarray(i, i + 8192))
  return s
}

export interface RawStreamOptions {
  /** The layouts, when the lab read them itself; else the stream's FORMATS frame gives them. */
  formats?: TraceFormats
  cmdlines?: Cmdlines
  onRecord: (r: TraceRecord) => void
  /** ERROR frames: what the writer could not do. */
  onWarning?: (message: string) => void
}

/** A framed stream → records: frames in, the decoder fed, records out at each SYNC. */
export class RawTraceStream {
  private decoder: RawTraceDecoder | null = null
  private readonly reader: FrameReader
  private pendingCmdlines: string[] = []

  constructor(private readonly o: RawStreamOptions) {
    this.reader = new FrameReader({ frame: (type, cpu, payload) => this.frame(type, cpu, payload) })
  }

  get stats(): { events: number; pages: number; missedUncounted: number; bytes: number } {
    const d = this.decoder
    return { events: d?.events ?? 0, pages: d?.pages ?? 0, missedUncounted: d?.missedUncounted ?? 0, bytes: this.reader.bytes }
  }

  push(chunk: Uint8Array): void {
    this.reader.push(chunk)
  }

  /** The stream ended: what was decoded is handed out. */
  end(): void {
    this.decoder?.sync()
    this.reader.end()
  }

  private frame(type: number, cpu: number, payload: Uint8Array): void {
    switch (type) {
      case FRAME.HELLO:
        return
      case FRAME.FORMATS:
        if (!this.o.formats) this.start(parseFormatBundle(payloadText(payload)))
        return
      case FRAME.CMDLINES:
        if (this.decoder) this.decoder.cmdlines.update(payloadText(payload))
        else this.pendingCmdlines.push(payloadText(payload))
        return
      case FRAME.PAGE:
        return this.need().page(cpu, payload)
      case FRAME.SYNC:
        return this.decoder?.sync()
      case FRAME.ERROR:
        this.o.onWarning?.(payloadText(payload).trim())
        return
    }
    throw new DecodeError(`unknown raw trace frame type ${type}`)
  }

  private need(): RawTraceDecoder {
    if (this.decoder) return this.decoder
    if (!this.o.formats) throw new DecodeError('a page arrived before the layouts (no FORMATS frame and none given)')
    return this.start(this.o.formats)
  }

  private start(formats: TraceFormats): RawTraceDecoder {
    this.decoder = new RawTraceDecoder({ formats, littleEndian: this.reader.byteOrder !== 'be', cmdlines: this.o.cmdlines, onRecord: this.o.onRecord })
    for (const t of this.pendingCmdlines) this.decoder.cmdlines.update(t)
    this.pendingCmdlines = []
    return this.decoder
  }
}

/** Writes frames (for captures and tests; the helper on a target writes the same layout in C). */
export function frame(type: number, cpu: number, payload: Uint8Array, littleEndian = true): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + payload.length)
  const dv = new DataView(out.buffer)
  dv.setUint16(0, type, littleEndian)
  dv.setUint16(2, cpu, littleEndian)
  dv.setUint32(4, payload.length, littleEndian)
  out.set(payload, FRAME_HEADER)
  return out
}

export function helloFrame(littleEndian = true): Uint8Array {
  const magic = new Uint8Array(4)
  new DataView(magic.buffer).setUint32(0, HELLO_MAGIC, littleEndian)
  return frame(FRAME.HELLO, 0, magic, littleEndian)
}

/** latin1 bytes of a text (tracefs files are ASCII). */
export function textBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff
  return out
}
