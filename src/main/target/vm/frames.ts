/**
 * The frames the stream port daemon (resources/vm/portd.c) and the host exchange over a
 * virtio-serial port: 1 byte type, 4 bytes little-endian length, then the payload. The header of
 * portd.c documents each type; this is the host's half.
 */

export type HostFrame = { type: 'run'; command: string } | { type: 'signal'; signal: number }

export type GuestFrame =
  | { type: 'hello'; text: string }
  | { type: 'output'; data: Buffer }
  | { type: 'stderr'; data: Buffer }
  | { type: 'exit'; status: number }
  | { type: 'keepalive' }
  | { type: 'error'; text: string }

const HEADER = 5
/** What portd accepts as a command (MAX_COMMAND in portd.c). */
export const MAX_COMMAND_BYTES = 1 << 20
/**
 * The largest frame the host accepts: portd sends at most 64 KiB of output per frame; anything far
 * larger means the stream lost its place (a port reused mid-frame), and the stream fails.
 */
const MAX_FRAME = 1 << 20

export function encodeHostFrame(f: HostFrame): Buffer {
  const payload = f.type === 'run' ? Buffer.from(f.command, 'utf8') : Buffer.from([f.signal])
  if (payload.length > MAX_COMMAND_BYTES) throw new Error(`a stream command may be at most ${MAX_COMMAND_BYTES} bytes (got ${payload.length})`)
  const head = Buffer.alloc(HEADER)
  head.write(f.type === 'run' ? 'R' : 'S', 0, 'latin1')
  head.writeUInt32LE(payload.length, 1)
  return Buffer.concat([head, payload])
}

/** Splits a byte stream from the guest into frames, whatever the chunk boundaries. */
export class FrameDecoder {
  private pending: Buffer[] = []
  private pendingBytes = 0

  /** Feeds a chunk; returns the frames it completed. Throws on a frame that makes no sense. */
  push(chunk: Buffer): GuestFrame[] {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    const out: GuestFrame[] = []
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    let at = 0
    while (buf.length - at >= HEADER) {
      const len = buf.readUInt32LE(at + 1)
      if (len > MAX_FRAME) throw new Error(`stream port: a frame of ${len} bytes (type 0x${buf[at]!.toString(16)}): the stream lost its place`)
      if (buf.length - at < HEADER + len) break
      out.push(decode(buf[at]!, buf.subarray(at + HEADER, at + HEADER + len)))
      at += HEADER + len
    }
    buf = buf.subarray(at)
    this.pending = buf.length ? [buf] : []
    this.pendingBytes = buf.length
    return out
  }
}

function decode(type: number, payload: Buffer): GuestFrame {
  switch (String.fromCharCode(type)) {
    case 'H':
      return { type: 'hello', text: payload.toString('utf8') }
    case 'O':
      // A copy, so a small frame does not keep the whole chunk it came in alive.
      return { type: 'output', data: Buffer.from(payload) }
    case 'e':
      return { type: 'stderr', data: Buffer.from(payload) }
    case 'X':
      if (payload.length !== 4) throw new Error(`stream port: an exit frame of ${payload.length} bytes`)
      return { type: 'exit', status: payload.readInt32LE(0) }
    case 'K':
      return { type: 'keepalive' }
    case 'E':
      return { type: 'error', text: payload.toString('utf8') }
    default:
      throw new Error(`stream port: unknown frame type 0x${type.toString(16)}: the stream lost its place`)
  }
}
