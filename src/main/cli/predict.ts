/**
 * `splice-lab predict <scenario|preset>`: what each policy does to a workload, per op, side by side.
 * A readable table for people, `--json` for scripts (the Prediction objects of src/shared/results.ts).
 */
import { release } from 'node:os'
import type { Command } from 'commander'
import { Filesystem, ScenarioError, formatProblem } from '../../shared/scenario'
import { POLICIES, type OpOutcome, type OpPrediction, type Policy, type Prediction } from '../../shared/results'
import { defaultEnv, parseKernel } from '../../shared/model'
import { loadPreset } from '../presets'
import { ModelError, predictOffThread } from '../model-worker'
import { printable } from './printable'
import { SGR, formatTable, paint, type Sgr } from './table'
import { stopSignal } from './stop'

interface PredictOptions {
  policy: string
  fs?: string
  pageSize: string
  kernel?: string
  json?: boolean
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict what stock, steal-or-copy and copy do to a scenario, op by op')
    .argument('<scenario>', 'a preset name (see the list on error) or a scenario file (YAML/JSON)')
    .option('--policy <policy>', `one of ${POLICIES.join(', ')}, or all`, 'all')
    .option('--fs <fs>', `filesystem: ${Filesystem.options.join(', ')} (default: the scenario's, else tmpfs)`)
    .option('--page-size <bytes>', 'page size of the target kernel', '4096')
    .option('--kernel <version>', "kernel the rules are for, e.g. 6.1 or 6.18.44 (default: this machine's)")
    .option('--json', 'print the predictions as JSON')
    .action(async (target: string, opts: PredictOptions) => {
      // Ctrl-C ends the model's thread at once: the model runs off this event loop.
      const stop = stopSignal()
      try {
        process.exitCode = await runPredict(target, opts, stop.signal)
      } finally {
        stop.release()
      }
    })
}

function fail(message: string): number {
  console.error(`splice-lab predict: ${message}`)
  return 2
}

export async function runPredict(target: string, opts: PredictOptions, signal?: AbortSignal): Promise<number> {
  const pageSize = Number(opts.pageSize)
  if (!Number.isInteger(pageSize) || pageSize < 512 || (pageSize & (pageSize - 1)) !== 0)
    return fail(`--page-size must be a power of two of at least 512 bytes, got "${opts.pageSize}"`)
  const policies: Policy[] = opts.policy === 'all' ? [...POLICIES] : POLICIES.includes(opts.policy as Policy) ? [opts.policy as Policy] : []
  if (!policies.length) return fail(`--policy must be one of ${POLICIES.join(', ')} or all, got "${opts.policy}"`)
  if (opts.fs !== undefined && !Filesystem.safeParse(opts.fs).success) return fail(`--fs must be one of ${Filesystem.options.join(', ')}, got "${opts.fs}"`)
  const kernel = opts.kernel ?? thisKernel()
  const version = parseKernel(kernel)
  if (!version) return fail(`--kernel must be a version like 6.1 or 6.18.44, got "${kernel}"`)

  let scenario
  try {
    scenario = loadPreset(target, pageSize)
  } catch (e) {
    if (e instanceof ScenarioError) {
      for (const p of e.problems) console.error(formatProblem(p))
      return 1
    }
    throw e
  }
  const fs = Filesystem.parse(opts.fs ?? scenario.fs ?? 'tmpfs')
  const env = defaultEnv(fs, pageSize, undefined, { kernel })
  let predictions: Prediction[]
  try {
    const byPolicy = await predictOffThread(scenario, env, { signal }, policies)
    predictions = policies.map((p) => byPolicy[p])
  } catch (e) {
    if (!(e instanceof ModelError)) throw e
    console.error(`splice-lab predict: ${e.message}`)
    return e.code === 'cancelled' ? 130 : 1
  }

  if (opts.json) {
    console.log(JSON.stringify({ scenario: scenario.name, fs, pageSize, kernel: env.kernel, predictions: Object.fromEntries(predictions.map((p) => [p.policy, p])) }, null, 2))
    return 0
  }
  console.log(`${printable(scenario.title ?? scenario.name)}  (${scenario.name}, ${fs}, ${pageSize}-byte pages, kernel ${kernel})`)
  console.log(renderTable(predictions))
  console.log(renderTotals(predictions))
  if (predictions.some((p) => p.ops.some((o) => o.outcomes.some((x) => x.drain?.changedBytes)))) console.log('byte ranges are offsets in the drain, first–last inclusive (100–299 is 200 bytes), as in `run`')
  for (const note of new Set(predictions.flatMap((p) => p.notes ?? []))) console.log(`note: ${note}`)
  return 0
}

/** The numeric part of this machine's kernel release ("6.18.44-fc-v657" → "6.18.44"). */
function thisKernel(): string {
  return /^\d+(\.\d+)*/.exec(release())?.[0] ?? release()
}

function outcomeText(o: OpOutcome): string {
  if (o.errno) return `-1 ${o.errno}`
  if (!o.drain) return String(o.ret)
  const d = o.drain
  if (d.changedBytes === 0) return `read ${d.read}, unchanged`
  const ranges = d.changed.slice(0, 2).map((r) => `${r.start}–${r.end - 1} ${r.holds}`)
  if (d.changed.length > 2) ranges.push('…')
  return `read ${d.read}, ${d.changedBytes} CHANGED (${ranges.join(', ')})`
}

function cell(op: OpPrediction): string {
  const outcomes = op.outcomes.map(outcomeText).join(' | ')
  const pg = op.pages
  const counts = pg.shared + pg.stolen + pg.copied > 0 ? ` [${pg.shared} shared, ${pg.stolen} stolen, ${pg.copied} copied]` : ''
  const extra = `${op.bytesCopied ? ` ${op.bytesCopied} B copied` : ''}${op.reloads ? ` ${op.reloads} reloads` : ''}`
  return `${outcomes}${counts}${extra}`
}

/**
 * The colour of an op's cell, as `run` colours its comparison: a drain that reads changed bytes as a
 * disagreement, an unchanged one as an agreement, an error return as unsure.
 */
function cellColour(op: OpPrediction): Sgr | undefined {
  if (op.outcomes.some((o) => o.drain?.changedBytes)) return SGR.bad
  if (op.outcomes.some((o) => o.errno)) return SGR.unsure
  if (op.outcomes.some((o) => o.drain)) return SGR.good
  return undefined
}

function renderTable(preds: Prediction[]): string {
  const header = ['op', ...preds.map((p) => p.policy)]
  const rows = preds[0]!.ops.map((op, i) => [
    `${op.path} ${op.op}${op.iterations > 1 ? ` ×${op.iterations}` : ''}`,
    ...preds.map((p) => cell(p.ops[i]!)),
  ])
  return formatTable(header, rows, {
    gap: ' │ ',
    rule: { char: '─', cross: '─┼─' },
    maxWidth: 60,
    // On a terminal, fit its width: the widest columns narrow and their cells wrap.
    fit: process.stdout.isTTY ? process.stdout.columns : undefined,
    colour: (row, c) => (c === 0 ? undefined : cellColour(preds[c - 1]!.ops[row]!)),
  }).join('\n')
}

function renderTotals(preds: Prediction[]): string {
  return preds
    .map((p) => {
      const t = p.totals
      return `${p.policy.padEnd(13)} changed ${paint(`${t.changedBytes} B`, t.changedBytes ? SGR.bad : SGR.good)} · shared ${t.pages.shared} · stolen ${t.pages.stolen} · copied ${t.pages.copied} (${t.bytesCopied} B) · reloads ${t.reloads} · cost ${formatNs(t.costNs)}`
    })
    .join('\n')
}

/** A modelled cost: one page shared costs tens of ns, 1 GiB copied hundreds of ms. */
export function formatNs(ns: number): string {
  if (ns < 1000) return `${ns.toFixed(0)} ns`
  if (ns < 1e6) return `${(ns / 1000).toFixed(1)} µs`
  return `${(ns / 1e6).toFixed(1)} ms`
}
