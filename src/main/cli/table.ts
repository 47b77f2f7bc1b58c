/**
 * Tables and colour for the CLI's text output (run's verdict table, predict's policies side by
 * side): columns padded to their widest cell, long cells wrapped, and colour added after the padding
 * so escape codes never count as width.
 */

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org) or TERM=dumb. */
const COLOUR = !!process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb'

/** What a colour says, the same in every command. */
export const SGR = {
  /** Agreement, data that stayed as it was. */
  good: '32',
  /** A disagreement, data that changed in the pipe, a failure. */
  bad: '1;31',
  /** A count of something that went wrong, less loud than `bad`. */
  warn: '31',
  /** Cannot tell, an error return. */
  unsure: '33',
  /** A verdict. */
  strong: '1',
} as const
export type Sgr = (typeof SGR)[keyof typeof SGR]

export function paint(text: string, sgr: Sgr | undefined): string {
  return COLOUR && sgr && text ? `\x1b[${sgr}m${text}\x1b[0m` : text
}

export interface TableOptions {
  /** Between two columns. Default two spaces. */
  gap?: string
  /** The rule under the header: its character, and what stands where the gap does. Default '-' and the gap. */
  rule?: { char: string; cross: string }
  /** The widest a column gets; longer cells wrap onto more lines. Default: no limit. */
  maxWidth?: number
  /** Fit this many characters (a terminal's columns): the widest column narrows, to `minWidth` at least. */
  fit?: number
  /** The narrowest `fit` makes a column. Default 14. */
  minWidth?: number
  /** The colour of a body cell (row and column count from 0), or undefined for none. */
  colour?: (row: number, column: number, text: string) => Sgr | undefined
}

/** The table's lines: header, rule, then the rows (a wrapped cell takes as many lines as it needs). */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[], o: TableOptions = {}): string[] {
  const gap = o.gap ?? '  '
  const maxWidth = o.maxWidth ?? Infinity
  const width = head.map((h, c) => Math.min(maxWidth, Math.max(h.length, ...rows.map((r) => r[c]!.length))))
  if (o.fit) narrow(width, o.fit - gap.length * (width.length - 1), o.minWidth ?? 14)
  const lines: string[] = []
  const emit = (cells: readonly string[], row: number | null): void => {
    const parts = cells.map((t, c) => wrap(t, width[c]!))
    const height = Math.max(...parts.map((p) => p.length))
    for (let l = 0; l < height; l++) {
      const line = parts.map((p, c) => {
        const text = p[l] ?? ''
        const sgr = row === null ? undefined : o.colour?.(row, c, cells[c]!)
        return paint(text, sgr) + ' '.repeat(width[c]! - text.length)
      })
      lines.push(line.join(gap).trimEnd())
    }
  }
  emit(head, null)
  const rule = o.rule ?? { char: '-', cross: gap }
  lines.push(width.map((w) => rule.char.repeat(w)).join(rule.cross))
  rows.forEach((r, i) => emit(r, i))
  return lines
}

/** Narrows the widest column, one character at a time, until the widths add up to `room`. */
function narrow(width: number[], room: number, min: number): void {
  for (let guard = 0; width.reduce((a, b) => a + b, 0) > room && guard < 10_000; guard++) {
    const widest = width.indexOf(Math.max(...width))
    if (width[widest]! <= min) break
    width[widest]!--
  }
}

function wrap(text: string, w: number): string[] {
  const out: string[] = []
  for (let s = text; s.length; s = s.slice(w)) out.push(s.slice(0, w))
  return out.length ? out : ['']
}
