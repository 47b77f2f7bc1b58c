import { describe, expect, it } from 'vitest'
import { BACKLOG_CHARS, HIGH_WATERMARK, LOW_WATERMARK, MAX_HELD, TerminalFlow } from './terminal-flow'

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

  it('a view that opens gets the recent output and unfreezes a stream nobody acknowledged', () => {
    const sent: string[] = []
    const flow = new TerminalFlow((d) => sent.push(d))
    // Nobody watches: the output is never acknowledged, and the flow pauses.
    for (let i = 0; i < 30; i++) flow.push(`line ${i}\n`.padEnd(10_000, '.'))
    expect(flow.isPaused).toBe(true)
    const backlog = flow.attach()
    expect(backlog).toContain('line 29')
    expect(flow.isPaused).toBe(false)
    const before = sent.length
    flow.push('fresh')
    expect(sent.slice(before)).toEqual(['fresh'])
  })

  it('keeps at most BACKLOG_CHARS of backlog, starting at a line', () => {
    const flow = new TerminalFlow(() => {})
    for (let i = 0; i < 2000; i++) flow.push(`${String(i).padStart(6, '0')} ${'x'.repeat(300)}\n`)
    const backlog = flow.attach()
    expect(backlog.length).toBeLessThanOrEqual(BACKLOG_CHARS)
    expect(backlog.length).toBeGreaterThan(BACKLOG_CHARS - 400)
    expect(backlog).toMatch(/^\d{6} x/)
    expect(backlog.endsWith(`001999 ${'x'.repeat(300)}\n`)).toBe(true)
    // One chunk larger than the whole backlog is cut too.
    flow.push('y'.repeat(BACKLOG_CHARS * 2))
    expect(flow.attach().length).toBe(BACKLOG_CHARS)
  })
})
