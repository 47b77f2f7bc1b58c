/**
 * A Lab: the one owner of the runs on one connected target. The CLI and the app's service both
 * open one per target and run scenarios through it. It owns:
 * - run ids (one format, newRunId), cancellation, and the runs in flight;
 * - the scratch pool: mounts made once and reused by every run, stale scratch of dead sessions
 *   removed at open (with dead sessions' ftrace instances);
 * - the tracer factory, and the records store the runs are saved in;
 * - the target's end: a dropped session aborts the runs in flight with a clear error (their records
 *   keep what was observed) and is reported to whoever listens (the app's Targets view); a target
 *   that crashed and came back (a VM) goes on with the next run.
 * A run is a plan computed in the core (src/shared/run/plan.ts) executed by the steps in run.ts.
 */
import { randomBytes } from 'node:crypto'
import type { Target, TargetCrash, TargetFacts } from '../target/types'
import { errorMessage } from '../target/errors'
import type { RunTracer } from './types'
import type { RecordedTarget, RunEvent, RunPhase, RunRecord } from '../../shared/run/types'
import { RUN_RECORD_VERSION } from '../../shared/run/types'
import type { Scenario } from '../../shared/scenario/schema'
import { DEFAULT_COSTS, type Observation, type UnitCosts } from '../../shared/results'
import type { Filesystem } from '../../shared/vocabulary'
import { planRun, defaultModel, type PlanModel, type RunPlan } from '../../shared/run/plan'
import { verdictOf } from '../../shared/compare'
import { ScratchPool, cleanStaleScratch } from './scratch'
import { openTracer, cleanStaleInstances, type TracerOptions } from './tracer'
import { RunRecords } from './records'
import { RunError, RunExecution, abortError, chooseFilesystem, pipeLimitProblem, runErrorOf, type StepReporter } from './run'
import { runBatch, type BatchOutcome } from './batch'
import { ModelError, predictOffThread } from '../model-worker'

export { RunError } from './run'

/**
 * The default model with its predictions made in a worker thread (model-worker), cancellable by
 * the run's signal and bounded in time and memory; a failure is the run's error, before the target
 * is touched.
 */
async function offThreadModel(scenario: Scenario, fs: Filesystem, facts: TargetFacts, costs: UnitCosts | undefined, signal: AbortSignal): Promise<PlanModel> {
  const env = defaultModel.env(fs, facts, costs ?? DEFAULT_COSTS)
  try {
    const predictions = await predictOffThread(scenario, env, { signal })
    return { env: () => env, predictAll: () => predictions }
  } catch (e) {
    // Cancelled: the run's own reason (cancel, disconnect, crash) says more than "cancelled".
    if (e instanceof ModelError && e.code === 'cancelled') throw signal.reason instanceof RunError ? signal.reason : new RunError('cancelled', e.message)
    if (e instanceof ModelError) throw new RunError('model', e.message)
    throw e
  }
}

/** "20261129T170209-3fa9c2": sortable by time, unique per lab. */
export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`
}

/** How long dispose() waits for cancelled runs to clean their target. Default 30 s. */
export const DISPOSE_WAIT_MS = 30_000

export interface LabOptions {
  /** Where records are saved; null: not saved. Default: runsDir(). */
  records?: RunRecords | null
  costs?: UnitCosts
  /** Gives the probe this long (it stops itself). Default 120 s. */
  probeTimeoutMs?: number
  /** Between asking a cancelled probe to stop (SIGTERM) and killing it. Default 5 s. */
  cancelGraceMs?: number
  model?: PlanModel
  /** dispose() ends the target's session too. Default true; false leaves it to whoever opened it. */
  disposeTarget?: boolean
  /** Names the scratch directory (/tmp/splice-lab-scratch-<id>). Default: lab-<pid>-<time>-<random>. */
  scratchId?: string
}

export interface RunRequest {
  /** Filesystem to run on: a scratch mount of that kind (root), or the label of `dir`. */
  fs?: Filesystem
  /** Run in this directory (must be writable) instead of a scratch mount. */
  dir?: string
  /** Trace the probe in a private ftrace instance (when the target allows; else the run says why not). */
  trace?: boolean | Pick<TracerOptions, 'keepRawChars' | 'bufferKb' | 'text'>
  signal?: AbortSignal
  onEvent?: (e: RunEvent) => void
  runId?: string
  /** Save this run's record here instead (null: not saved). */
  records?: RunRecords | null
}

export interface StartedRun {
  runId: string
  done: Promise<RunRecord>
}

export class Lab {
  /** What opening found and did (stale scratch and trace instances removed). */
  readonly notes: string[] = []
  private readonly runs = new Map<string, { controller: AbortController; done: Promise<RunRecord> }>()
  /** Batches in flight (explore), aborted with the runs when the target goes. */
  private readonly batches = new Set<AbortController>()
  private readonly pool: ScratchPool
  private readonly records: RunRecords | null
  private readonly listeners = new Set<(reason: string) => void>()
  private readonly unsubscribe: (() => void)[] = []
  private lost: string | null = null
  private crash: TargetCrash | null = null
  private disposed = false

  private constructor(
    readonly target: Target,
    private readonly options: LabOptions,
  ) {
    this.pool = new ScratchPool(target, options.scratchId ?? `lab-${process.pid}-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`)
    this.records = options.records === null ? null : (options.records ?? new RunRecords())
    this.unsubscribe.push(target.onDisconnect((code) => this.onTargetGone(code)))
    if (target.onCrash) this.unsubscribe.push(target.onCrash((c) => this.onTargetCrash(c)))
  }

  /** Opens a lab on a connected target: reads its facts and removes what dead sessions left there. */
  static async open(target: Target, options: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(target, options)
    try {
      await lab.clean(await target.facts())
    } catch (e) {
      await lab.dispose()
      throw e
    }
    return lab
  }

  private async clean(facts: TargetFacts): Promise<void> {
    if (facts.root || facts.sudo) {
      const stale = await cleanStaleScratch(this.target).catch((e: unknown) => [`(stale scratch not checked: ${errorMessage(e)})`])
      if (stale.length) this.notes.push(`removed scratch left by an earlier session: ${stale.join(', ')}`)
    }
    const instances = await cleanStaleInstances(this.target).catch((e: unknown) => [`(stale trace instances not checked: ${errorMessage(e)})`])
    if (instances.length) this.notes.push(`removed ftrace instances left by an earlier session: ${instances.join(', ')}`)
  }

  facts(): Promise<TargetFacts> {
    return this.target.facts()
  }

  /** Why the target's session ended, or null while it lives. */
  get disconnected(): string | null {
    return this.lost
  }

  /** Called once when the target's session ends by itself, with the reason for people. */
  onDisconnect(listener: (reason: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Ids of the runs in flight. */
  get running(): string[] {
    return [...this.runs.keys()]
  }

  /** A tracer on this target (splice-lab trace records with one directly). */
  async tracer(options: TracerOptions = {}): Promise<RunTracer> {
    return openTracer(this.target, { pageSize: (await this.target.facts()).pageSize, ...options })
  }

  /** Starts a run; `done` resolves with its record on every path (errors are in record.error). */
  start(scenario: Scenario, request: RunRequest = {}): StartedRun {
    if (this.disposed) throw new RunError('disconnected', `the lab on ${this.target.label} is closed`)
    if (this.lost) throw new RunError('disconnected', this.lost)
    const runId = request.runId ?? newRunId()
    const controller = new AbortController()
    const outer = request.signal
    const onOuterAbort = (): void => controller.abort(outer?.reason ?? new RunError('cancelled', 'the run was cancelled'))
    outer?.addEventListener('abort', onOuterAbort)
    if (outer?.aborted) onOuterAbort()
    const done = this.execute(runId, scenario, request, controller.signal).finally(() => {
      outer?.removeEventListener('abort', onOuterAbort)
      this.runs.delete(runId)
    })
    this.runs.set(runId, { controller, done })
    return { runId, done }
  }

  run(scenario: Scenario, request: RunRequest = {}): Promise<RunRecord> {
    return this.start(scenario, request).done
  }

  /**
   * Runs many scenarios (with the same mount options) in one probe session (batch.ts): explore's
   * way to run hundreds of small scenarios without a compile, upload and channel for each. Nothing
   * is saved; the caller keeps what it needs.
   */
  async batch(scenarios: readonly Scenario[], o: { fs: Filesystem; signal?: AbortSignal; scenarioTimeoutMs?: number }): Promise<BatchOutcome[]> {
    if (this.disposed) throw new RunError('disconnected', `the lab on ${this.target.label} is closed`)
    if (this.lost) throw new RunError('disconnected', this.lost)
    if (this.crash) await this.recover({ phase: () => undefined, log: () => undefined })
    const controller = new AbortController()
    const onOuterAbort = (): void => controller.abort(o.signal?.reason)
    o.signal?.addEventListener('abort', onOuterAbort)
    if (o.signal?.aborted) onOuterAbort()
    this.batches.add(controller)
    try {
      const facts = await this.target.facts()
      return await runBatch(this.target, scenarios, { fs: o.fs, facts, pool: this.pool, costs: this.options.costs, signal: controller.signal, scenarioTimeoutMs: o.scenarioTimeoutMs })
    } finally {
      this.batches.delete(controller)
      o.signal?.removeEventListener('abort', onOuterAbort)
    }
  }

  /** Cancels a run in flight: its probe is asked to stop, reports what it has, and the target is cleaned. */
  cancel(runId: string, reason = 'the run was cancelled'): boolean {
    const run = this.runs.get(runId)
    if (!run) return false
    run.controller.abort(new RunError('cancelled', reason))
    return true
  }

  /** Cancels every run, waits for them to clean up (at most DISPOSE_WAIT_MS), removes scratch, ends the session (LabOptions.disposeTarget). Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    const running = [...this.runs.values()]
    for (const r of running) r.controller.abort(new RunError('cancelled', 'the lab closed'))
    for (const b of this.batches) b.abort(new RunError('cancelled', 'the lab closed'))
    await Promise.race([Promise.allSettled(running.map((r) => r.done)), new Promise((r) => setTimeout(r, DISPOSE_WAIT_MS).unref())])
    if (!this.lost) await this.pool.dispose()
    for (const u of this.unsubscribe) u()
    if (this.options.disposeTarget !== false) await this.target.dispose()
  }

  private onTargetGone(code: number): void {
    if (this.disposed || this.lost) return
    this.lost = `the session to ${this.target.label} ended${this.target.kind === 'ssh' ? ` (ssh exited with status ${code}: the connection was lost)` : ` (exit status ${code})`}`
    for (const r of this.runs.values()) r.controller.abort(new RunError('disconnected', `${this.lost} while the run was going`))
    for (const b of this.batches) b.abort(new RunError('disconnected', this.lost))
    for (const l of this.listeners) l(this.lost)
  }

  private onTargetCrash(crash: TargetCrash): void {
    if (this.disposed) return
    this.crash = crash
    this.pool.forget()
    for (const r of this.runs.values()) r.controller.abort(new RunError('target-crashed', `${this.target.label} crashed during the run: ${crash.reason}`, crash.console))
    for (const b of this.batches) b.abort(new RunError('target-crashed', `${this.target.label} crashed during the batch: ${crash.reason}`, crash.console))
  }

  /** Why the target cannot be touched now (cleanup is skipped then), or null. */
  private gone(): string | null {
    return this.lost ?? (this.crash ? `${this.target.label} crashed (${this.crash.reason})` : null)
  }

  private async execute(runId: string, scenario: Scenario, request: RunRequest, signal: AbortSignal): Promise<RunRecord> {
    const emit = (e: RunEvent): void => request.onEvent?.(e)
    const report: StepReporter = {
      phase: (phase: RunPhase, message: string) => emit({ type: 'phase', runId, phase, message }),
      log: (level, message) => emit({ type: 'log', runId, level, message }),
    }
    report.phase('preflight', `checking ${this.target.label}`)
    if (this.crash) await this.recover(report)
    const facts = await this.target.facts()
    for (const n of facts.notes) report.log('info', n)
    const place = await chooseFilesystem(this.target, { fs: request.fs, dir: request.dir, scenarioFs: scenario.fs }, report)
    const plan = planRun({ scenario, fs: place.fs, facts, costs: this.options.costs }, this.options.model ?? (await offThreadModel(scenario, place.fs, facts, this.options.costs, signal)))
    emit({ type: 'prediction', runId, predictions: plan.predictions })
    const record = newRecord(runId, plan, recordedTarget(this.target, facts), request.dir ?? '', facts)

    let exec: RunExecution | null = null
    let tracer: RunTracer | undefined
    let kernelLog: string | undefined
    let seen = 0
    try {
      if (place.problem) throw place.problem
      const pipeProblem = await pipeLimitProblem(this.target, facts, scenario)
      if (pipeProblem) throw pipeProblem
      if (request.trace) tracer = await this.tracer(typeof request.trace === 'object' ? request.trace : {})
      exec = new RunExecution(this.target, {
        runId, facts, plan, signal, report,
        dir: request.dir,
        pool: request.dir ? null : this.pool,
        tracer,
        probeTimeoutMs: this.options.probeTimeoutMs ?? 120_000,
        cancelGraceMs: this.options.cancelGraceMs ?? 5000,
        gone: () => this.gone(),
        onBuckets: (buckets, lost, perOp) => emit({ type: 'trace', runId, buckets, lost, counting: tracer?.counting ?? 'inferred', ...(perOp && Object.keys(perOp).length ? { perOp } : {}) }),
        onProbeLine: (line, op) => {
          if (op) emit({ type: 'op', runId, observation: op, index: seen++, total: plan.expectedOps.length })
          else if (!line.startsWith('{') && line.trim()) report.log('warn', `probe: ${line}`)
        },
      })
      await exec.execute()
      if (exec.channelLost) {
        const gone = await this.confirmGone()
        if (gone) {
          exec.incomplete = `${gone} while the run was going`
          throw new RunError('disconnected', exec.incomplete)
        }
      }
    } catch (e) {
      record.error = runErrorOf(e)
      if (e instanceof RunError) kernelLog = e.kernelLog
      report.log('error', record.error.message)
    } finally {
      await exec?.cleanup()
    }
    if (signal.aborted) kernelLog ??= abortError(signal).kernelLog
    this.finish(record, plan, exec, signal, report)
    if (record.error || record.comparison.verdict.behavesLike === 'none') kernelLog ??= await exec?.kernelLog()
    if (kernelLog) record.kernelLog = kernelLog
    await this.save(record, tracer, request.records === undefined ? this.records : request.records, report)
    report.phase('done', record.comparison.verdict.summary)
    emit({ type: 'finished', runId, record })
    return record
  }

  /** The observation (partial results kept), the comparison and the trace into the record. */
  private finish(record: RunRecord, plan: RunPlan, exec: RunExecution | null, signal: AbortSignal, report: StepReporter): void {
    const incomplete = exec?.incomplete ?? record.error?.message
    if (exec?.reader) {
      try {
        record.observation = exec.reader.finish(incomplete)
      } catch (e) {
        report.log('warn', `probe output not understood: ${errorMessage(e)}`)
      }
    }
    if (incomplete && !record.observation.incomplete) record.observation.incomplete = { reason: incomplete }
    if (incomplete && !record.error) record.error = signal.aborted ? runErrorOf(abortError(signal)) : { code: 'probe', message: incomplete }
    report.phase('compare', 'comparing with the model')
    try {
      record.comparison = plan.finish(record.observation)
    } catch (e) {
      record.error = runErrorOf(e)
      record.comparison = { ops: [], verdict: verdictOf([], record.observation) }
      report.log('error', record.error.message)
    }
    if (exec?.trace) record.trace = exec.trace
    if (exec?.runDir) record.dir = exec.runDir
    record.finishedAt = new Date().toISOString()
  }

  private async save(record: RunRecord, tracer: RunTracer | undefined, records: RunRecords | null, report: StepReporter): Promise<void> {
    if (!records) return
    try {
      report.log('info', `record saved to ${await records.save(record)}`)
    } catch (e) {
      report.log('warn', `could not save the run record: ${errorMessage(e)}`)
    }
    const raw = tracer?.rawText() ?? ''
    if (!raw) return
    try {
      const dropped = record.trace?.raw?.droppedChars
      report.log('info', `raw trace saved to ${await records.saveTrace(record.id, raw)}${dropped ? ` (the run's first ${raw.length} characters; ${dropped} more were not kept)` : ''}`)
    } catch (e) {
      report.log('warn', `could not save the raw trace (exports will lack kernel events): ${errorMessage(e)}`)
    }
  }

  /**
   * The probe's channel closed without a word: is the session gone too? It usually says so a moment
   * after the channel (both ride one connection); a command that cannot run settles it.
   */
  private async confirmGone(): Promise<string | null> {
    if (this.lost) return this.lost
    const alive = await this.target.exec(':', { timeoutMs: 5000 }).then(
      () => true,
      () => false,
    )
    if (alive) return null
    for (let i = 0; i < 20 && !this.lost; i++) await new Promise((r) => setTimeout(r, 50))
    return this.lost ?? `the session to ${this.target.label} stopped answering`
  }

  /** After a crash: wait for the target to come back, then start from clean scratch. */
  private async recover(report: StepReporter): Promise<void> {
    report.phase('preflight', `waiting for ${this.target.label} to come back after its crash`)
    if (!this.target.whenReady) throw new RunError('target-crashed', `${this.target.label} crashed and cannot come back by itself; reconnect it`)
    await this.target.whenReady()
    this.crash = null
    this.pool.forget()
  }
}

function recordedTarget(target: Target, f: TargetFacts): RecordedTarget {
  const vm = f.vm ? { vm: { kernel: f.vm.kernel, accelerator: f.vm.accelerator, bootArgs: f.vm.bootArgs, cmdline: f.vm.cmdline } } : {}
  return { label: target.label, kind: target.kind, kernel: f.kernel, arch: f.arch, pageSize: f.pageSize, root: f.root, tracefs: !!f.tracefs.path && f.tracefs.writable, perf: f.perf.available, spliceStats: f.spliceStats, ...vm }
}

function newRecord(id: string, plan: RunPlan, target: RecordedTarget, dir: string, facts: TargetFacts): RunRecord {
  const observation: Observation = { ops: [], facts: { spliceStats: facts.spliceStats, perf: facts.perf.available, traceMarker: false, notes: [] } }
  return {
    version: RUN_RECORD_VERSION,
    id,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    scenario: plan.scenario,
    target,
    fs: plan.fs,
    dir,
    env: plan.env,
    predictions: plan.predictions,
    observation,
    comparison: { ops: [], verdict: verdictOf([], observation) },
  }
}
