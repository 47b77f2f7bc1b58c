import { describe, it, expect } from 'vitest'
import { OutputQueue, HIGH_WATERMARK, LOW_WATERMARK } from './flow'

describe('pty output queue (backpressure)', () => {
  it('pauses above the high watermark, resumes below the low one, and delivers everything in order', async () => {
    const events: string[] = []
    let queuedAtResume = -1
    let delivered = 0
    const got: string[] = []
    const q: OutputQueue = new OutputQueue(
      {
        pause: () => events.push('pause'),
        resume: () => {
          events.push('resume')
          queuedAtResume = total - delivered
        },
      },
      (chunk) => {
        delivered += chunk.length
        got.push(chunk)
      },
    )
    // A burst arriving within one event-loop turn: 3 MiB in 4 KiB reads.
    const chunk = (i: number): string => String.fromCharCode(65 + (i % 26)).repeat(4096)
    const n = (3 << 20) / 4096
    let total = 0
    for (let i = 0; i < n; i++) {
      q.push(chunk(i))
      total += 4096
    }
    expect(events).toEqual(['pause'])
    expect(q.stats.maxQueued).toBe(3 << 20)
    await q.drained()
    expect(events).toEqual(['pause', 'resume'])
    expect(queuedAtResume).toBeLessThan(LOW_WATERMARK)
    expect(got.length).toBe(n)
    expect(got.every((c, i) => c === chunk(i))).toBe(true)
  })

  it('never pauses for output below the high watermark, and yields between slices', async () => {
    let paused = false
    let delivered = 0
    const q = new OutputQueue({ pause: () => (paused = true), resume: () => undefined }, (c) => (delivered += c.length))
    for (let i = 0; i < HIGH_WATERMARK / 4096; i++) q.push('x'.repeat(4096))
    expect(paused).toBe(false)
    await new Promise((r) => setImmediate(r))
    // One slice per turn, so other work (timers, IPC) runs while a big output drains.
    expect(delivered).toBeGreaterThan(0)
    expect(delivered).toBeLessThan(HIGH_WATERMARK)
    await q.drained()
    expect(delivered).toBe(HIGH_WATERMARK)
  })
})
