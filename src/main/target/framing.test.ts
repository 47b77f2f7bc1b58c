import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { FrameParser, MarkWatcher, beginMark, endMark, frameCommand, newNonce } from './framing'

/** What a shell prints for a framed command that printed `output` and exited with `code` (pty style: \r\n). */
function framed(nonce: string, output: string, code: number, noise = 'bash-5.2# '): string {
  return (noise + beginMark(nonce) + '\n' + output + '\n' + endMark(nonce) + ` ${code}\n`).replace(/\n/g, '\r\n')
}

function feedSplit(p: FrameParser, text: string, cuts: number[]): void {
  let last = 0
  for (const c of [...cuts].sort((a, b) => a - b)) {
    p.feed(text.slice(last, c))
    last = c
  }
  p.feed(text.slice(last))
}

describe('sentinel framing', () => {
  it('recovers output and status, dropping prompt noise before the frame', () => {
    const n = newNonce()
    const p = new FrameParser(n)
    expect(p.feed(framed(n, 'hello\nworld', 3))).toBe(true)
    expect(p.result).toEqual({ code: 3, output: 'hello\nworld' })
  })

  it('keeps output that has no trailing newline, and one that has', () => {
    const n = newNonce()
    const a = new FrameParser(n)
    a.feed(framed(n, 'x\n', 0))
    expect(a.result!.output).toBe('x\n')
    const b = new FrameParser(n)
    b.feed(framed(n, '', 0))
    expect(b.result!.output).toBe('')
  })

  it('is not fooled by sentinel-like text in the output (other nonces, the prefix, a truncated mark)', () => {
    const n = newNonce()
    const other = newNonce()
    const tricky = [beginMark(other), endMark(other) + ' 0', 'SPLAB_', endMark(n), endMark(n).slice(0, -1) + ' 5', beginMark(n)].join('\n')
    const p = new FrameParser(n)
    p.feed(framed(n, tricky, 1))
    expect(p.result).toEqual({ code: 1, output: tricky })
  })

  it('gives the same result whatever the chunk boundaries (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.integer({ min: 0, max: 255 }), fc.array(fc.nat(), { maxLength: 12 }), (out, code, cutsRaw) => {
        const n = 'abc123'
        const text = framed(n, out.replace(/\r/g, ''), code)
        const p = new FrameParser(n)
        feedSplit(p, text, cutsRaw.map((c) => c % (text.length + 1)))
        expect(p.result).toEqual({ code, output: out.replace(/\r/g, '') })
      }),
    )
  })

  it('keeps what follows the frame for whatever comes next', () => {
    const n = newNonce()
    const p = new FrameParser(n)
    p.feed(framed(n, 'a', 0) + 'tail')
    expect(p.rest).toBe('tail')
  })

  it('reports partial output of an unfinished frame', () => {
    const n = newNonce()
    const p = new FrameParser(n)
    p.feed(beginMark(n) + '\r\nhalf of it')
    expect(p.result).toBeNull()
    expect(p.partial()).toBe('half of it')
  })

  it('never puts the sentinels literally into the command line it sends', () => {
    const n = newNonce()
    const line = frameCommand('echo hi', n)
    expect(line).not.toContain(beginMark(n))
    expect(line).not.toContain(endMark(n))
  })

  it('finds a ready mark split across chunks', () => {
    const n = newNonce()
    const w = new MarkWatcher(n)
    const m = beginMark(n)
    expect(w.feed('banner ' + m.slice(0, 5))).toBe(false)
    expect(w.feed(m.slice(5))).toBe(true)
  })
})
