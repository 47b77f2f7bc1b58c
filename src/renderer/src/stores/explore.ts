import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { ExploreCase, ExploreCounters, ExploreEvent } from '../../../shared/explore/messages'
import type { Filesystem } from '../../../shared/vocabulary'
import type { Policy } from '../../../shared/results'
import { call, messageOf, on } from '../api'

export type ExploreStatus = 'idle' | 'starting' | 'running' | 'stopping' | 'done' | 'failed'

/** One explore run at a time: its counters as they come, the minimal cases found, how it ended. */
export const useExploreStore = defineStore('explore', () => {
  const exploreId = ref<string | null>(null)
  const seed = ref<number | null>(null)
  const status = ref<ExploreStatus>('idle')
  const counters = shallowRef<ExploreCounters | null>(null)
  const cases = ref<ExploreCase[]>([])
  const policy = ref<Policy | null>(null)
  const stoppedBy = ref<string | null>(null)
  const error = ref<string | null>(null)
  /** Names of the cases saved as the user's scenarios. */
  const saved = ref<string[]>([])
  let unsubscribe: (() => void) | null = null
  let early: ExploreEvent[] = []

  function handle(e: ExploreEvent): void {
    if (exploreId.value === null) return void early.push(e)
    if (e.exploreId !== exploreId.value) return
    if (e.type === 'progress') counters.value = e.counters
    else if (e.type === 'case') cases.value.push(e.case)
    else {
      counters.value = e.counters
      policy.value = e.policy
      stoppedBy.value = e.stoppedBy
      error.value = e.error ?? null
      status.value = e.error ? 'failed' : 'done'
    }
  }

  function listen(): void {
    unsubscribe ??= on('onExploreEvent', handle)
  }

  async function start(o: { targetId: string; fs: Filesystem[]; count?: number; budgetSeconds?: number; seed?: number }): Promise<void> {
    listen()
    exploreId.value = null
    early = []
    cases.value = []
    counters.value = null
    error.value = null
    stoppedBy.value = null
    saved.value = []
    status.value = 'starting'
    try {
      const r = await call('startExplore', o)
      seed.value = r.seed
      exploreId.value = r.exploreId
      if (status.value === 'starting') status.value = 'running'
      const waiting = early
      early = []
      for (const e of waiting) handle(e)
    } catch (e) {
      status.value = 'failed'
      error.value = messageOf(e)
    }
  }

  async function stop(): Promise<void> {
    if (!exploreId.value || status.value !== 'running') return
    status.value = 'stopping'
    try {
      await call('stopExplore', { exploreId: exploreId.value })
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function saveCase(c: ExploreCase): Promise<void> {
    try {
      await call('saveScenario', { name: c.name.slice(0, 64), text: c.text })
      saved.value.push(c.name)
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  function dispose(): void {
    unsubscribe?.()
    unsubscribe = null
  }

  return { exploreId, seed, status, counters, cases, policy, stoppedBy, error, saved, listen, start, stop, saveCase, dispose }
})
