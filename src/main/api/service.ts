/**
 * The API service: implements every method of the contract (src/shared/api) over the core. One
 * service per window (Electron) or per server (splice-lab serve); it owns a Lab per connected target
 * (runs, scratch, the target's end), and `dispose()` ends them all — on window close, server stop,
 * errors included. A target whose session drops shows as disconnected with the reason.
 */
import {
  ApiError,
  type EventName,
  type EventPayloads,
  type Handlers,
  type RunSummary,
  type TargetConfig,
  type TargetState,
} from '../../shared/api'
import { parseScenarioText, formatProblem } from '../../shared/scenario'
import type { RunEvent, RunRecord } from '../../shared/run/types'
import { randomInt } from 'node:crypto'
import { syntheticStream } from './bench'
import type { Target, TerminalInput } from '../target/types'
import { connectTarget as openSession, parseTargetSpec, type TargetSpec } from '../target'
import { Lab, newRunId } from '../lab/lab'
import { exploreWithEvents } from '../lab/explore'
import { RecordError, RunRecords } from '../lab/records'
import { presetInfos } from '../presets'
import { newId, readTargets, writeTargets } from './targets-store'
import { TerminalFlow } from './terminal-flow'
import { listUserScenarios, saveUserScenario } from '../user-scenarios'
import { Shells, isShellId, shellIdOf } from './shells'

export type Emit = <E extends EventName>(name: E, payload: EventPayloads[E]) => void

export interface ServiceOptions {
  /** Enables benchInject (splice-lab serve --bench). Off everywhere else. */
  bench?: boolean
  /** A known_hosts file every ssh target's host key is checked against (default: ssh's own). */
  sshKnownHosts?: string
}

interface Session {
  state: TargetState
  lab?: Lab
  /** The pty's input while connecting: a person answers ssh's host-key or password prompt with it. */
  connectingInput?: TerminalInput
  flow: TerminalFlow
}

export class LabService {
  private readonly sessions = new Map<string, Session>()
  /** The lab of each run in flight, for cancelRun. */
  private readonly runs = new Map<string, Lab>()
  /** Explore runs in flight, for stopExplore and dispose. */
  private readonly explorations = new Map<string, AbortController>()
  private readonly records = new RunRecords()
  private loaded: Promise<void> | null = null
  private disposed = false
  /** People's interactive shells, one per connected target, apart from the driven sessions. */
  private readonly shells = new Shells((id, data, replay) => this.emit('onTerminalData', { id, data, ...(replay ? { replay } : {}) }))

  constructor(
    private readonly emit: Emit,
    private readonly options: ServiceOptions = {},
  ) {}

  readonly handlers: Handlers = {
    listTargets: async () => {
      await this.load()
      return [...this.sessions.values()].map((s) => s.state)
    },
    saveTarget: async (draft) => {
      await this.load()
      const id = draft.id ?? newId()
      const config = { ...draft, id } as TargetConfig
      const existing = this.sessions.get(id)
      if (existing) {
        if (existing.state.status !== 'disconnected' && existing.state.status !== 'error')
          throw new ApiError('busy', `disconnect "${existing.state.config.name}" before editing it`)
        existing.state = { ...existing.state, config }
      } else this.sessions.set(id, this.newSession(config))
      await this.persist()
      return this.sessions.get(id)!.state
    },
    removeTarget: async ({ id }) => {
      const s = await this.session(id)
      await this.closeSession(s)
      this.sessions.delete(id)
      await this.persist()
      return null
    },
    connectTarget: async ({ id }) => {
      const s = await this.session(id)
      if (s.state.status === 'connected' || s.state.status === 'connecting') return s.state
      this.setState(s, { status: 'connecting', message: 'starting a session…', facts: undefined })
      s.flow = this.newFlow(id)
      try {
        const target = await openTarget(
          s.state.config,
          this.options.sshKnownHosts,
          (message) => this.setState(s, { message }),
          (data) => s.flow.push(data),
          (input) => (s.connectingInput = input),
        )
        this.setState(s, { message: 'reading the target’s facts and removing what earlier sessions left…' })
        const lab = (s.lab = await Lab.open(target, { records: this.records }))
        lab.onDisconnect((reason) => {
          if (s.lab !== lab) return
          s.lab = undefined
          void lab.dispose()
          this.setState(s, { status: 'disconnected', message: reason })
        })
        for (const note of lab.notes) s.flow.push(`\r\n[splice-lab] ${note}\r\n`)
        s.connectingInput = undefined
        this.setState(s, { status: 'connected', message: undefined, facts: await lab.facts() })
      } catch (e) {
        s.connectingInput = undefined
        await this.closeSession(s)
        this.setState(s, { status: 'error', message: e instanceof Error ? e.message : String(e) })
      }
      return s.state
    },
    disconnectTarget: async ({ id }) => {
      const s = await this.session(id)
      await this.closeSession(s)
      this.setState(s, { status: 'disconnected', message: undefined })
      return s.state
    },
    writeTerminal: async ({ id, data }) => {
      if (isShellId(id)) return (this.shells.write(id, data), null)
      const s = await this.session(id)
      if (s.state.status === 'connecting' && s.connectingInput) s.connectingInput.write(data)
      else this.connected(s).target.writeTerminal(data)
      return null
    },
    resizeTerminal: async ({ id, cols, rows }) => {
      if (isShellId(id)) return (this.shells.resize(id, cols, rows), null)
      const s = await this.session(id)
      if (s.state.status === 'connecting' && s.connectingInput) s.connectingInput.resize(cols, rows)
      else this.connected(s).target.resizeTerminal(cols, rows)
      return null
    },
    ackTerminal: async ({ id, chars }) => {
      if (isShellId(id)) return (this.shells.ack(id, chars), null)
      ;(await this.session(id)).flow.ack(chars)
      return null
    },
    attachTerminal: async ({ id }) => {
      if (isShellId(id)) return (this.emit('onTerminalData', { id, data: this.shells.attach(id), replay: true }), null)
      const s = await this.session(id)
      this.emit('onTerminalData', { id, data: s.flow.attach(), replay: true })
      return null
    },
    openShell: async ({ id }) => {
      const target = this.connected(await this.session(id)).target
      if (!target.interactiveSpawn) throw new ApiError('unsupported', `${target.label} offers no interactive shell`)
      return { id: this.shells.start(id, target.interactiveSpawn(), () => {}) }
    },
    closeShell: async ({ id }) => {
      this.shells.stop(isShellId(id) ? id : shellIdOf(id))
      return null
    },
    listPresets: () => presetInfos(),
    listUserScenarios: () => listUserScenarios(),
    saveScenario: ({ name, text }) => saveUserScenario(name, text),
    startRun: async ({ targetId, scenarioText, source, fs }) => {
      const s = await this.session(targetId)
      const lab = this.connected(s)
      const parsed = parseScenarioText(scenarioText, source, s.state.facts?.pageSize ?? 4096)
      if (!parsed.ok) throw new ApiError('invalid-input', parsed.problems.map(formatProblem).join('\n'))
      const onEvent = (e: RunEvent): void => this.emit('onRunEvent', e)
      // The trace runs where the target allows one; otherwise the run says why there is none.
      const { runId, done } = lab.start(parsed.scenario, { fs, trace: true, onEvent })
      this.runs.set(runId, lab)
      void done
        .catch((e: unknown) => onEvent({ type: 'log', runId, level: 'error', message: e instanceof Error ? e.message : String(e) }))
        .finally(() => this.runs.delete(runId))
      return { runId }
    },
    cancelRun: async ({ runId }) => {
      if (!this.runs.get(runId)?.cancel(runId, 'cancelled by the user')) throw new ApiError('not-found', `no run ${runId} is in progress`)
      return null
    },
    listRuns: async () => (await this.records.list((message) => console.warn(`splice-lab: ${message}`))).map(summarize).sort((a, b) => b.startedAt.localeCompare(a.startedAt)),
    getRun: async ({ id }) => this.loadRun(id),
    exportRun: async ({ id, format }) => {
      const record = await this.loadRun(id)
      const base = `${record.scenario.name}-${record.id}`
      const content = await this.records.export(record, format)
      if (format === 'json') return { filename: `${base}.json`, mime: 'application/json', content }
      if (format === 'csv') return { filename: `${base}.tracepoints.csv`, mime: 'text/csv', content }
      if (format === 'series-csv') return { filename: `${base}.series.csv`, mime: 'text/csv', content }
      return { filename: `${base}.perfetto.json`, mime: 'application/json', content }
    },
    startExplore: async ({ targetId, fs, seed, count, budgetSeconds }) => {
      const lab = this.connected(await this.session(targetId))
      const exploreId = `explore-${newRunId()}`
      const chosen = seed ?? randomInt(2 ** 31 - 1)
      const abort = new AbortController()
      this.explorations.set(exploreId, abort)
      const options = { filesystems: fs, seed: chosen, count, budgetMs: budgetSeconds === undefined ? undefined : budgetSeconds * 1000, signal: abort.signal }
      void exploreWithEvents(lab, exploreId, options, (e) => this.emit('onExploreEvent', e)).finally(() => this.explorations.delete(exploreId))
      return { exploreId, seed: chosen }
    },
    stopExplore: async ({ exploreId }) => {
      const abort = this.explorations.get(exploreId)
      if (!abort) throw new ApiError('not-found', `no explore run ${exploreId} is in progress`)
      abort.abort()
      return null
    },
    benchInject: async ({ eventsPerSecond, durationMs }) => {
      if (!this.options.bench) throw new ApiError('refused', 'benchInject is for npm run bench:ui only (splice-lab serve --bench)')
      const runId = `bench-${newRunId()}`
      void syntheticStream(runId, eventsPerSecond, durationMs, (e) => this.emit('onRunEvent', e), () => this.disposed)
      return { runId }
    },
  }

  /** Ends every run and session this service started. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    for (const abort of this.explorations.values()) abort.abort()
    // Each lab cancels its runs and lets them clean their target before its session closes.
    await Promise.allSettled([...this.sessions.values()].map((s) => this.closeSession(s)))
  }

  private newSession(config: TargetConfig): Session {
    return { state: { config, status: 'disconnected' }, flow: this.newFlow(config.id) }
  }

  private newFlow(id: string): TerminalFlow {
    return new TerminalFlow((data) => this.emit('onTerminalData', { id, data }))
  }

  private async load(): Promise<void> {
    this.loaded ??= readTargets().then((configs) => {
      for (const c of configs) if (!this.sessions.has(c.id)) this.sessions.set(c.id, this.newSession(c))
    })
    return this.loaded
  }

  private async persist(): Promise<void> {
    await writeTargets([...this.sessions.values()].map((s) => s.state.config))
  }

  private async session(id: string): Promise<Session> {
    await this.load()
    const s = this.sessions.get(id)
    if (!s) throw new ApiError('not-found', `no target with id ${id}; it may have been removed`)
    return s
  }

  private connected(s: Session): Lab {
    if (!s.lab || s.state.status !== 'connected') throw new ApiError('not-connected', `connect "${s.state.config.name}" first`)
    return s.lab
  }

  private setState(s: Session, patch: Partial<TargetState>): void {
    s.state = { ...s.state, ...patch }
    for (const k of Object.keys(s.state) as (keyof TargetState)[]) if (s.state[k] === undefined) delete s.state[k]
    this.emit('onTargetStatus', s.state)
  }

  private async closeSession(s: Session): Promise<void> {
    this.shells.stop(shellIdOf(s.state.config.id))
    const lab = s.lab
    s.lab = undefined
    if (lab) await lab.dispose()
  }

  private async loadRun(id: string): Promise<RunRecord> {
    try {
      return await this.records.load(id)
    } catch (e) {
      if (e instanceof RecordError) throw new ApiError(e.code, e.message)
      throw e
    }
  }
}

/**
 * Opens a pty session to the target. Terminal output flows to `onTerminalData` from the first byte,
 * so a password or host-key prompt during the connect reaches the person in the terminal view.
 */
function openTarget(
  config: TargetConfig,
  knownHosts: string | undefined,
  onProgress: (message: string) => void,
  onTerminalData: (data: string) => void,
  onTerminal: (input: TerminalInput) => void,
): Promise<Target> {
  const spec = targetSpecOf(config, knownHosts)
  onProgress(
    config.kind === 'local'
      ? 'starting a local shell…'
      : config.kind === 'vm'
        ? `booting vm:${config.kernel}… the console shows in the terminal below`
        : `ssh ${config.user ? `${config.user}@` : ''}${config.host}… answer any prompt in the terminal below`,
  )
  // A person may be typing a password or checking a host key: give them two minutes. A VM's boot
  // has its own timeout in the VM target (connectVm's default) unless one is given here.
  return openSession(spec, { readyTimeoutMs: config.kind === 'ssh' ? 120_000 : config.kind === 'vm' ? undefined : 15_000, onTerminalData, onTerminal })
}

/** The spec the CLI would build for this target (`local`, `ssh://…`, `vm:<kernel> --boot-arg … --memory …`). */
export function targetSpecOf(config: TargetConfig, knownHosts?: string): TargetSpec {
  switch (config.kind) {
    case 'local':
      return { kind: 'local' }
    case 'ssh':
      return { kind: 'ssh', host: config.host, user: config.user, port: config.port, identity: config.identityFile, knownHosts }
    case 'vm':
      return parseTargetSpec(`vm:${config.kernel}`, { bootArgs: config.bootArgs, memoryMb: config.memoryMb })
  }
}

export function summarize(r: RunRecord): RunSummary {
  return {
    id: r.id,
    scenario: r.scenario.name,
    title: r.scenario.title ?? r.scenario.name,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    target: r.target.label,
    kernel: r.target.kernel,
    fs: r.fs,
    behavesLike: r.comparison?.verdict?.behavesLike ?? null,
    ...(r.comparison?.verdict?.perPolicy ? { disagreements: Object.fromEntries(Object.entries(r.comparison.verdict.perPolicy).map(([p, c]) => [p, c.disagree])) as RunSummary['disagreements'] } : {}),
    ...(r.error ? { error: r.error.message } : {}),
  }
}
