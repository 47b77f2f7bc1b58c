/**
 * A run: one scenario on one target on one filesystem, end to end — preflight, upload and compile
 * the probe, prepare scratch, predict, (trace,) probe, compare, cleanup — streaming RunEvents as it
 * goes and saving a RunRecord. Failures keep what was done (the record carries `error` and an
 * observation marked incomplete) and leave the target clean: scratch removed, tracer disposed, probe
 * killed.
 */
import { randomBytes } from 'node:crypto'
import type { Target, TargetFacts } from '../target/types'
import { shellQuote, shellCommand } from '../target/quote'
import { TargetError, errorMessage } from '../target/errors'
import type { RunTracer } from './types'
import type { RecordedTarget, RunEvent, RunPhase, RunRecord, TraceSummary } from '../../shared/run/types'
import { RUN_RECORD_VERSION } from '../../shared/run/types'
import type { Filesystem, Scenario } from '../../shared/scenario/schema'
import type { ModelEnv, Observation, OpObservation, Policy, Prediction, UnitCosts } from '../../shared/results'
import { DEFAULT_COSTS } from '../../shared/results'
import { compare } from '../../shared/compare'
import { ScratchPool, ScratchError, checkWritable, dirFilesystem, modelFs } from './scratch'
import { scratchSetup } from '../../shared/scenario/mount'
import { buildProbe, ProbeBuildError } from './probe-build'
import { saveRunRecord, saveRunTrace } from './records'
import { defaultKits } from './kits'

/**
 * What a run needs from the model and the probe's program format, named here once (kits.ts wires
 * the real ones) so this file reads as the run's steps.
 */
export interface ProbeKit {
  /** The scenario compiled into the probe's program text. */
  compileProgram(scenario: Scenario, options: { pageSize: number }): string
  /** The probe's arguments (not quoted). */
  probeArgs(options: { programPath: string; dir: string; marker?: string; timeoutMs?: number }): string[]
  /** Turns the probe's output into op observations as it comes (src/shared/probe/output.ts). */
  observationBuilder(scenario: Scenario): {
    /** One line of probe output (without its newline); returns the op observation it completed, if any. */
    push(line: string): OpObservation | null
    finish(incomplete?: string): Observation
  }
}

export interface ModelKit {
  defaultEnv(fs: Filesystem, pageSize: number, costs: UnitCosts): ModelEnv
  predictAll(scenario: Scenario, env: ModelEnv): Record<Policy, Prediction>
}

export interface RunOptions {
  /** Filesystem to run on: a scratch mount of that kind (root), or the label of `dir`. */
  fs?: Filesystem
  /** Run in this directory (must be writable) instead of a scratch mount. */
  dir?: string
  /** A batch's scratch mounts, reused across runs (the caller disposes it). */
  scratch?: ScratchPool
  tracer?: RunTracer
  signal?: AbortSignal
  onEvent?: (e: RunEvent) => void
  /** Where the record is saved; default runsDir(). null: not saved. */
  recordsDir?: string | null
  /** Gives the probe this long (it stops itself); the run kills it 15 s later. Default 120 s. */
  probeTimeoutMs?: number
  costs?: UnitCosts
  runId?: string
  /** The model and probe format to use; default the real ones (kits.ts). */
  kits?: { probe: ProbeKit; model: ModelKit }
}

export class RunError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'RunError'
  }
}

const EXIT_TAG = 'SPLAB_PROBE_EXIT'
/** Extra time after the probe's own timeout before the run kills it. */
const KILL_GRACE_MS = 15_000

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`
}

function recordedTarget(target: Target, f: TargetFacts): RecordedTarget {
  return { label: target.label, kind: target.kind, kernel: f.kernel, arch: f.arch, pageSize: f.pageSize, root: f.root, tracefs: !!f.tracefs.path && f.tracefs.writable, perf: f.perf.available, spliceStats: f.spliceStats }
}

export async function runScenario(target: Target, scenario: Scenario, options: RunOptions = {}): Promise<RunRecord> {
  const runId = options.runId ?? newRunId()
  const emit = (e: RunEvent): void => options.onEvent?.(e)
  const phase = (p: RunPhase, message: string): void => emit({ type: 'phase', runId, phase: p, message })
  const log = (level: 'info' | 'warn' | 'error', message: string): void => emit({ type: 'log', runId, level, message })
  const { probe: probeKit, model } = options.kits ?? defaultKits()
  const checkAbort = (): void => {
    if (options.signal?.aborted) throw new RunError('cancelled', 'the run was cancelled')
  }

  phase('preflight', `checking ${target.label}`)
  const facts = await target.facts()
  for (const n of facts.notes) log('info', n)
  const privileged = facts.root || facts.sudo

  // Decide where the files live and which filesystem the model simulates.
  let fs: Filesystem
  let ownPool: ScratchPool | null = null
  let baseDir: string | null = null
  let pendingError: RunError | null = null
  if (options.dir) {
    baseDir = options.dir
    const stat = await dirFilesystem(target, options.dir).catch(() => '')
    const known = modelFs(stat)
    fs = options.fs ?? known ?? 'tmpfs'
    if (!options.fs && !known) pendingError = new RunError('scratch', `scratch directory ${options.dir} is on "${stat || 'an unknown filesystem'}", which the model does not know (tmpfs, ext4, xfs, btrfs); say which to simulate with --fs`)
    else if (options.fs && known && known !== options.fs) log('warn', `${options.dir} is ${known}, but the run was asked to model ${options.fs}`)
  } else {
    fs = options.fs ?? scenario.fs ?? 'tmpfs'
  }

  const env = model.defaultEnv(fs, facts.pageSize, options.costs ?? DEFAULT_COSTS)
  const predictions = model.predictAll(scenario, env)
  emit({ type: 'prediction', runId, predictions })

  const startedAt = new Date().toISOString()
  const record: RunRecord = {
    version: RUN_RECORD_VERSION,
    id: runId,
    startedAt,
    finishedAt: null,
    scenario,
    target: recordedTarget(target, facts),
    fs,
    dir: options.dir ?? '',
    env,
    predictions,
    observation: { ops: [], facts: { spliceStats: facts.spliceStats, perf: facts.perf.available, traceMarker: false, notes: [] } },
    comparison: compare(predictions, { ops: [], facts: { spliceStats: false, perf: false, traceMarker: false, notes: [] } }),
  }

  let runDir: string | null = null
  let builder: ReturnType<ProbeKit['observationBuilder']> | null = null
  let incomplete: string | undefined
  let trace: TraceSummary | undefined
  const tracer = options.tracer
  let tracerStarted = false
  try {
    if (pendingError) throw pendingError
    checkAbort()
    phase('compile', facts.compiler.path ? `compiling the probe with ${facts.compiler.path}` : 'compiling the probe')
    const probe = await buildProbe(target)
    log('info', probe.compiled ? `probe ${probe.hash} compiled` : `probe ${probe.hash} reused from the target's cache`)

    checkAbort()
    phase('prepare', `preparing ${fs} scratch`)
    if (!baseDir) {
      if (!privileged) throw new RunError('scratch', `a ${fs} scratch mount needs root or passwordless sudo on ${target.label}; give a writable directory with --dir`)
      const pool = options.scratch ?? (ownPool = new ScratchPool(target, runId))
      baseDir = await pool.ensure(fs, scenario.mount)
    } else {
      const options = scratchSetup(fs, scenario.mount).describe
      if (options) log('warn', `${options} not applied: the run uses the given directory ${baseDir} as it is`)
    }
    await checkWritable(target, baseDir)
    runDir = `${baseDir}/splice-lab-run-${runId}`
    record.dir = runDir
    const mk = await target.exec(`mkdir -p -- ${shellQuote(runDir)}`)
    if (mk.code !== 0) throw new RunError('scratch', `cannot create ${runDir}: ${mk.output.trim()}`)

    phase('upload', 'uploading the program')
    const programPath = `${runDir}/program`
    await target.upload(programPath, probeKit.compileProgram(scenario, { pageSize: facts.pageSize }))

    checkAbort()
    if (tracer) {
      phase('trace', `tracing in ftrace instance ${tracer.instance || '(none)'}`)
      await tracer.start((buckets, lost) => emit({ type: 'trace', runId, buckets, lost }))
      tracerStarted = true
    }

    phase('probe', `running ${scenario.name} on ${fs}`)
    const probeTimeoutMs = options.probeTimeoutMs ?? 120_000
    const args = probeKit.probeArgs({ programPath, dir: runDir, marker: tracer?.markerPath ?? undefined, timeoutMs: probeTimeoutMs })
    let cmd = shellCommand(probe.path, ...args)
    if (tracer) cmd = tracer.wrap(cmd)
    builder = probeKit.observationBuilder(scenario)
    let seen = 0
    const result = await runProbe(target, cmd, `${runDir}/probe.pid`, {
      asRoot: privileged,
      killAfterMs: probeTimeoutMs + KILL_GRACE_MS,
      signal: options.signal,
      onLine: (line) => {
        if (!line.startsWith('{') && line.trim()) log('warn', `probe: ${line}`)
        let obs: OpObservation | null = null
        try {
          obs = builder!.push(line)
        } catch (e) {
          log('warn', `probe output not understood: ${errorMessage(e)}`)
        }
        if (obs) emit({ type: 'op', runId, observation: obs, index: seen++, total: countOps(scenario) })
      },
    })
    if (result.why) incomplete = result.why
    else if (result.status === null) incomplete = 'the probe ended without an exit status'
    else if (result.status !== 0) incomplete = `the probe exited with status ${result.status}${result.status > 128 ? ` (killed by signal ${result.status - 128})` : ''}`
  } catch (e) {
    record.error = errorCode(e)
    incomplete ??= record.error.message
    log('error', record.error.message)
  } finally {
    if (tracerStarted && tracer) {
      trace = await tracer.stop().catch((e: unknown) => {
        log('warn', `trace: ${errorMessage(e)}`)
        return undefined
      })
    }
    if (tracer) await tracer.dispose().catch((e: unknown) => log('warn', `removing the trace instance: ${errorMessage(e)}`))
    phase('cleanup', 'removing scratch files')
    if (runDir) {
      const r = await target.exec(`rm -rf -- ${shellQuote(runDir)}`, { root: privileged }).catch((e: unknown) => ({ code: -1, output: errorMessage(e) }))
      if (r.code !== 0) log('warn', `could not remove ${runDir}: ${r.output.trim()}`)
    }
    if (ownPool) {
      const problem = await ownPool.dispose()
      if (problem) log('warn', problem)
    }
  }

  if (builder) {
    try {
      record.observation = builder.finish(incomplete)
    } catch (e) {
      log('warn', `probe output not understood: ${errorMessage(e)}`)
    }
  }
  if (incomplete && !record.observation.incomplete) record.observation.incomplete = { reason: incomplete }
  if (incomplete && !record.error) record.error = { code: options.signal?.aborted ? 'cancelled' : 'probe', message: incomplete }
  phase('compare', 'comparing with the model')
  record.comparison = compare(predictions, record.observation)
  if (trace) record.trace = trace
  record.finishedAt = new Date().toISOString()
  if (options.recordsDir !== null) {
    try {
      const path = await saveRunRecord(record, options.recordsDir ?? undefined)
      log('info', `record saved to ${path}`)
    } catch (e) {
      log('warn', `could not save the run record: ${errorMessage(e)}`)
    }
    const raw = tracer?.rawText() ?? ''
    if (raw) {
      try {
        const path = await saveRunTrace(record.id, raw, options.recordsDir ?? undefined)
        log('info', `raw trace saved to ${path}${trace?.raw?.droppedChars ? ` (the run's first ${raw.length} characters; ${trace.raw.droppedChars} more were not kept)` : ''}`)
      } catch (e) {
        log('warn', `could not save the raw trace (exports will lack kernel events): ${errorMessage(e)}`)
      }
    }
  }
  phase('done', record.comparison.verdict.summary)
  emit({ type: 'finished', runId, record })
  return record
}

function countOps(s: Scenario): number {
  return s.ops.reduce((n, op) => n + (op.op === 'repeat' ? op.body.length : 1), 0)
}

function errorCode(e: unknown): { code: string; message: string } {
  if (e instanceof RunError) return { code: e.code, message: e.message }
  if (e instanceof ProbeBuildError) return { code: e.code, message: e.message }
  if (e instanceof ScratchError) return { code: 'scratch', message: e.message }
  if (e instanceof TargetError) return { code: e.code === 'dead' ? 'disconnected' : e.code, message: e.message }
  return { code: 'error', message: errorMessage(e) }
}

interface ProbeResult {
  /** Exit status, or null when the probe's shell never reported one (disconnect, cancel). */
  status: number | null
  why?: string
}

/**
 * Runs the probe on its own channel so its JSON lines arrive live. The command writes its pid
 * first (for cancel and the kill timer) and the shell around it prints the exit status in-band,
 * so a probe killed by a signal reports 128+n and a lost connection reports nothing.
 */
async function runProbe(
  target: Target,
  command: string,
  pidFile: string,
  o: { asRoot: boolean; killAfterMs: number; signal?: AbortSignal; onLine: (line: string) => void },
): Promise<ProbeResult> {
  const inner = `echo $$ > ${shellQuote(pidFile)}; exec ${command}`
  const outer = `bash -c ${shellQuote(inner)}; printf '\\n%s %d\\n' ${EXIT_TAG} "$?"`
  let buf = ''
  let status: number | null = null
  let why: string | undefined
  const handle = await target.stream(
    outer,
    (chunk) => {
      buf += chunk.replace(/\r/g, '')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const m = new RegExp(`^${EXIT_TAG} (-?\\d+)$`).exec(line)
        if (m) status = Number(m[1])
        else o.onLine(line)
      }
    },
    { root: o.asRoot },
  )
  const kill = async (reason: string): Promise<void> => {
    why ??= reason
    await target.exec(`p=$(cat ${shellQuote(pidFile)} 2>/dev/null) && kill -KILL "$p" 2>/dev/null; true`, { root: o.asRoot }).catch(() => undefined)
  }
  const timer = setTimeout(() => void kill(`the probe overran its time (${Math.round(o.killAfterMs / 1000)} s) and was killed`), o.killAfterMs)
  const onAbort = (): void => void kill('the run was cancelled')
  o.signal?.addEventListener('abort', onAbort)
  if (o.signal?.aborted) onAbort()
  try {
    await handle.done
  } finally {
    clearTimeout(timer)
    o.signal?.removeEventListener('abort', onAbort)
  }
  if (buf.trim()) o.onLine(buf)
  if (status === null) why ??= target.kind === 'ssh' ? 'the connection to the target was lost while the probe ran' : 'the probe’s channel closed before it reported an exit status'
  return { status, why }
}
