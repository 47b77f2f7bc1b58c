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
import { RunError, abortError, runProbe } from './run'

export interface BatchRequest {
  fs: Filesystem
  facts: TargetFacts
  pool: ScratchPool
  costs?: UnitCosts
  signal?: AbortSignal
  /** Each scenario's own time limit inside the probe. Default 20 s. */
  scenarioTimeoutMs?: number
}

export interface BatchOutcome {
  scenario: Scenario
  plan: RunPlan
  observation: Observation
  comparison: Comparison
}

const BEGIN = 'SPLAB_BATCH_BEGIN'
const END = 'SPLAB_BATCH_END'
const BUNDLE_MARK = 'SPLAB_PROGRAM'

/** Runs `scenarios` (all with the same mount options) on `fs`, in order, in one probe session. */
export async function runBatch(target: Target, scenarios: readonly Scenario[], request: BatchRequest): Promise<BatchOutcome[]> {
  if (scenarios.length === 0) return []
  const { facts, fs } = request
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
    // One loop on the target; `wait` keeps the shell able to pass SIGTERM on to the probe it runs.
    const loop = plans
      .map((_, i) => `mkdir -p s${i}; printf '\\n${BEGIN} ${i}\\n'; ${probeCmd(i)} & c=$!; wait $c; printf '\\n${END} ${i} %d\\n' $?; rm -rf s${i}`)
      .join('\n')
    await target.upload(`${dir}/loop.sh`, `trap 'kill -TERM $c 2>/dev/null; wait $c; exit 143' TERM\ncd ${shellQuote(dir)}\n${loop}\n`)
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
