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
  private buf = ''
  private started = false
  private readonly begin: string
  private readonly end: string
  result: FrameResult | null = null
  /** Bytes after the end of this frame (belong to whatever comes next). */
  rest = ''
  /** Called by the session once the frame is complete. */
  onDone?: () => void

  constructor(readonly nonce: string) {
    this.begin = beginMark(nonce)
    this.end = endMark(nonce)
  }

  /** Output seen so far inside the frame (for partial results on timeout). */
  partial(): string {
    return this.started ? normalize(this.buf) : ''
  }

  feed(chunk: string): boolean {
    if (this.result) {
      this.rest += chunk
      return true
    }
    this.buf += chunk
    if (!this.started) {
      const i = this.buf.indexOf(this.begin)
      if (i < 0) {
        // Keep only a tail that could still be the start of the sentinel.
        if (this.buf.length > this.begin.length) this.buf = this.buf.slice(-this.begin.length)
        return false
      }
      const nl = this.buf.indexOf('\n', i + this.begin.length)
      if (nl < 0) return false
      this.started = true
      this.buf = this.buf.slice(nl + 1)
    }
    const j = this.buf.indexOf(this.end + ' ')
    if (j < 0) return false
    const nl = this.buf.indexOf('\n', j)
    if (nl < 0) return false
    const status = this.buf.slice(j + this.end.length + 1, nl).replace(/\r$/, '')
    const code = Number.parseInt(status, 10)
    let out = normalize(this.buf.slice(0, j))
    // frameCommand printed one newline before the end sentinel.
    if (out.endsWith('\n')) out = out.slice(0, -1)
    this.result = { code: Number.isFinite(code) ? code : -1, output: out }
    this.rest = this.buf.slice(nl + 1)
    this.buf = ''
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
