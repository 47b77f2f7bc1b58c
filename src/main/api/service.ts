/**
 * The API service: implements every method of the contract (src/shared/api) over the core. One
 * service per window (Electron) or per server (splice-lab serve); it owns the target sessions and
 * the runs it starts, and `dispose()` ends them all — on window close, server stop, errors included.
 */
import { randomBytes } from 'node:crypto'
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
import { syntheticStream } from './bench'
import type { Target, TerminalInput } from '../target/types'
import * as core from './core'
import { newId, readTargets, writeTargets } from './targets-store'
import { TerminalFlow } from './terminal-flow'

/** How long closing waits for cancelled runs to clean up before ending their sessions. Default 30 s. */
export const DISPOSE_WAIT_MS = 30_000

export type Emit = <E extends EventName>(name: E, payload: EventPayloads[E]) => void

export interface ServiceOptions {
  /** Enables benchInject (splice-lab serve --bench). Off everywhere else. */
  bench?: boolean
}

interface Session {
  state: TargetState
  target?: Target
  /** The pty's input while connecting: a person answers ssh's host-key or password prompt with it. */
  connectingInput?: TerminalInput
  flow: TerminalFlow
  unsubscribe?: () => void
}

export class LabService {
  private readonly sessions = new Map<string, Session>()
  private readonly runs = new Map<string, { controller: AbortController; done: Promise<unknown> }>()
  private loaded: Promise<void> | null = null
  private disposed = false

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
        s.target = await core.openTarget(
          s.state.config,
          (message) => this.setState(s, { message }),
          (data) => s.flow.push(data),
          (input) => (s.connectingInput = input),
        )
        const target = s.target
        this.setState(s, { message: 'reading the target’s facts…' })
        const facts = await target.facts()
        s.connectingInput = undefined
        this.setState(s, { status: 'connected', message: undefined, facts })
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
      const s = await this.session(id)
      if (s.state.status === 'connecting' && s.connectingInput) s.connectingInput.write(data)
      else this.connected(s).writeTerminal(data)
      return null
    },
    resizeTerminal: async ({ id, cols, rows }) => {
      const s = await this.session(id)
      if (s.state.status === 'connecting' && s.connectingInput) s.connectingInput.resize(cols, rows)
      else this.connected(s).resizeTerminal(cols, rows)
      return null
    },
    ackTerminal: async ({ id, chars }) => {
      ;(await this.session(id)).flow.ack(chars)
      return null
    },
    attachTerminal: async ({ id }) => {
      const s = await this.session(id)
      this.emit('onTerminalData', { id, data: s.flow.attach(), replay: true })
      return null
    },
    listPresets: () => core.listPresets(),
    startRun: async ({ targetId, scenarioText, source, fs }) => {
      const s = await this.session(targetId)
      const target = this.connected(s)
      const parsed = parseScenarioText(scenarioText, source, s.state.facts?.pageSize ?? 4096)
      if (!parsed.ok) throw new ApiError('invalid-input', parsed.problems.map(formatProblem).join('\n'))
      const runId = newRunId()
      const controller = new AbortController()
      const onEvent = (e: RunEvent): void => this.emit('onRunEvent', e)
      let started: core.StartedRun
      try {
        started = core.startRun(target, parsed.scenario, { runId, fs, pageSize: s.state.facts?.pageSize ?? 4096, signal: controller.signal, onEvent })
      } catch (e) {
        this.runs.delete(runId)
        throw e
      }
      const done = started.done
        .catch((e: unknown) => onEvent({ type: 'log', runId, level: 'error', message: e instanceof Error ? e.message : String(e) }))
        .finally(() => this.runs.delete(runId))
      this.runs.set(runId, { controller, done })
      return { runId }
    },
    cancelRun: async ({ runId }) => {
      const run = this.runs.get(runId)
      if (!run) throw new ApiError('not-found', `no run ${runId} is in progress`)
      run.controller.abort(new ApiError('cancelled', 'cancelled by the user'))
      return null
    },
    listRuns: async () => (await this.readRecords()).map(summarize).sort((a, b) => b.startedAt.localeCompare(a.startedAt)),
    getRun: async ({ id }) => core.loadRun(id),
    exportRun: async ({ id, format }) => {
      const record = await core.loadRun(id)
      const base = `${record.scenario.name}-${record.id}`
      if (format === 'json') return { filename: `${base}.json`, mime: 'application/json', content: await core.exportRecord(record, 'json') }
      if (format === 'csv') return { filename: `${base}.tracepoints.csv`, mime: 'text/csv', content: await core.exportRecord(record, 'csv') }
      if (format === 'series-csv') return { filename: `${base}.series.csv`, mime: 'text/csv', content: await core.exportRecord(record, 'series-csv') }
      return { filename: `${base}.perfetto.json`, mime: 'application/json', content: await core.exportRecord(record, 'perfetto') }
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
    // Cancelled runs clean their target (scratch, trace instance, probe) before the sessions close.
    const running = [...this.runs.values()]
    for (const r of running) r.controller.abort(new ApiError('cancelled', 'the window or server closed'))
    await Promise.race([Promise.allSettled(running.map((r) => r.done)), new Promise((r) => setTimeout(r, DISPOSE_WAIT_MS))])
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

  private connected(s: Session): Target {
    if (!s.target || s.state.status !== 'connected') throw new ApiError('not-connected', `connect "${s.state.config.name}" first`)
    return s.target
  }

  private setState(s: Session, patch: Partial<TargetState>): void {
    s.state = { ...s.state, ...patch }
    for (const k of Object.keys(s.state) as (keyof TargetState)[]) if (s.state[k] === undefined) delete s.state[k]
    this.emit('onTargetStatus', s.state)
  }

  private async closeSession(s: Session): Promise<void> {
    s.unsubscribe?.()
    s.unsubscribe = undefined
    const t = s.target
    s.target = undefined
    if (t) await t.dispose()
  }

  private async readRecords(): Promise<RunRecord[]> {
    return core.listRunRecords((message) => console.warn(`splice-lab: ${message}`))
  }
}

const newRunId = (): string => `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`

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
    ...(r.error ? { error: r.error.message } : {}),
  }
}
