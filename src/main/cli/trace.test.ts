import { describe, expect, it } from 'vitest'
import { parseEventList, withoutFlushMark } from './trace'

describe('splice-lab trace', () => {
  it('writes whole lines, without the tracer’s flush mark, however the text arrives', () => {
    const text = [
      '  cat-1 [000] .....  1.000001: mm_page_alloc: page=a',
      '  sh-2 [001] .....  1.000002: tracing_mark_write: splicelab:flush 1a2b3c4d',
      '  cat-1 [000] .....  1.000003: mm_page_free: page=a',
      '',
    ].join('\n')
    for (const size of [1, 7, 50, text.length]) {
      let out = ''
      const raw = withoutFlushMark((t) => (out += t))
      for (let i = 0; i < text.length; i += size) raw.push(text.slice(i, i + size))
      raw.end()
      expect(out).toBe('  cat-1 [000] .....  1.000001: mm_page_alloc: page=a\n  cat-1 [000] .....  1.000003: mm_page_free: page=a\n')
    }
    let out = ''
    const raw = withoutFlushMark((t) => (out += t))
    raw.push('a\nno newline at the end')
    raw.end()
    expect(out).toBe('a\nno newline at the end')
  })

  it('takes system:event or system/event names and names a bad one', () => {
    expect(parseEventList('kmem:mm_page_alloc, kmem/mm_page_alloc,syscalls:sys_enter_splice')).toEqual(['kmem/mm_page_alloc', 'syscalls/sys_enter_splice'])
    expect(() => parseEventList('kmem')).toThrow('--events: "kmem" is not an event name')
  })
})
