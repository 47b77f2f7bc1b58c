import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { ExportFormat, RunSummary } from '../../../shared/api'
import type { RunRecord } from '../../../shared/run/types'
import { call, messageOf } from '../api'

/** History: saved run records, one opened, up to two compared side by side, exports. */
export const useHistoryStore = defineStore('history', () => {
  const runs = ref<RunSummary[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)
  const opened = shallowRef<RunRecord | null>(null)
  /** Ids ticked for comparison, oldest first; at most two. */
  const compareIds = ref<string[]>([])
  const compared = shallowRef<RunRecord[]>([])

  async function load(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      runs.value = await call('listRuns')
    } catch (e) {
      error.value = messageOf(e)
    } finally {
      loading.value = false
    }
  }

  async function open(id: string): Promise<void> {
    error.value = null
    try {
      opened.value = await call('getRun', { id })
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  function toggleCompare(id: string): void {
    const i = compareIds.value.indexOf(id)
    if (i >= 0) compareIds.value.splice(i, 1)
    else {
      compareIds.value.push(id)
      if (compareIds.value.length > 2) compareIds.value.shift()
    }
  }

  async function loadComparison(): Promise<void> {
    error.value = null
    try {
      compared.value = await Promise.all(compareIds.value.map((id) => call('getRun', { id })))
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  /** Returns the exported file; the view turns it into a download. */
  async function exportRun(id: string, format: ExportFormat): Promise<{ filename: string; mime: string; content: string } | null> {
    error.value = null
    try {
      return await call('exportRun', { id, format })
    } catch (e) {
      error.value = messageOf(e)
      return null
    }
  }

  return { runs, loading, error, opened, compareIds, compared, load, open, toggleCompare, loadComparison, exportRun }
})
