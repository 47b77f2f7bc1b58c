import { describe, expect, it } from 'vitest'
import { formatTable } from './table'

describe('CLI table', () => {
  it('pads every column to its widest cell, rules the header, and trims line ends', () => {
    expect(formatTable(['a', 'long header'], [['xyz', '1'], ['', '22']])).toEqual(['a    long header', '---  -----------', 'xyz  1', '     22'])
  })

  it('wraps cells longer than maxWidth onto more lines, the other cells padded beside them', () => {
    const lines = formatTable(['op', 'stock'], [['drain', 'abcdefghijkl']], { gap: ' │ ', rule: { char: '─', cross: '─┼─' }, maxWidth: 5 })
    expect(lines).toEqual(['op    │ stock', '──────┼──────', 'drain │ abcde', '      │ fghij', '      │ kl'])
  })

  it('fits a width by narrowing the widest column first, never below minWidth', () => {
    const lines = formatTable(['k', 'v'], [['x'.repeat(10), 'y'.repeat(30)]], { fit: 25, minWidth: 5 })
    expect(lines.every((l) => l.length <= 25)).toBe(true)
    expect(lines[0]).toBe('k           v')
    const tight = formatTable(['k', 'v'], [['x'.repeat(10), 'y'.repeat(30)]], { fit: 4, minWidth: 5 })
    expect(tight[1]).toBe('-----  -----')
  })
})
