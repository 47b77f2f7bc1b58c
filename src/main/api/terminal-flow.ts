/**
 * Flow control for a terminal stream (VS Code's terminal does the same): the renderer acknowledges
 * the characters it has written into xterm.js in batches; while more than HIGH_WATERMARK characters
 * are unacknowledged we stop forwarding and hold data here, and resume below LOW_WATERMARK. The pty
 * keeps running meanwhile (the Target interface has no pause), so held data is bounded by
 * MAX_HELD: past it the oldest output is dropped with a visible marker rather than growing memory.
 *
 * A terminal view comes and goes (another tab, Hide) while the session keeps printing. The flow
 * keeps the last BACKLOG_CHARS of output; a view that opens calls attach(), which hands it that
 * backlog and starts counting afresh (what was sent while nobody watched will never be acknowledged,
 * and would otherwise hold the stream paused for good).
 */

/** 100 000 chars ≈ a few screens of fast output: enough to keep xterm.js busy between acks. */
export const HIGH_WATERMARK = 100_000
/** Resume once the renderer is within 5 000 chars: small enough to avoid stop/start flapping. */
export const LOW_WATERMARK = 5_000
/** Hold at most 1 MB while paused. */
export const MAX_HELD = 1_000_000
/** Output replayed to a view that opens. Default 256 Ki characters: far more than a screen, a few MB at most per target. */
export const BACKLOG_CHARS = 256 * 1024

export class TerminalFlow {
  private unacked = 0
  private held: string[] = []
  private heldChars = 0
  private paused = false
  private backlog: string[] = []
  private backlogChars = 0

  constructor(private readonly send: (data: string) => void) {}

  /** A view opened: the recent output for it to show first; flow control starts afresh. */
  attach(): string {
    this.unacked = 0
    this.paused = false
    this.held = []
    this.heldChars = 0
    const text = this.backlog.join('')
    this.backlog = text ? [text] : []
    return text
  }

  get isPaused(): boolean {
    return this.paused
  }

  push(data: string): void {
    this.backlog.push(data)
    this.backlogChars += data.length
    while (this.backlogChars - this.backlog[0]!.length >= BACKLOG_CHARS) this.backlogChars -= this.backlog.shift()!.length
    if (this.backlogChars > BACKLOG_CHARS) {
      // Trim the oldest chunk to at most BACKLOG_CHARS in all, from a line start where there is one
      // (a cut escape sequence would garble the first line shown).
      const first = this.backlog[0]!
      const cut = this.backlogChars - BACKLOG_CHARS
      const nl = first.indexOf('\n', cut)
      const kept = first.slice(nl === -1 ? cut : nl + 1)
      this.backlogChars -= first.length - kept.length
      this.backlog[0] = kept
    }
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
