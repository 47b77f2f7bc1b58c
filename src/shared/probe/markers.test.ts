import { describe, expect, it } from 'vitest'
import { buildMarker, parseMarker } from './markers'

describe('trace markers', () => {
  it('builds exactly the documented text', () => {
    expect(buildMarker('begin', 'ops[3]')).toBe('splicelab:begin ops[3]')
    expect(buildMarker('end', 'ops[5].body[1]')).toBe('splicelab:end ops[5].body[1]')
  })
  it('parses what it builds, and nothing else', () => {
    for (const path of ['ops[0]', 'ops[12].body[3]']) {
      for (const phase of ['begin', 'end'] as const) expect(parseMarker(buildMarker(phase, path))).toEqual({ phase, path })
    }
    expect(parseMarker('splicelab:begin ops[1]\n')).toEqual({ phase: 'begin', path: 'ops[1]' })
    expect(parseMarker('splicelab:middle ops[1]')).toBeNull()
    expect(parseMarker('hello world')).toBeNull()
    expect(parseMarker('splicelab:begin')).toBeNull()
  })
})
