import { defineStore } from 'pinia'
import { computed, markRaw, ref, shallowRef } from 'vue'
import type { OpObservation, Policy, Prediction } from '../../../shared/results'
import type { RunEvent, RunPhase, RunRecord } from '../../../shared/run/types'
import type { Filesystem, LiveCounts } from '../../../shared/vocabulary'
import { call, messageOf, on } from '../api'
import { LiveSeries } from '../liveSeries'

export type RunStatus = 'idle' | 'starting' | 'running' | 'finished' | 'failed' | 'cancelling' | 'cancelled'

/** The live run: progress, streamed observations and trace series, and the record when it ends. */
export const useRunsStore = defineStore('runs', () => {
  const runId = ref<string | null>(null)
  /** The scenario's title, known from the start (the record brings it only at the end). */
  const title = ref<string | null>(null)
  /** What the run was started with, for its header before the record says it. */
  /** The phase a cancel was asked for in: the stages after it did not happen. */
  const cancelledIn = ref<RunPhase | null>(null)
  const startedWith = ref<{ targetId: string; fs: Filesystem | null } | null>(null)
  const status = ref<RunStatus>('idle')
  const phase = ref<RunPhase | null>(null)
  const phaseMessage = ref('')
  const log = ref<{ level: 'info' | 'warn' | 'error'; message: string }[]>([])
  const predictions = shallowRef<Record<Policy, Prediction> | null>(null)
  const observations = ref<OpObservation[]>([])
  const progress = ref<{ index: number; total: number } | null>(null)
  const record = shallowRef<RunRecord | null>(null)
  const error = ref<string | null>(null)
  const series = shallowRef(markRaw(new LiveSeries()))
  /** Bumped on every trace event; charts redraw on animation frames, not on every bump. */
  const seriesVersion = ref(0)
  /** Per op path, the kernel's series so far (the tracer sends those of ops that moved), for the chart over the ops while the run goes. */
  const livePerOp = shallowRef(new Map<string, LiveCounts>())
  let unsubscribe: (() => void) | null = null

  const active = computed(() => status.value === 'starting' || status.value === 'running' || status.value === 'cancelling')

  function adopt(id: string): void {
    runId.value = id
    const waiting = early
    early = []
    for (const e of waiting) handle(e)
  }

  function reset(): void {
    runId.value = null
    title.value = null
    early = []
    status.value = 'idle'
    phase.value = null
    phaseMessage.value = ''
    log.value = []
    predictions.value = null
    observations.value = []
    progress.value = null
    record.value = null
    error.value = null
    series.value = markRaw(new LiveSeries())
    seriesVersion.value = 0
    livePerOp.value = new Map()
  }

  /**
   * Events that arrive before startRun has answered with the run's id (the core starts emitting at
   * once) wait here and are replayed once the id is known. Bounded: a run emits a few per op.
   */
  let early: RunEvent[] = []
  const MAX_EARLY = 10_000

  function handle(e: RunEvent): void {
    if (runId.value === null && status.value === 'starting') {
      if (early.length < MAX_EARLY) early.push(e)
      return
    }
    if (e.runId !== runId.value) return
    switch (e.type) {
      case 'phase':
        phase.value = e.phase
        phaseMessage.value = e.message
        if (status.value === 'starting') status.value = 'running'
        break
      case 'prediction':
        predictions.value = e.predictions
        break
      case 'op':
        observations.value.push(e.observation)
        progress.value = { index: e.index, total: e.total }
        break
      case 'trace':
        series.value.push(e.buckets, e.lost, e.counting)
        if (e.perOp) livePerOp.value = new Map([...livePerOp.value, ...Object.entries(e.perOp)])
        seriesVersion.value = series.value.version
        break
      case 'log':
        log.value.push({ level: e.level, message: e.message })
        if (e.level === 'error') {
          error.value = e.message
          status.value = status.value === 'cancelling' ? 'cancelled' : 'failed'
        }
        break
      case 'finished':
        record.value = e.record
        predictions.value = e.record.predictions
        phase.value = 'done'
        if (e.record.error) {
          error.value = e.record.error.message
          status.value = e.record.error.code === 'cancelled' || status.value === 'cancelling' ? 'cancelled' : 'failed'
        } else status.value = 'finished'
        break
    }
  }

  function listen(): void {
    unsubscribe ??= on('onRunEvent', handle)
  }

  async function start(targetId: string, scenarioText: string, source: string, fs?: Filesystem, scenarioTitle?: string): Promise<void> {
    listen()
    reset()
    title.value = scenarioTitle ?? null
    startedWith.value = { targetId, fs: fs ?? null }
    cancelledIn.value = null
    status.value = 'starting'
    try {
      const r = await call('startRun', { targetId, scenarioText, source, ...(fs ? { fs } : {}) })
      adopt(r.runId)
    } catch (e) {
      status.value = 'failed'
      error.value = messageOf(e)
    }
  }

  /** Follows a run that `begin` starts elsewhere and names (its events arrive like any run's). */
  async function follow(begin: () => Promise<{ runId: string }>): Promise<void> {
    listen()
    reset()
    status.value = 'starting'
    adopt((await begin()).runId)
  }

  async function cancel(): Promise<void> {
    if (!runId.value || !active.value) return
    status.value = 'cancelling'
    cancelledIn.value = phase.value
    try {
      await call('cancelRun', { runId: runId.value })
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  return {
    runId, title, startedWith, cancelledIn, status, phase, phaseMessage, log, predictions, observations, progress, record, error, series, seriesVersion, livePerOp, active,
    start, follow, cancel, handle, reset, listen,
  }
})
