import { describe, expect, it } from 'vitest'
import { HIGH_WATERMARK, LOW_WATERMARK, MAX_HELD, TerminalFlow } from './terminal-flow'

describe('TerminalFlow', () => {
  it('forwards until the high watermark, holds, and resumes below the low one in order', () => {
    const sent: string[] = []
    const flow = new TerminalFlow((d) => sent.push(d))
    const chunk = 'x'.repeat(10_000)
    for (let i = 0; i * chunk.length <= HIGH_WATERMARK; i++) flow.push(chunk)
    expect(flow.isPaused).toBe(true)
    const before = sent.length
    flow.push('held-1')
    flow.push('held-2')
    expect(sent.length).toBe(before)
    flow.ack(HIGH_WATERMARK - LOW_WATERMARK)
    expect(flow.isPaused).toBe(true)
    flow.ack(HIGH_WATERMARK)
    expect(flow.isPaused).toBe(false)
    expect(sent[sent.length - 1]).toBe('held-1held-2')
  })

  it('bounds what it holds while paused', () => {
    let last = ''
    const flow = new TerminalFlow((d) => (last = d))
    flow.push('y'.repeat(HIGH_WATERMARK + 1))
    for (let i = 0; i < 50; i++) flow.push('z'.repeat(100_000))
    flow.ack(Number.MAX_SAFE_INTEGER)
    expect(last.length).toBeLessThanOrEqual(MAX_HELD)
    expect(last.length).toBeGreaterThan(0)
  })
})
