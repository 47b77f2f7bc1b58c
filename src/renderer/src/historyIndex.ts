/**
 * History as an overview: filters over the saved runs' summaries, batches (runs the CLI or the app
 * made one after another on the same target and kernel), and the matrix of scenarios × filesystems
 * (× kernels) whose cells hold the latest run's verdict. Pure, so it is unit-tested without a DOM.
 */
import type { RunSummary } from '../../shared/api'
import { POLICIES } from '../../shared/results'
import { FILESYSTEMS } from '../../shared/vocabulary'

export interface HistoryFilter {
  scenario: string
  fs: string
  kernel: string
  target: string
  /** A policy, 'none', 'failed', or '' for any. */
  verdict: string
  /** yyyy-mm-dd, inclusive; '' for open. */
  from: string
  to: string
}

export const emptyFilter = (): HistoryFilter => ({ scenario: '', fs: '', kernel: '', target: '', verdict: '', from: '', to: '' })

export function verdictOf(r: RunSummary): string {
  return r.error ? 'failed' : (r.behavesLike ?? 'none')
}

export function applyFilter(runs: readonly RunSummary[], f: HistoryFilter): RunSummary[] {
  return runs.filter(
    (r) =>
      (!f.scenario || r.scenario === f.scenario) &&
      (!f.fs || r.fs === f.fs) &&
      (!f.kernel || r.kernel === f.kernel) &&
      (!f.target || r.target === f.target) &&
      (!f.verdict || verdictOf(r) === f.verdict) &&
      (!f.from || r.startedAt.slice(0, 10) >= f.from) &&
      (!f.to || r.startedAt.slice(0, 10) <= f.to),
  )
}

/** The distinct values of a field, sorted, for the filter menus. */
export function valuesOf(runs: readonly RunSummary[], key: 'scenario' | 'fs' | 'kernel' | 'target'): string[] {
  return [...new Set(runs.map((r) => r[key]))].sort()
}

/** Runs started at most this long after the previous one finished, on the same target and kernel, are one batch. Default 60 s. */
export const BATCH_GAP_MS = 60_000

export interface Batch {
  id: string
  runs: RunSummary[]
  target: string
  kernel: string
  startedAt: string
}

/** Batches, newest first, each with its runs in the order they ran. */
export function batches(runs: readonly RunSummary[]): Batch[] {
  const sorted = [...runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt))
  const out: Batch[] = []
  let cur: Batch | null = null
  let lastEnd = 0
  for (const r of sorted) {
    const start = Date.parse(r.startedAt)
    if (!cur || cur.target !== r.target || cur.kernel !== r.kernel || start - lastEnd > BATCH_GAP_MS) {
      cur = { id: r.id, runs: [], target: r.target, kernel: r.kernel, startedAt: r.startedAt }
      out.push(cur)
    }
    cur.runs.push(r)
    lastEnd = Math.max(start, Date.parse(r.finishedAt ?? r.startedAt))
  }
  return out.reverse()
}

/** Disagreements of the verdict's policy, or the fewest of any policy when none explains the kernel. */
export function disagreementCount(r: RunSummary): number | null {
  const d = r.disagreements
  if (!d) return null
  if (r.behavesLike && r.behavesLike !== 'none') return d[r.behavesLike] ?? 0
  return Math.min(...POLICIES.map((p) => d[p] ?? 0))
}

export interface Matrix {
  scenarios: { name: string; title: string }[]
  /** Column groups: one per kernel, each with its filesystems. */
  kernels: { kernel: string; fs: string[] }[]
  /** Latest run per scenario / kernel / fs, keyed `${scenario}\0${kernel}\0${fs}`. */
  cells: Map<string, RunSummary>
}

export const cellKey = (scenario: string, kernel: string, fs: string): string => `${scenario}\0${kernel}\0${fs}`

const FS_ORDER: readonly string[] = FILESYSTEMS

export function matrix(runs: readonly RunSummary[]): Matrix {
  const cells = new Map<string, RunSummary>()
  const titles = new Map<string, string>()
  const fsByKernel = new Map<string, Set<string>>()
  for (const r of runs) {
    titles.set(r.scenario, r.title)
    let fs = fsByKernel.get(r.kernel)
    if (!fs) fsByKernel.set(r.kernel, (fs = new Set()))
    fs.add(r.fs)
    const k = cellKey(r.scenario, r.kernel, r.fs)
    const had = cells.get(k)
    if (!had || had.startedAt < r.startedAt) cells.set(k, r)
  }
  const fsRank = (f: string): number => (FS_ORDER.includes(f) ? FS_ORDER.indexOf(f) : FS_ORDER.length)
  return {
    scenarios: [...titles].map(([name, title]) => ({ name, title })).sort((a, b) => a.name.localeCompare(b.name)),
    kernels: [...fsByKernel].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true })).map(([kernel, fs]) => ({ kernel, fs: [...fs].sort((a, b) => fsRank(a) - fsRank(b) || a.localeCompare(b)) })),
    cells,
  }
}
