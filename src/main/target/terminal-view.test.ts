import { describe, expect, it } from 'vitest'
import { FramingFilter } from './terminal-view'
import { beginMark, endMark, newNonce } from './framing'

/** The pty's view of two framed commands, a prompt and a line that only looks like the prefix. */
function session(): { raw: string; shown: string } {
  const a = newNonce()
  const b = newNonce()
  const raw = `welcome\r\n${beginMark(a)}\r\nkernel=6.1\r\narch=x86_64\r\n\r\n${endMark(a)} 0\r\n${beginMark(b)}\r\nno newline\r\n${endMark(b)} 1\r\nSPLAB is a word\r\n$ `
  return { raw, shown: 'welcome\r\nkernel=6.1\r\narch=x86_64\r\nno newlineSPLAB is a word\r\n$ ' }
}

describe('FramingFilter', () => {
  it('takes the sentinels out and keeps everything else byte for byte', () => {
    const { raw, shown } = session()
    const f = new FramingFilter()
    expect(f.push(raw) + f.flush()).toBe(shown)
  })

  it('gives the same text for any cut of the stream', () => {
    const { raw, shown } = session()
    for (let step = 1; step <= 9; step++) {
      const f = new FramingFilter()
      let out = ''
      for (let i = 0; i < raw.length; i += step) out += f.push(raw.slice(i, i + step))
      expect(out + f.flush(), `chunks of ${step}`).toBe(shown)
    }
  })

  it('shows a prompt at once, without waiting for its line to end', () => {
    const f = new FramingFilter()
    expect(f.push('Password: ')).toBe('Password: ')
    expect(f.push("Are you sure you want to continue connecting (yes/no)? ")).toBe('Are you sure you want to continue connecting (yes/no)? ')
  })
})
