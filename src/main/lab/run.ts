/**
 * The steps of a run that touch the target: choose where its files live, get the probe, make the
 * run's directory and upload the program, start the trace, run the probe on its own channel
 * (feeding its lines to the plan's reader), stop the trace, remove the files, read the kernel log.
 * The Lab (lab.ts) strings them together around the pure plan (src/shared/run/plan.ts) and keeps
 * the record. Every step that leaves something on the target has its undo in `cleanup`, which
 * runs on every path.
 */
import type { Target, TargetFacts } from '../target/types'
import { shellQuote, shellCommand } from '../target/quote'
import { TargetError, errorMessage } from '../target/errors'
import type { LiveSeriesListener, RunTracer } from './types'
import type { RunPhase, TraceSummary } from '../../shared/run/types'
import type { OpObservation } from '../../shared/results'
import type { ProbeReader, RunPlan } from '../../shared/run/plan'
import type { Filesystem } from '../../shared/vocabulary'
import { describeProbeExit } from '../../shared/vocabulary'
import { VocabularyError } from '../../shared/compare'
import { ScratchPool, ScratchError, checkWritable, dirFilesystem, modelFs } from './scratch'
import { buildProbe, ProbeBuildError } from './probe-build'
import { scratchSetup } from '../../shared/scenario/mount'
import { resolveSize } from '../../shared/scenario/size'
import type { Scenario } from '../../shared/scenario/schema'

export type RunErrorCode = 'cancelled' | 'disconnected' | 'target-crashed' | 'scratch' | 'probe' | 'vocabulary' | 'error' | string

export class RunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
    /** Kernel messages that explain it (a crashed target's console). */
    readonly kernelLog?: string,
  ) {
    super(message)
    this.name = 'RunError'
  }
}

export function runErrorOf(e: unknown): { code: string; message: string } {
  if (e instanceof RunError) return { code: e.code, message: e.message }
  if (e instanceof ProbeBuildError) return { code: e.code, message: e.message }
  if (e instanceof ScratchError) return { code: 'scratch', message: e.message }
  if (e instanceof VocabularyError) return { code: 'vocabulary', message: e.message }
  if (e instanceof TargetError) return { code: e.code === 'dead' ? 'disconnected' : e.code, message: e.message }
  return { code: 'error', message: errorMessage(e) }
}

/** What a run reports while its steps go. */
export interface StepReporter {
  phase(p: RunPhase, message: string): void
  log(level: 'info' | 'warn' | 'error', message: string): void
}

const EXIT_TAG = 'SPLAB_PROBE_EXIT'
const EXIT_LINE = new RegExp(`^${EXIT_TAG} (-?\\d+)$`)
/** Extra time after the probe's own timeout before the run stops it. */
const OVERRUN_GRACE_MS = 15_000
/** Kernel log kept in a record: its last 64 KiB. */
const KERNEL_LOG_CHARS = 64 * 1024

/**
 * The filesystem a run models. In a given directory: what `stat -f` says it is (or `--fs`, which
 * must then say which the model simulates when stat names one it does not know); else the asked
 * one, the scenario's, or tmpfs.
 */
export async function chooseFilesystem(target: Target, o: { fs?: Filesystem; dir?: string; scenarioFs?: Filesystem }, report: StepReporter): Promise<{ fs: Filesystem; problem?: RunError }> {
  if (!o.dir) return { fs: o.fs ?? o.scenarioFs ?? 'tmpfs' }
  let stat = ''
  try {
    stat = await dirFilesystem(target, o.dir)
  } catch (e) {
    if (e instanceof ScratchError) return { fs: o.fs ?? 'tmpfs', problem: new RunError('scratch', e.message) }
  }
  const known = modelFs(stat)
  if (!o.fs && !known) {
    const problem = new RunError('scratch', `scratch directory ${o.dir} is on "${stat || 'an unknown filesystem'}", which the model does not know (tmpfs, ext4, xfs, btrfs); say which to simulate with --fs`)
    return { fs: 'tmpfs', problem }
  }
  if (o.fs && known && known !== o.fs) report.log('warn', `${o.dir} is ${known}, but the run was asked to model ${o.fs}`)
  return { fs: o.fs ?? known! }
}

/**
 * A pipe the probe could not size on this target: without root (or sudo), F_SETPIPE_SZ past
 * /proc/sys/fs/pipe-max-size fails with EPERM (fs/pipe.c pipe_set_size: the size is first rounded
 * up to a power-of-two number of pages, round_pipe_size; CAP_SYS_RESOURCE lifts the limit). Found
 * in preflight, before scratch is made, instead of by the probe after it.
 */
export async function pipeLimitProblem(target: Target, facts: TargetFacts, scenario: Scenario): Promise<RunError | null> {
  if (facts.root || facts.sudo) return null
  const r = await target.exec('cat /proc/sys/fs/pipe-max-size')
  const max = Number(r.output.trim())
  if (r.code !== 0 || !Number.isSafeInteger(max) || max <= 0) return null
  for (const [i, p] of scenario.pipes.entries()) {
    const pages = Math.max(1, Math.ceil(resolveSize(p.size, facts.pageSize) / facts.pageSize))
    const rounded = 2 ** Math.ceil(Math.log2(pages)) * facts.pageSize
    if (rounded > max)
      return new RunError('limits', `pipes[${i}].size: the kernel makes it ${rounded} bytes, more than this target's pipe-max-size (${max} bytes), and the probe runs without root; make the pipe smaller or connect as root`)
  }
  return null
}

export interface ExecutionOptions {
  runId: string
  facts: TargetFacts
  plan: RunPlan
  /** A directory of the person's; else a scratch mount from the pool. */
  dir?: string
  pool: ScratchPool | null
  tracer?: RunTracer
  signal: AbortSignal
  /** Gives the probe this long (it stops itself); it is stopped OVERRUN_GRACE_MS later. */
  probeTimeoutMs: number
  /** Between SIGTERM (the probe reports what it has) and SIGKILL when a run is cancelled. */
  cancelGraceMs: number
  /** Why the target cannot be used any more (disconnected, crashed), or null: cleanup is skipped then. */
  gone: () => string | null
  report: StepReporter
  /** Each line the probe printed, after the reader has had it (op: the observation it completed). */
  onProbeLine: (line: string, op: OpObservation | null) => void
  onBuckets: LiveSeriesListener
}

/** One run's target-side state, so that cleanup undoes exactly what was done. */
export class RunExecution {
  runDir: string | null = null
  reader: ProbeReader | null = null
  /** Why the observation is incomplete, when it is. */
  incomplete: string | undefined
  /** The probe's channel closed without an exit status and nobody stopped it: the target may be gone. */
  channelLost = false
  trace: TraceSummary | undefined
  private tracerStarted = false
  private kernelMark: string | null = null

  constructor(
    private readonly target: Target,
    private readonly o: ExecutionOptions,
  ) {}

  private get privileged(): boolean {
    return this.o.facts.root || this.o.facts.sudo
  }

  private checkAbort(): void {
    if (this.o.signal.aborted) throw abortError(this.o.signal)
  }

  /** Everything up to the probe's exit. Throws on a step that failed; `cleanup` must follow. */
  async execute(): Promise<void> {
    const { plan, report, facts } = this.o
    this.checkAbort()
    report.phase('compile', this.target.provideProbe ? 'getting the probe' : facts.compiler.path ? `compiling the probe with ${facts.compiler.path}` : 'compiling the probe')
    const probe = this.target.provideProbe ? await this.target.provideProbe() : await buildProbe(this.target)
    report.log('info', probe.compiled ? `probe ${probe.hash} built` : `probe ${probe.hash} reused from the target's cache`)

    this.checkAbort()
    report.phase('prepare', `preparing ${plan.fs} scratch`)
    const runDir = await this.makeRunDir()

    report.phase('upload', 'uploading the program')
    const programPath = `${runDir}/program`
    await this.target.upload(programPath, plan.program)

    this.checkAbort()
    const tracer = this.o.tracer
    if (tracer) {
      report.phase('trace', `tracing in ftrace instance ${tracer.instance || '(none)'}`)
      await tracer.start(this.o.onBuckets)
      this.tracerStarted = true
    }
    this.kernelMark = await markKernelLog(this.target, this.o.runId, this.privileged)

    report.phase('probe', `running ${plan.scenario.name} on ${plan.fs}`)
    const args = plan.probeArgs({ programPath, dir: runDir, marker: tracer?.markerPath ?? undefined, timeoutMs: this.o.probeTimeoutMs })
    const cmd = tracer ? tracer.wrap(shellCommand(probe.path, ...args)) : shellCommand(probe.path, ...args)
    const reader = (this.reader = plan.reader())
    const result = await runProbe(this.target, cmd, `${runDir}/probe.pid`, {
      asRoot: this.privileged,
      overrunMs: this.o.probeTimeoutMs + OVERRUN_GRACE_MS,
      cancelGraceMs: this.o.cancelGraceMs,
      signal: this.o.signal,
      onLine: (line) => this.o.onProbeLine(line, readLine(reader, line, report)),
    })
    this.channelLost = result.status === null && !result.stopped
    if (result.why) this.incomplete = result.stopped && result.status !== null ? `${result.why} (the probe ended: ${describeProbeExit(result.status)})` : result.why
    else if (result.status === null) this.incomplete = 'the probe ended without an exit status'
    else if (result.status !== 0) this.incomplete = `the probe exited with ${describeProbeExit(result.status)}`
  }

  private async makeRunDir(): Promise<string> {
    const { plan, pool } = this.o
    let base = this.o.dir
    if (!base) {
      if (!this.privileged || !pool) throw new RunError('scratch', `a ${plan.fs} scratch mount needs root or passwordless sudo on ${this.target.label}; give a writable directory with --dir`)
      base = await pool.ensure(plan.fs, plan.scenario.mount)
    } else {
      const options = scratchSetup(plan.fs, plan.scenario.mount).describe
      if (options) this.o.report.log('warn', `${options} not applied: the run uses the given directory ${base} as it is`)
    }
    await checkWritable(this.target, base)
    const runDir = `${base}/splice-lab-run-${this.o.runId}`
    const mk = await this.target.exec(`mkdir -p -- ${shellQuote(runDir)}`)
    if (mk.code !== 0) throw new RunError('scratch', `cannot create ${runDir}: ${mk.output.trim()}`)
    this.runDir = runDir
    this.o.report.log('info', `the run's files are in ${runDir}`)
    return runDir
  }

  /** Stops the trace, removes the tracer and the run's files. Never throws; problems are logged. */
  async cleanup(): Promise<void> {
    const { tracer, report } = this.o
    const gone = this.o.gone()
    if (gone) {
      report.log('warn', `${gone}: the run's files and trace instance stay on the target until its next connect removes them`)
      if (tracer && this.tracerStarted) this.trace = { instance: tracer.instance, events: 0, lost: 0, perOp: {}, unavailable: gone }
      return
    }
    if (tracer && this.tracerStarted) {
      this.trace = await tracer.stop().catch((e: unknown) => {
        report.log('warn', `trace: ${errorMessage(e)}`)
        return undefined
      })
    }
    if (tracer) await tracer.dispose().catch((e: unknown) => report.log('warn', `removing the trace instance: ${errorMessage(e)}`))
    report.phase('cleanup', 'removing scratch files')
    if (this.runDir) {
      const r = await this.target.exec(`rm -rf -- ${shellQuote(this.runDir)}`, { root: this.privileged }).catch((e: unknown) => ({ code: -1, output: errorMessage(e) }))
      if (r.code !== 0) report.log('warn', `could not remove ${this.runDir}: ${r.output.trim()}`)
    }
  }

  /** What the kernel logged since the probe started, or undefined (nothing, no permission, target gone). */
  async kernelLog(): Promise<string | undefined> {
    if (!this.kernelMark || this.o.gone()) return undefined
    return kernelLogSince(this.target, this.kernelMark, this.privileged)
  }
}

function readLine(reader: ProbeReader, line: string, report: StepReporter): OpObservation | null {
  try {
    return reader.pushLine(line)
  } catch (e) {
    report.log('warn', `probe output not understood: ${errorMessage(e)}`)
    return null
  }
}

export function abortError(signal: AbortSignal): RunError {
  const r: unknown = signal.reason
  if (r instanceof RunError) return r
  const said = r instanceof Error && r.name !== 'AbortError' && r.message ? `: ${r.message}` : ''
  return new RunError('cancelled', `the run was cancelled${said}`)
}

/**
 * A line in the kernel log before the probe starts, so the part of dmesg a run wrote can be told
 * from the rest. Needs root (writing /dev/kmsg); without it the run has no kernel log.
 */
async function markKernelLog(target: Target, runId: string, privileged: boolean): Promise<string | null> {
  if (!privileged) return null
  const mark = `splice-lab: run ${runId} starts its probe`
  const r = await target.exec(`echo ${shellQuote(mark)} > /dev/kmsg`, { root: true }).catch(() => null)
  return r?.code === 0 ? mark : null
}

async function kernelLogSince(target: Target, mark: string, privileged: boolean): Promise<string | undefined> {
  const script = `dmesg 2>/dev/null | awk -v m=${shellQuote(mark)} 'f { print } index($0, m) { f = 1 }' | tail -c ${KERNEL_LOG_CHARS}`
  const r = await target.exec(script, { root: privileged }).catch(() => null)
  const text = r?.code === 0 ? r.output.trim() : ''
  return text || undefined
}

interface ProbeResult {
  /** Exit status, or null when the probe's shell never reported one (disconnect, kill). */
  status: number | null
  why?: string
  /** The run stopped it (cancel, overrun). */
  stopped: boolean
}

/**
 * Splits a stream cut anywhere into lines: the one splitter between the probe's channel and the
 * plan's reader. The exit-status line of the wrapper below is taken out here; no framing goes up.
 */
class ProbeLines {
  private buf = ''
  status: number | null = null

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let text = this.buf + chunk
    let nl: number
    while ((nl = text.indexOf('\n')) >= 0) {
      this.take(text.slice(0, nl))
      text = text.slice(nl + 1)
    }
    this.buf = text
  }

  end(): void {
    if (this.buf) this.take(this.buf)
    this.buf = ''
  }

  private take(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const m = EXIT_LINE.exec(line)
    if (m) this.status = Number(m[1])
    else this.onLine(line)
  }
}

/**
 * Runs the probe on its own channel so its JSON lines arrive live. The command writes its pid
 * first (to stop it) and the shell around it prints the exit status in-band, so a probe killed by
 * a signal reports 128+n and a lost connection reports nothing. Stopping asks first (SIGTERM: the
 * probe finishes its op and reports what it has), then kills after a grace period.
 */
export async function runProbe(
  target: Target,
  command: string,
  pidFile: string,
  o: { asRoot: boolean; overrunMs: number; cancelGraceMs: number; signal: AbortSignal; onLine: (line: string) => void },
): Promise<ProbeResult> {
  const inner = `echo $$ > ${shellQuote(pidFile)}; exec ${command}`
  const outer = `bash -c ${shellQuote(inner)}; printf '\\n%s %d\\n' ${EXIT_TAG} "$?"`
  const lines = new ProbeLines(o.onLine)
  let why: string | undefined
  const handle = await target.stream(outer, (chunk) => lines.push(chunk), { root: o.asRoot })
  const signal = (name: 'TERM' | 'KILL'): Promise<unknown> =>
    target.exec(`p=$(cat ${shellQuote(pidFile)} 2>/dev/null) && kill -${name} "$p" 2>/dev/null; true`, { root: o.asRoot }).catch(() => undefined)
  let killTimer: ReturnType<typeof setTimeout> | undefined
  const stop = (reason: string): void => {
    if (why !== undefined) return
    why = reason
    void signal('TERM')
    killTimer = setTimeout(() => void signal('KILL'), o.cancelGraceMs)
  }
  const overrun = setTimeout(() => stop(`the probe overran its time (${Math.round(o.overrunMs / 1000)} s) and was stopped`), o.overrunMs)
  const onAbort = (): void => stop(abortError(o.signal).message)
  o.signal.addEventListener('abort', onAbort)
  if (o.signal.aborted) onAbort()
  try {
    await handle.done
  } finally {
    clearTimeout(overrun)
    clearTimeout(killTimer)
    o.signal.removeEventListener('abort', onAbort)
  }
  lines.end()
  const stopped = why !== undefined
  if (lines.status === null) why ??= target.kind === 'ssh' ? 'the connection to the target was lost while the probe ran' : 'the probe’s channel closed before it reported an exit status'
  return { status: lines.status, why, stopped }
}
