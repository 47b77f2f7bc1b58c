/**
 * Sentinel framing: how a command's output and exit status are recovered from a pty stream that
 * also carries prompts, banners and anything else the shell prints. Each command gets a fresh
 * random nonce; the shell prints `SPLAB_<nonce>_B` before the command's output and
 * `\nSPLAB_<nonce>_E <status>` after it. The sentinels are built from two printf arguments, so the
 * command line itself never contains them (should the terminal echo it after all), and a command's
 * output cannot end a frame early unless it prints a nonce it cannot know.
 */
import { randomBytes } from 'node:crypto'
import { shellQuote } from './quote'

const PREFIX = 'SPLAB_'

export function newNonce(): string {
  return randomBytes(9).toString('hex')
}

export const beginMark = (nonce: string): string => `${PREFIX}${nonce}_B`
export const endMark = (nonce: string): string => `${PREFIX}${nonce}_E`

/** Shell text printing the begin sentinel on a line of its own (the literal never appears in the text). */
export function printBegin(nonce: string): string {
  return `printf '%s%s\\n' ${PREFIX} ${nonce}_B`
}

/**
 * The line sent to the shell for one command: begin sentinel, the command through `eval` (so a
 * syntax error in it is just a non-zero status, not a half-parsed line that swallows the end
 * sentinel) with stdin from /dev/null (so it never eats the next command we type), then a newline
 * and the end sentinel with the status. The newline lets output without a trailing newline end
 * cleanly; the parser removes exactly that one newline again.
 */
export function frameCommand(command: string, nonce: string): string {
  return `${printBegin(nonce)}; eval ${typable(command)} </dev/null; printf '\\n%s%s %d\\n' ${PREFIX} ${nonce}_E "$?"\n`
}

/**
 * Control characters must not be typed into a terminal: ^C, ^Z and ^\ send signals, ^S/^Q stop
 * and start output, \r becomes \n (icrnl). A command holding any of them travels as base64 and
 * is decoded by the shell; everything else is typed as one single-quoted word.
 */
const UNTYPABLE = /[\x00-\x08\x0b-\x1f\x7f]/

export function typable(command: string): string {
  if (!UNTYPABLE.test(command)) return shellQuote(command)
  const b64 = Buffer.from(command, 'utf8').toString('base64')
  return `"$(printf %s ${b64} | base64 -d)"`
}

export interface FrameResult {
  code: number
  output: string
}

/**
 * Incremental parser for one framed command. Feed it the pty's data in chunks split anywhere;
 * `result` is set once the end sentinel and its status line are complete. Text before the begin
 * sentinel (prompt noise, an earlier command's leftovers) is dropped.
 */
export class FrameParser {
  /** Before the begin sentinel: only a tail that could still hold it. */
  private head = ''
  private started = false
  /**
   * The frame's body as the chunks that came (joined once at the end: searching a string grown
   * with += makes V8 flatten it on every search, which made a 12 MB output take 90 s).
   */
  private parts: string[] = []
  private length = 0
  /** The last characters of the body, so an end sentinel split across chunks is still found. */
  private carry = ''
  /** Where the end sentinel starts in the body, once seen (its status line may still be coming). */
  private markAt = -1
  private readonly begin: string
  private readonly endWord: string
  result: FrameResult | null = null
  /** Bytes after the end of this frame (belong to whatever comes next). */
  rest = ''
  /** Called by the session once the frame is complete. */
  onDone?: () => void

  constructor(readonly nonce: string) {
    this.begin = beginMark(nonce)
    this.endWord = endMark(nonce) + ' '
  }

  /** Output seen so far inside the frame (for partial results on timeout). */
  partial(): string {
    return this.started ? normalize(this.parts.join('')) : ''
  }

  feed(chunk: string): boolean {
    if (this.result) {
      this.rest += chunk
      return true
    }
    if (!this.started) {
      this.head += chunk
      const i = this.head.indexOf(this.begin)
      if (i < 0) {
        if (this.head.length > this.begin.length) this.head = this.head.slice(-this.begin.length)
        return false
      }
      const nl = this.head.indexOf('\n', i + this.begin.length)
      if (nl < 0) return false
      this.started = true
      chunk = this.head.slice(nl + 1)
      this.head = ''
    }
    this.parts.push(chunk)
    this.length += chunk.length
    if (this.markAt < 0) {
      const probe = this.carry + chunk
      const j = probe.indexOf(this.endWord)
      if (j < 0) {
        this.carry = probe.slice(-(this.endWord.length - 1))
        return false
      }
      this.markAt = this.length - probe.length + j
    }
    // Only the few chunks of the status line get here: joining is cheap.
    const body = this.parts.join('')
    this.parts = [body]
    const nl = body.indexOf('\n', this.markAt)
    if (nl < 0) return false
    const status = body.slice(this.markAt + this.endWord.length, nl).replace(/\r$/, '')
    const code = Number.parseInt(status, 10)
    let out = normalize(body.slice(0, this.markAt))
    // frameCommand printed one newline before the end sentinel.
    if (out.endsWith('\n')) out = out.slice(0, -1)
    this.result = { code: Number.isFinite(code) ? code : -1, output: out }
    this.rest = body.slice(nl + 1)
    this.parts = []
    return true
  }
}

/** A pty turns \n into \r\n (onlcr); callers see plain \n. */
export function normalize(s: string): string {
  return s.replace(/\r\n/g, '\n')
}

/** Watches a stream for a lone sentinel line (the session's ready mark), across chunk boundaries. */
export class MarkWatcher {
  private tail = ''
  private readonly mark: string
  onDone?: () => void

  constructor(nonce: string) {
    this.mark = beginMark(nonce)
  }

  feed(chunk: string): boolean {
    const s = this.tail + chunk
    if (s.includes(this.mark)) return true
    this.tail = s.slice(-this.mark.length)
    return false
  }
}
