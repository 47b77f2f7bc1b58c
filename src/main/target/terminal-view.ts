/**
 * The session's terminal as people see it: the pty's output with the lab's framing (framing.ts)
 * taken out, so the terminal view and a CLI showing ssh's prompts see what the commands printed,
 * never `SPLAB_<nonce>_B` or `SPLAB_<nonce>_E <status>` lines.
 *
 * Output passes through at once, except a tail that may still turn into a sentinel: a line end
 * (the end sentinel takes the newline before it too) or the start of `SPLAB_`; that is held until
 * the next output decides (a prompt without a newline is not held).
 */
const SENTINEL = /(?:\r?\n)?SPLAB_[0-9a-f]+_E -?\d+\r?\n|SPLAB_[0-9a-f]+_B\r?\n/g
const PREFIX = 'SPLAB_'
/** A line's tail that may still grow into a sentinel. */
const PARTIAL = /SPLAB_[0-9a-f]*(?:_(?:B|E(?: -?\d*)?)?)?\r?$/

export class FramingFilter {
  private held = ''

  /** The part of `chunk` (after what was held) that can be shown now. */
  push(chunk: string): string {
    const text = (this.held + chunk).replace(SENTINEL, '')
    const cut = holdFrom(text)
    this.held = text.slice(cut)
    return text.slice(0, cut)
  }

  /** What is still held (the stream ended). */
  flush(): string {
    const rest = this.held
    this.held = ''
    return rest
  }
}

/** Where the tail that may still become (part of) a sentinel starts; text.length when there is none. */
function holdFrom(text: string): number {
  let from = text.length
  const m = PARTIAL.exec(text)
  if (m) from = m.index
  else {
    const lineStart = text.lastIndexOf('\n') + 1
    const last = text.slice(lineStart)
    if (last && PREFIX.startsWith(last)) from = lineStart
    else if (text.endsWith('\r')) from = text.length - 1
  }
  // The end sentinel takes the newline before it: hold that too.
  if (text[from - 1] === '\n') from -= text[from - 2] === '\r' ? 2 : 1
  return from
}

/** A listener that sees the terminal without framing. */
export function withoutFraming(listener: (data: string) => void): (data: string) => void {
  const filter = new FramingFilter()
  return (data) => {
    const shown = filter.push(data)
    if (shown) listener(shown)
  }
}
