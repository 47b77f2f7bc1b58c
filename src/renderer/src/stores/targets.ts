import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { TargetState } from '../../../shared/api'
import { call, messageOf, on } from '../api'

export type TargetDraft =
  | { id?: string; name: string; kind: 'local' }
  | { id?: string; name: string; kind: 'ssh'; host: string; user?: string; port?: number; identityFile?: string }
  | { id?: string; name: string; kind: 'vm'; kernel: string; bootArgs?: string[]; memoryMb?: number }

/** Targets: the configured machines, their connection state and facts (kept live by onTargetStatus). */
export const useTargetsStore = defineStore('targets', () => {
  const targets = ref<TargetState[]>([])
  const selectedId = ref<string | null>(null)
  const loading = ref(false)
  const error = ref<string | null>(null)
  let unsubscribe: (() => void) | null = null

  const selected = computed(() => targets.value.find((t) => t.config.id === selectedId.value) ?? null)
  const connected = computed(() => targets.value.filter((t) => t.status === 'connected'))

  function upsert(state: TargetState): void {
    const i = targets.value.findIndex((t) => t.config.id === state.config.id)
    if (i >= 0) targets.value[i] = state
    else targets.value.push(state)
  }

  async function load(): Promise<void> {
    unsubscribe ??= on('onTargetStatus', upsert)
    loading.value = true
    error.value = null
    try {
      targets.value = await call('listTargets')
      if (!selectedId.value && targets.value[0]) selectedId.value = targets.value[0].config.id
    } catch (e) {
      error.value = messageOf(e)
    } finally {
      loading.value = false
    }
  }

  async function save(draft: TargetDraft): Promise<TargetState | null> {
    error.value = null
    try {
      const state = await call('saveTarget', draft)
      upsert(state)
      selectedId.value = state.config.id
      return state
    } catch (e) {
      error.value = messageOf(e)
      return null
    }
  }

  async function remove(id: string): Promise<void> {
    error.value = null
    try {
      await call('removeTarget', { id })
      targets.value = targets.value.filter((t) => t.config.id !== id)
      if (selectedId.value === id) selectedId.value = targets.value[0]?.config.id ?? null
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function connect(id: string): Promise<void> {
    error.value = null
    try {
      upsert(await call('connectTarget', { id }))
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function disconnect(id: string): Promise<void> {
    error.value = null
    try {
      upsert(await call('disconnectTarget', { id }))
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  function dispose(): void {
    unsubscribe?.()
    unsubscribe = null
  }

  return { targets, selectedId, selected, connected, loading, error, load, save, remove, connect, disconnect, upsert, dispose }
})
