/** Text output of `splice-lab run`: per op the comparison, per run the verdict, and a final table. */
import type { RunRecord } from '../../shared/run/types'
import type { Policy } from '../../shared/results'

export interface RunRow {
  scenario: string
  fs: string
  record: RunRecord
}

const MARK = { agree: 'ok  ', disagree: 'DIFF', unknown: '??  ' } as const

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org) or TERM=dumb. */
const COLOUR = !!process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
const paint = (text: string, sgr: string): string => (COLOUR ? `\x1b[${sgr}m${text}\x1b[0m` : text)
const MARK_SGR = { agree: '32', disagree: '1;31', unknown: '33' } as const
const verdictSgr = (v: string): string => (v === 'none' ? '1;31' : '1')

export function formatRun(r: RunRecord): string {
  const lines = [`\n== ${r.scenario.name} on ${r.fs} (${r.target.label}, Linux ${r.target.kernel})`]
  for (const op of r.comparison.ops) {
    lines.push(`  ${op.path} ${op.op}`)
    for (const [policy, c] of Object.entries(op.byPolicy)) {
      const reasons = c.reasons.filter((x) => !x.startsWith('note:'))
      lines.push(`    ${paint(MARK[c.agreement], MARK_SGR[c.agreement])} ${policy.padEnd(13)} ${reasons.join(' | ')}`)
    }
  }
  if (r.observation.incomplete) lines.push(`  incomplete: ${r.observation.incomplete.reason}`)
  if (r.trace) lines.push(r.trace.unavailable ? `  trace: none (${r.trace.unavailable})` : `  trace: ${r.trace.events} events, ${r.trace.lost} lost (instance ${r.trace.instance}${r.trace.reader ? `; ${r.trace.reader.kind}${r.trace.reader.why ? `: ${r.trace.reader.why}` : ''}` : ''})`)
  if (r.error) lines.push(`  ERROR (${r.error.code}): ${r.error.message}`)
  lines.push(`  verdict: ${paint(r.comparison.verdict.summary, verdictSgr(r.comparison.verdict.behavesLike))}`)
  return lines.join('\n')
}

export function formatTable(rows: RunRow[], policies: readonly Policy[]): string {
  const head = ['scenario', 'fs', 'verdict', ...policies.map((p) => `${p} diff`), 'status']
  const body = rows.map((r) => [
    r.scenario,
    r.fs,
    r.record.comparison.verdict.behavesLike,
    ...policies.map((p) => String(r.record.comparison.verdict.perPolicy[p].disagree)),
    r.record.error ? `failed: ${r.record.error.code}` : 'ok',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  // Padded first, painted after, so escape codes do not count as width.
  const row = (cells: string[]): string =>
    cells
      .map((c, i) => {
        const padded = c.padEnd(widths[i]!)
        if (i === 2) return paint(padded, verdictSgr(c))
        if (i > 2 && i < cells.length - 1 && c !== '0') return paint(padded, '31')
        if (i === cells.length - 1 && c !== 'ok') return paint(padded, '1;31')
        return padded
      })
      .join('  ')
      .trimEnd()
  return ['', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(row)].join('\n')
}
