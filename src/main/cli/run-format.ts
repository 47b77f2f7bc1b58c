/** Text output of `splice-lab run`: per op the comparison, per run the verdict, and a final table. */
import type { RunRecord } from '../../shared/run/types'
import type { Policy } from '../../shared/results'

export interface RunRow {
  scenario: string
  fs: string
  record: RunRecord
}

const MARK = { agree: 'ok  ', disagree: 'DIFF', unknown: '??  ' } as const

export function formatRun(r: RunRecord): string {
  const lines = [`\n== ${r.scenario.name} on ${r.fs} (${r.target.label}, Linux ${r.target.kernel})`]
  for (const op of r.comparison.ops) {
    lines.push(`  ${op.path} ${op.op}`)
    for (const [policy, c] of Object.entries(op.byPolicy)) {
      const reasons = c.reasons.filter((x) => !x.startsWith('note:'))
      lines.push(`    ${MARK[c.agreement]} ${policy.padEnd(13)} ${reasons.join(' | ')}`)
    }
  }
  if (r.observation.incomplete) lines.push(`  incomplete: ${r.observation.incomplete.reason}`)
  if (r.trace) lines.push(r.trace.unavailable ? `  trace: none (${r.trace.unavailable})` : `  trace: ${r.trace.events} events, ${r.trace.lost} lost (instance ${r.trace.instance}${r.trace.reader ? `; ${r.trace.reader.kind}${r.trace.reader.why ? `: ${r.trace.reader.why}` : ''}` : ''})`)
  if (r.error) lines.push(`  ERROR (${r.error.code}): ${r.error.message}`)
  lines.push(`  verdict: ${r.comparison.verdict.summary}`)
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
  return ['', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n')
}
