/**
 * Two sets of runs side by side, per scenario × filesystem, in the manner of herdtools' mcompare7:
 * what each side's kernel did (each op's outcome and the verdict), the rows where the two differ
 * first. The "what changed between 6.1 and 6.18" table.
 */
import type { RunRecord } from './types'
import type { OpOutcome } from '../results'
import { describeOutcome } from './expect'

/** What one side's kernel did with one scenario on one filesystem. */
export interface CompareCell {
  runId: string
  kernel: string
  behavesLike: string
  /** `varies`: the op saw more than one outcome (a race); `outcome` lists them, without counts. */
  ops: { path: string; op: string; outcome: string; varies?: true }[]
  /** Why the run did not complete, when it did not. */
  error?: string
}

export interface CompareRow {
  scenario: string
  fs: string
  a: CompareCell | null
  b: CompareCell | null
  /** One line per difference (verdict, op outcomes, a side missing); empty when both did the same. */
  differences: string[]
}

export interface Comparison2 {
  a: { kernels: string[]; runs: number }
  b: { kernels: string[]; runs: number }
  rows: CompareRow[]
  /** Rows that differ. */
  differing: number
}

/**
 * An op that saw several outcomes is a race: which ones a run saw, and how often, changes from run
 * to run, so only that it varies is compared (as expect files keep it).
 */
function opCell(o: { path: string; op: string; outcome: OpOutcome; histogram?: { outcome: OpOutcome }[] }): CompareCell['ops'][number] {
  const seen = [...new Set((o.histogram ?? []).map((h) => describeOutcome(h.outcome)))].sort()
  if (seen.length > 1) return { path: o.path, op: o.op, outcome: `varies: ${seen.join(' | ')}`, varies: true }
  return { path: o.path, op: o.op, outcome: describeOutcome(o.outcome) }
}

/**
 * A kernel as people tell them apart: `uname -r`, and for a VM the kernel it booted and its boot
 * arguments (two 6.1 builds, a patched and an unpatched one, report the same release).
 */
export function kernelLabel(t: RunRecord['target']): string {
  if (!t.vm) return t.kernel
  return [t.kernel, `vm:${t.vm.kernel.split('/').pop() ?? t.vm.kernel}`, ...t.vm.bootArgs].join(' ')
}

function cellOf(r: RunRecord): CompareCell {
  return {
    runId: r.id,
    kernel: kernelLabel(r.target),
    behavesLike: r.comparison.verdict.behavesLike,
    ops: r.observation.ops.map(opCell),
    ...(r.error ? { error: r.error.message } : {}),
  }
}

/** Later runs of the same scenario × filesystem replace earlier ones (a side's latest word). */
function byKey(records: RunRecord[]): Map<string, RunRecord> {
  const out = new Map<string, RunRecord>()
  for (const r of [...records].sort((x, y) => x.startedAt.localeCompare(y.startedAt))) out.set(`${r.scenario.name}\u0000${r.fs}`, r)
  return out
}

function differences(a: CompareCell | null, b: CompareCell | null): string[] {
  if (!a || !b) return [a ? 'only in A' : 'only in B']
  const out: string[] = []
  if (a.behavesLike !== b.behavesLike) out.push(`verdict: ${a.behavesLike} → ${b.behavesLike}`)
  if ((a.error ?? '') !== (b.error ?? '')) out.push(`error: ${a.error ?? 'none'} → ${b.error ?? 'none'}`)
  const bOps = new Map(b.ops.map((o) => [o.path, o]))
  for (const o of a.ops) {
    const p = bOps.get(o.path)
    if (!p) out.push(`${o.path} ${o.op}: ${o.outcome} → not run`)
    else if (p.op !== o.op || (p.outcome !== o.outcome && !(p.varies && o.varies))) out.push(`${o.path} ${o.op}: ${o.outcome} → ${p.op === o.op ? '' : `${p.op} `}${p.outcome}`)
    bOps.delete(o.path)
  }
  for (const p of bOps.values()) out.push(`${p.path} ${p.op}: not run → ${p.outcome}`)
  return out
}

export function compareRuns(a: RunRecord[], b: RunRecord[]): Comparison2 {
  const ka = byKey(a)
  const kb = byKey(b)
  const keys = [...new Set([...ka.keys(), ...kb.keys()])]
  const rows = keys.map((k): CompareRow => {
    const ra = ka.get(k)
    const rb = kb.get(k)
    const any = (ra ?? rb) as RunRecord
    const ca = ra ? cellOf(ra) : null
    const cb = rb ? cellOf(rb) : null
    return { scenario: any.scenario.name, fs: any.fs, a: ca, b: cb, differences: differences(ca, cb) }
  })
  rows.sort((x, y) => Number(y.differences.length > 0) - Number(x.differences.length > 0) || x.scenario.localeCompare(y.scenario) || x.fs.localeCompare(y.fs))
  const kernels = (rs: RunRecord[]): string[] => [...new Set(rs.map((r) => kernelLabel(r.target)))].sort()
  return { a: { kernels: kernels(a), runs: a.length }, b: { kernels: kernels(b), runs: b.length }, rows, differing: rows.filter((r) => r.differences.length).length }
}

/**
 * The table: one row per scenario × filesystem with each side's verdict, the differing rows first,
 * each followed by its differing op outcomes (A → B); then a count of the rows that agree.
 */
export function formatComparison(c: Comparison2): string {
  const head = ['scenario', 'fs', `A ${c.a.kernels.join(',') || '—'}`, `B ${c.b.kernels.join(',') || '—'}`, '']
  const cells = c.rows.map((r) => [r.scenario, r.fs, r.a ? verdictText(r.a) : '—', r.b ? verdictText(r.b) : '—', r.differences.length ? 'differs' : 'same'])
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)))
  const line = (row: string[]): string => row.map((s, i) => s.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const out = [`A: ${c.a.runs} run(s) on ${c.a.kernels.join(', ') || 'no kernel'}; B: ${c.b.runs} run(s) on ${c.b.kernels.join(', ') || 'no kernel'}`, line(head)]
  c.rows.forEach((r, i) => {
    out.push(line(cells[i] ?? []))
    for (const d of r.differences) if (!d.startsWith('only in')) out.push(`    ${d}`)
  })
  out.push(`${c.differing} of ${c.rows.length} scenario × filesystem row(s) differ`)
  return out.join('\n')
}

function verdictText(cell: CompareCell): string {
  return cell.error ? `error (${cell.behavesLike})` : cell.behavesLike
}
