import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { ExportFormat, RunSummary } from '../../../shared/api'
import type { RunRecord } from '../../../shared/run/types'
import { call, messageOf } from '../api'
import { emptyFilter, type HistoryFilter } from '../historyIndex'

/** Where History is: the list (or matrix), one opened run, or two runs compared. Mirrored in the URL hash. */
export type HistoryPage = { kind: 'list' } | { kind: 'run'; id: string } | { kind: 'compare'; ids: [string, string] }

/** History: saved run records, filters, one opened, two compared, exports. */
export const useHistoryStore = defineStore('history', () => {
  const runs = ref<RunSummary[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)
  const page = ref<HistoryPage>({ kind: 'list' })
  const layout = ref<'list' | 'batches' | 'matrix'>('list')
  const filter = ref<HistoryFilter>(emptyFilter())
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

  /** Opens a run on its own page. */
  async function open(id: string): Promise<void> {
    error.value = null
    page.value = { kind: 'run', id }
    if (opened.value?.id === id) return
    opened.value = null
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

  /** Compares two runs on their own page (the ticked ones by default). */
  async function compare(ids: string[] = compareIds.value): Promise<void> {
    if (ids.length !== 2) return
    error.value = null
    page.value = { kind: 'compare', ids: [ids[0]!, ids[1]!] }
    if (compared.value.map((r) => r.id).join() === ids.join()) return
    compared.value = []
    try {
      compared.value = await Promise.all(ids.map((id) => call('getRun', { id })))
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  function back(): void {
    page.value = { kind: 'list' }
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

  return { runs, loading, error, page, layout, filter, opened, compareIds, compared, load, open, toggleCompare, compare, back, exportRun }
})
