/**
 * Backpressure on a pty (as VS Code's terminal does): the pty's data is queued and handed on in
 * slices, yielding to the event loop between slices. When more than HIGH_WATERMARK characters wait
 * unread the pty is paused (the kernel then blocks the writer on the target, so a runaway command
 * cannot grow our memory) and resumed below LOW_WATERMARK.
 *
 * A local pty hands over at most ~4 KiB per read, one read per event-loop turn, so the queue only
 * grows when a reader falls behind a burst; 1 MiB is far above what a command prints between two
 * turns, so normal work never pauses, and the gap down to 256 KiB avoids pausing and resuming on
 * every chunk.
 */
export const HIGH_WATERMARK = 1 << 20
export const LOW_WATERMARK = 256 << 10
/** Characters handed on per event-loop turn while draining. */
export const SLICE = 64 << 10

export interface FlowControl {
  pause(): void
  resume(): void
}

export class OutputQueue {
  private queue: string[] = []
  private queued = 0
  private paused = false
  private draining = false
  private idleWaiters: (() => void)[] = []
  /** Counters for tests and diagnostics. */
  readonly stats = { pauses: 0, maxQueued: 0 }

  constructor(
    private readonly source: FlowControl,
    private readonly deliver: (chunk: string) => void,
  ) {}

  push(data: string): void {
    this.queue.push(data)
    this.queued += data.length
    if (this.queued > this.stats.maxQueued) this.stats.maxQueued = this.queued
    if (!this.paused && this.queued > HIGH_WATERMARK) {
      this.paused = true
      this.stats.pauses++
      this.source.pause()
    }
    if (!this.draining) {
      this.draining = true
      setImmediate(() => this.drain())
    }
  }

  /** Resolves once everything queued so far has been delivered. */
  drained(): Promise<void> {
    if (!this.draining) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  private drain(): void {
    let budget = SLICE
    while (this.queue.length && budget > 0) {
      const chunk = this.queue.shift()!
      this.queued -= chunk.length
      budget -= chunk.length
      this.deliver(chunk)
    }
    if (this.paused && this.queued < LOW_WATERMARK) {
      this.paused = false
      this.source.resume()
    }
    if (this.queue.length) return void setImmediate(() => this.drain())
    this.draining = false
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}
