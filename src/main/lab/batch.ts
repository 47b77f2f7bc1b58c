/**
 * Many scenarios in one probe session: `explore` runs hundreds of small scenarios, and a compile,
 * an upload and a channel per scenario would cost more than the scenarios themselves. A batch
 * uploads every program in one bundle, splits it on the target, and runs one shell loop on one
 * channel that gives each scenario a fresh directory and brackets its output with begin/end lines
 * (taken out here: no framing goes up). Each scenario is then read and compared by its own plan,
 * as a single run is.
 */
import type { Target, TargetFacts } from '../target/types'
import { shellQuote, shellCommand } from '../target/quote'
import { errorMessage } from '../target/errors'
import type { Observation } from '../../shared/results'
import type { Scenario } from '../../shared/scenario/schema'
import type { Filesystem } from '../../shared/vocabulary'
import { describeProbeExit } from '../../shared/vocabulary'
import { planRun, type RunPlan } from '../../shared/run/plan'
import type { Comparison, UnitCosts } from '../../shared/results'
import type { ScratchPool } from './scratch'
import { checkWritable } from './scratch'
import { buildProbe } from './probe-build'
import { scratchSetup } from '../../shared/scenario/mount'
import { RunError, abortError, runProbe } from './run'

export interface BatchRequest {
  fs: Filesystem
  facts: TargetFacts
  pool: ScratchPool
  costs?: UnitCosts
  signal?: AbortSignal
  /** Each scenario's own time limit inside the probe. Default 20 s. */
  scenarioTimeoutMs?: number
  /** Probes running at once (DEFAULT_PARALLEL). */
  parallel?: number
}

/**
 * Probes a batch runs at once. A probe spends most of its life waiting, not computing: ~300 ms of
 * a tiny scenario's ~320 ms here is its exit, where the kernel unregisters the perf tracepoint
 * counters and waits for RCU; one at a time capped a batch at ~3 scenarios/s. Scenarios touch only
 * their own files and count only their own process's events, so running a few side by side does
 * not change what each observes (test/integration/explore.test.ts checks against single runs) —
 * except on a kernel with /proc/fs/splice, whose counters are global: there a batch runs one at a time.
 */
export const DEFAULT_PARALLEL = 6

export interface BatchOutcome {
  scenario: Scenario
  plan: RunPlan
  observation: Observation
  comparison: Comparison
}

const BEGIN = 'SPLAB_BATCH_BEGIN'
const END = 'SPLAB_BATCH_END'
const BUNDLE_MARK = 'SPLAB_PROGRAM'

/**
 * The batch's shell script: waves of `parallel` probes, each writing its output and exit status to
 * files of its own; after a wave, the outputs in order between begin/end lines. A SIGTERM (cancel)
 * is passed on to the probes running, which report what they have.
 */
function batchScript(dir: string, commands: string[], parallel: number): string {
  const lines = [
    `cd ${shellQuote(dir)} || exit 1`,
    `pids=''`,
    // The subshells die of a TERM without passing it on: the probes are found by their batch dir.
    `trap 'kill -TERM $pids 2>/dev/null; pkill -TERM -f -- ${shellQuote(`--program ${dir}/p`)} 2>/dev/null; wait; exit 143' TERM`,
  ]
  for (let w = 0; w < commands.length; w += parallel) {
    const wave = commands.slice(w, w + parallel).map((cmd, k) => [w + k, cmd] as const)
    lines.push(`pids=''`)
    for (const [i, cmd] of wave) lines.push(`(mkdir -p s${i}; ${cmd} > o${i} 2>&1; echo $? > e${i}; rm -rf s${i}) & pids="$pids $!"`)
    lines.push('wait')
    for (const [i] of wave) lines.push(`printf '\n${BEGIN} ${i}\n'; cat o${i}; printf '\n${END} ${i} %s\n' "$(cat e${i} 2>/dev/null || echo 255)"`)
  }
  return lines.join('\n') + '\n'
}

/** Runs `scenarios` (all with the same mount options) on `fs`, in order, in one probe session. */
export async function runBatch(target: Target, scenarios: readonly Scenario[], request: BatchRequest): Promise<BatchOutcome[]> {
  if (scenarios.length === 0) return []
  const { facts, fs } = request
  const variants = new Set(scenarios.map((s) => scratchSetup(fs, s.mount).variant))
  if (variants.size > 1) throw new RunError('scratch', `a batch runs on one scratch mount; these scenarios need ${[...variants].join(', ')}`)
  const privileged = facts.root || facts.sudo
  if (!privileged) throw new RunError('scratch', `a ${fs} scratch mount needs root or passwordless sudo on ${target.label}`)
  const plans = scenarios.map((scenario) => planRun({ scenario, fs, facts, costs: request.costs }))
  const probe = target.provideProbe ? await target.provideProbe() : await buildProbe(target)
  const base = await request.pool.ensure(fs, scenarios[0]!.mount)
  await checkWritable(target, base)
  const dir = `${base}/splice-lab-batch-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`
  const timeoutMs = request.scenarioTimeoutMs ?? 20_000
  const signal = request.signal ?? new AbortController().signal
  try {
    const mk = await target.exec(`mkdir -p -- ${shellQuote(dir)}`)
    if (mk.code !== 0) throw new RunError('scratch', `cannot create ${dir}: ${mk.output.trim()}`)
    const bundle = plans.map((p, i) => `${BUNDLE_MARK} ${i}\n${p.program.endsWith('\n') ? p.program : `${p.program}\n`}`).join('')
    await target.upload(`${dir}/bundle`, bundle)
    const split = await target.exec(
      `cd ${shellQuote(dir)} && awk '$1 == "${BUNDLE_MARK}" { if (f) close(f); f = "p" $2; next } { print > f }' bundle`,
    )
    if (split.code !== 0) throw new RunError('scratch', `cannot unpack the batch's programs in ${dir}: ${split.output.trim()}`)

    const readers = plans.map((p) => p.reader())
    const exits: (number | null)[] = plans.map(() => null)
    let current = -1
    const probeCmd = (i: number): string =>
      shellCommand(probe.path, ...plans[i]!.probeArgs({ programPath: `${dir}/p${i}`, dir: `${dir}/s${i}`, timeoutMs }))
    // /proc/fs/splice counts for the whole kernel: probes side by side would count each other's steals.
    const parallel = facts.spliceStats ? 1 : (request.parallel ?? DEFAULT_PARALLEL)
    await target.upload(`${dir}/loop.sh`, batchScript(dir, plans.map((_, i) => probeCmd(i)), parallel))
    const result = await runProbe(target, `sh ${shellQuote(`${dir}/loop.sh`)}`, `${dir}/probe.pid`, {
      asRoot: privileged,
      overrunMs: plans.length * (timeoutMs + 5000),
      cancelGraceMs: 5000,
      signal,
      onLine: (line) => {
        if (line.startsWith(BEGIN)) current = Number(line.slice(BEGIN.length + 1))
        else if (line.startsWith(END)) {
          const [i, status] = line.slice(END.length + 1).split(' ').map(Number)
          exits[i!] = status!
          current = -1
        } else if (current >= 0 && line) readers[current]!.pushLine(line)
      },
    })
    if (signal.aborted) throw abortError(signal)
    return plans.map((plan, i) => {
      const status = exits[i] ?? null
      const why =
        status === null
          ? (result.why ?? 'the batch ended before this scenario ran')
          : status !== 0
            ? `the probe exited with ${describeProbeExit(status)}`
            : undefined
      const observation = readers[i]!.finish(why)
      return { scenario: plan.scenario, plan, observation, comparison: plan.finish(observation) }
    })
  } finally {
    await target.exec(`rm -rf -- ${shellQuote(dir)}`, { root: privileged }).catch((e: unknown) => errorMessage(e))
  }
}
