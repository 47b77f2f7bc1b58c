/** Text output of `splice-lab run`: per op the comparison, per run the verdict, and a final table. */
import type { RunRecord, TraceBucket } from '../../shared/run/types'
import type { SeriesCounting } from '../../shared/vocabulary'
import type { Policy } from '../../shared/results'
import { SGR, formatTable as table, paint, type Sgr } from './table'

export interface RunRow {
  scenario: string
  fs: string
  record: RunRecord
}

const MARK = { agree: 'ok  ', disagree: 'DIFF', unknown: '??  ' } as const

const MARK_SGR = { agree: SGR.good, disagree: SGR.bad, unknown: SGR.unsure } as const
const verdictSgr = (v: string): Sgr => (v === 'none' ? SGR.bad : SGR.strong)

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
  if (r.trace?.buckets?.length) lines.push(`  series: ${seriesLine(r.trace.buckets, r.trace.counting)}`)
  if (r.error) lines.push(`  ERROR (${r.error.code}): ${r.error.message}`)
  lines.push(`  verdict: ${paint(r.comparison.verdict.summary, verdictSgr(r.comparison.verdict.behavesLike))}`)
  return lines.join('\n')
}

/** The run's live series as totals, and how steals and copies were counted. */
function seriesLine(buckets: TraceBucket[], counting: SeriesCounting = 'inferred'): string {
  const sum = (k: keyof TraceBucket['counts']): number => buckets.reduce((n, b) => n + (b.counts[k] ?? 0), 0)
  const how = counting === 'measured' ? 'measured from splice:splice_steal/splice_copy' : 'inferred from stock tracepoints'
  const copied = counting === 'measured' ? `, ${sum('bytesCopied')} bytes copied` : ''
  return `${sum('stolen')} pages stolen, ${sum('copied')} copied${copied} (${how}), ${sum('reloads')} reloads, ${sum('shared')} shared`
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
  const status = head.length - 1
  const colour = (_row: number, c: number, text: string): Sgr | undefined => {
    if (c === 2) return verdictSgr(text)
    if (c > 2 && c < status && text !== '0') return SGR.warn
    if (c === status && text !== 'ok') return SGR.bad
    return undefined
  }
  return ['', ...table(head, body, { colour })].join('\n')
}
