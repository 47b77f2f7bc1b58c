/**
 * Many scenarios in one probe session: `explore` runs hundreds of small scenarios, and a compile,
 * an upload, a channel and a process per scenario would cost more than the scenarios themselves.
 * A batch uploads every program in one file and runs one probe with `--batch`: it runs each
 * program, in order, in a process forked for it (the probe a single run would be, in a directory of
 * its own) and brackets its output with begin/end lines (taken out here). Each scenario is then
 * read and compared by its own plan, as a single run is.
 *
 * Where a batch's time went before it was one probe (measured here, 6.18, tmpfs): a probe per
 * scenario spent ~250 ms of its ~260 ms in its exit, where the kernel unregisters the perf
 * tracepoint counters of a tracepoint nobody else counts and waits for RCU; six side by side hid
 * part of it (~15 scenarios/s). The batch probe holds a counter per tracepoint for as long as it
 * runs, and a few seconds after (HOLD_COUNTERS_MS), so its programs' counters, and the next
 * batch's, open and close without that wait (resources/probe/main.c).
 */
import type { BuiltProbe, Target, TargetFacts } from '../target/types'
import { shellQuote, shellCommand } from '../target/quote'
import { errorMessage } from '../target/errors'
import type { Scenario } from '../../shared/scenario/schema'
import type { Filesystem } from '../../shared/vocabulary'
import { describeProbeExit } from '../../shared/vocabulary'
import { planRun, type ProbeReader, type RunPlan } from '../../shared/run/plan'
import { batchProbeArgs, compileProgram, parseBatchLine } from '../../shared/probe'
import type { Comparison, Observation, UnitCosts } from '../../shared/results'
import type { ScratchPool } from './scratch'
import { ScratchError } from './scratch'
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
}

/**
 * How long a batch's tracepoint counters outlive it (probe --hold-ms). Without a holder, each probe
 * that closes the last counters waits ~300 ms for the kernel (RCU), and the next one's first open
 * waits for that; explore starts its next batch, or a shrink's next six candidates, well within
 * this, and a holder ends by itself after it.
 */
export const HOLD_COUNTERS_MS = 3000

export interface BatchOutcome {
  scenario: Scenario
  plan: RunPlan
  observation: Observation
  comparison: Comparison
}

/**
 * The probe built on a shell target, once per target and lab process: its cache check is two round
 * trips through the driven shell, which would be a batch's largest fixed cost (a shrink asks about
 * six candidates at a time). A batch whose probe is not found any more (exit 127) forgets it.
 */
const built = new WeakMap<Target, Promise<BuiltProbe>>()

function probeOn(target: Target): Promise<BuiltProbe> {
  if (target.provideProbe) return target.provideProbe()
  let probe = built.get(target)
  if (!probe) {
    probe = buildProbe(target)
    built.set(target, probe)
    probe.catch(() => built.delete(target))
  }
  return probe
}

/**
 * Programs up to this size go to the target inside the probe's own command (one round trip
 * instead of the upload's four); larger ones are uploaded. Well below the kernel's limit on one
 * argument (128 KiB), which the command becomes, quoted once more by each wrapper around it.
 */
const INLINE_PROGRAMS_MAX = 32 * 1024

/** Runs `scenarios` (all with the same mount options) on `fs`, in order, in one probe session. */
export async function runBatch(target: Target, scenarios: readonly Scenario[], request: BatchRequest): Promise<BatchOutcome[]> {
  if (scenarios.length === 0) return []
  const { facts, fs } = request
  const variants = new Set(scenarios.map((s) => scratchSetup(fs, s.mount).variant))
  if (variants.size > 1) throw new RunError('scratch', `a batch runs on one scratch mount; these scenarios need ${[...variants].join(', ')}`)
  const privileged = facts.root || facts.sudo
  if (!privileged) throw new RunError('scratch', `a ${fs} scratch mount needs root or passwordless sudo on ${target.label}`)
  // The programs now (a scenario the probe cannot take is refused before anything runs); the
  // model's predictions as the probe reaches each scenario, while it runs.
  const programs = scenarios.map((s) => compileProgram(s, { pageSize: facts.pageSize }))
  const plans: RunPlan[] = []
  const planOf = (i: number): RunPlan => (plans[i] ??= planRun({ scenario: scenarios[i]!, fs, facts, costs: request.costs }))
  const probe = await probeOn(target)
  const base = await request.pool.ensure(fs, scenarios[0]!.mount)
  const dir = `${base}/splice-lab-batch-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`
  const timeoutMs = request.scenarioTimeoutMs ?? 20_000
  const signal = request.signal ?? new AbortController().signal
  try {
    const mk = await target.exec(`mkdir -p -- ${shellQuote(dir)}`)
    if (mk.code !== 0) throw new ScratchError(`scratch directory ${base} is not writable: ${mk.output.trim() || `exit ${mk.code}`}`)
    const text = programs.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('')
    const batchPath = `${dir}/batch`
    const probeCommand = shellCommand(probe.path, ...batchProbeArgs({ batchPath, dir, timeoutMs, holdMs: HOLD_COUNTERS_MS }))
    let command = probeCommand
    if (text.length <= INLINE_PROGRAMS_MAX) command = `sh -c ${shellQuote(`printf %s ${shellQuote(text)} > ${shellQuote(batchPath)} && exec ${probeCommand}`)}`
    else await target.upload(batchPath, text)

    const readers: (ProbeReader | undefined)[] = []
    const exits: (number | null)[] = scenarios.map(() => null)
    /** What the probe said outside every program (its own errors: an unreadable batch file). */
    const outside: string[] = []
    let current = -1
    let planError: unknown
    const result = await runProbe(target, command, `${dir}/probe.pid`, {
      asRoot: privileged,
      overrunMs: scenarios.length * (timeoutMs + 5000),
      cancelGraceMs: 5000,
      signal,
      onLine: (line) => {
        const bracket = parseBatchLine(line)
        if (bracket?.type === 'begin' && bracket.index < scenarios.length) {
          current = bracket.index
          try {
            readers[current] ??= planOf(current).reader()
          } catch (e) {
            planError ??= e
          }
        } else if (bracket?.type === 'end') {
          if (bracket.index < exits.length) exits[bracket.index] = bracket.exit
          current = -1
        } else if (current >= 0) {
          if (line) readers[current]?.pushLine(line)
        } else if (line.trim() && outside.length < 20) outside.push(line.trim())
      },
    })
    if (result.status === 127) built.delete(target)
    if (signal.aborted) throw abortError(signal)
    if (planError) throw planError
    return scenarios.map((_, i) => {
      const plan = planOf(i)
      const status = exits[i] ?? null
      const why =
        status === null
          ? (result.why ?? `the batch ended before this scenario ran${result.status ? ` (the probe exited with ${describeProbeExit(result.status)})` : ''}${outside.length ? `: ${outside.join(' ')}` : ''}`)
          : status !== 0
            ? `the probe exited with ${describeProbeExit(status)}`
            : undefined
      const observation = (readers[i] ?? plan.reader()).finish(why)
      return { scenario: plan.scenario, plan, observation, comparison: plan.finish(observation) }
    })
  } finally {
    await target.exec(`rm -rf -- ${shellQuote(dir)}`, { root: privileged }).catch((e: unknown) => errorMessage(e))
  }
}
