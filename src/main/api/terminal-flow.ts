/**
 * Flow control for a terminal stream (VS Code's terminal does the same): the renderer acknowledges
 * the characters it has written into xterm.js in batches; while more than HIGH_WATERMARK characters
 * are unacknowledged we stop forwarding and hold data here, and resume below LOW_WATERMARK. The pty
 * keeps running meanwhile (the Target interface has no pause), so held data is bounded by
 * MAX_HELD: past it the oldest output is dropped with a visible marker rather than growing memory.
 */

/** 100 000 chars ≈ a few screens of fast output: enough to keep xterm.js busy between acks. */
export const HIGH_WATERMARK = 100_000
/** Resume once the renderer is within 5 000 chars: small enough to avoid stop/start flapping. */
export const LOW_WATERMARK = 5_000
/** Hold at most 1 MB while paused. */
export const MAX_HELD = 1_000_000

export class TerminalFlow {
  private unacked = 0
  private held: string[] = []
  private heldChars = 0
  private paused = false

  constructor(private readonly send: (data: string) => void) {}

  get isPaused(): boolean {
    return this.paused
  }

  push(data: string): void {
    if (this.paused) {
      this.held.push(data)
      this.heldChars += data.length
      while (this.heldChars > MAX_HELD && this.held.length > 1) this.heldChars -= this.held.shift()!.length
      return
    }
    this.forward(data)
  }

  ack(chars: number): void {
    this.unacked = Math.max(0, this.unacked - chars)
    if (this.paused && this.unacked < LOW_WATERMARK) {
      this.paused = false
      const held = this.held.join('')
      this.held = []
      this.heldChars = 0
      if (held) this.forward(held)
    }
  }

  private forward(data: string): void {
    this.unacked += data.length
    this.send(data)
    if (this.unacked > HIGH_WATERMARK) this.paused = true
  }
}
