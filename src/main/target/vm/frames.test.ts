import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { FrameDecoder, encodeHostFrame, type GuestFrame } from './frames'

/** A guest frame as portd writes it. */
function guestFrame(type: string, payload: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeUInt32LE(payload.length, 1)
  return Buffer.concat([head, payload])
}

function exitPayload(status: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(status, 0)
  return b
}

describe('stream port frames', () => {
  it('decodes hello, output, stderr, keepalive, error and exit frames however the bytes are split (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), (data, status, cuts) => {
        const wire = Buffer.concat([
          guestFrame('H', Buffer.from('portd 1')),
          guestFrame('O', Buffer.from(data)),
          guestFrame('e', Buffer.from('warning')),
          guestFrame('K', Buffer.alloc(0)),
          guestFrame('E', Buffer.from('busy')),
          guestFrame('X', exitPayload(status)),
        ])
        const d = new FrameDecoder()
        const frames: GuestFrame[] = []
        let at = 0
        for (const c of cuts) {
          frames.push(...d.push(wire.subarray(at, Math.min(wire.length, at + c))))
          at = Math.min(wire.length, at + c)
        }
        frames.push(...d.push(wire.subarray(at)))
        expect(frames).toEqual([
          { type: 'hello', text: 'portd 1' },
          { type: 'output', data: Buffer.from(data) },
          { type: 'stderr', data: Buffer.from('warning') },
          { type: 'keepalive' },
          { type: 'error', text: 'busy' },
          { type: 'exit', status },
        ])
      }),
    )
  })

  it('refuses a frame type it does not know (the stream lost its place)', () => {
    expect(() => new FrameDecoder().push(guestFrame('Z', Buffer.alloc(0)))).toThrow(/unknown frame type 0x5a/)
  })

  it('encodes a run as R, its byte length and the UTF-8 command; a signal as S and one byte', () => {
    const run = encodeHostFrame({ type: 'run', command: 'cat /x/é' })
    expect(run.subarray(0, 1).toString('latin1')).toBe('R')
    expect(run.readUInt32LE(1)).toBe(Buffer.byteLength('cat /x/é'))
    expect(run.subarray(5).toString('utf8')).toBe('cat /x/é')
    expect([...encodeHostFrame({ type: 'signal', signal: 2 })]).toEqual([0x53, 1, 0, 0, 0, 2])
  })
})
