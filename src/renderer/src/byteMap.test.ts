import { describe, expect, it } from 'vitest'
import { segments, toPixels } from './byteMap'

describe('byte map', () => {
  it('splits a drain into unchanged and changed runs, in order, covering every byte read', () => {
    const segs = segments({ read: 4096, changedBytes: 200, changed: [{ start: 100, end: 300, holds: 'current' }] })
    expect(segs).toEqual([
      { start: 0, end: 100, kind: 'same' },
      { start: 100, end: 300, kind: 'current' },
      { start: 300, end: 4096, kind: 'same' },
    ])
  })

  it('clips changed ranges to what was read (a short read)', () => {
    expect(segments({ read: 50, changedBytes: 100, changed: [{ start: 0, end: 100, holds: 'zero' }] })).toEqual([{ start: 0, end: 50, kind: 'zero' }])
  })

  it('gives a one-byte change at least one pixel', () => {
    const px = toPixels(segments({ read: 1 << 20, changedBytes: 1, changed: [{ start: 10, end: 11, holds: 'other' }] }), 1 << 20, 600)
    expect(px.find((p) => p.kind === 'other')!.w).toBeGreaterThanOrEqual(1)
  })
})
