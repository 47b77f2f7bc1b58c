import { defineStore } from 'pinia'
import { markRaw, shallowRef } from 'vue'
import type { TraceFormatFile } from '../../../shared/trace/export'
import { call, messageOf } from '../api'
import { readPerfetto, seriesPerOp, type KernelTrace } from '../kernelTrace'
import type { LiveCounts, SeriesCounting } from '../../../shared/vocabulary'

export interface LoadedTrace {
  trace: KernelTrace
  /** Per op path: pages shared/stolen/copied, reloads, bytes, as the live series count them. */
  perOp: Map<string, LiveCounts>
}

/** Kept traces: the last few opened runs (a Perfetto export can be tens of MB). */
const KEEP = 4

/** Saved runs' kernel traces, read from their Perfetto export on demand. */
export const useTracesStore = defineStore('traces', () => {
  const loaded = shallowRef(new Map<string, LoadedTrace | { error: string }>())
  const pending = new Map<string, Promise<void>>()

  async function load(id: string, pageSize: number, counting: SeriesCounting = 'inferred'): Promise<void> {
    if (loaded.value.has(id)) return
    let p = pending.get(id)
    if (!p) {
      p = (async () => {
        let entry: LoadedTrace | { error: string }
        try {
          const file = await call('exportRun', { id, format: 'perfetto' })
          const trace = readPerfetto(JSON.parse(file.content) as TraceFormatFile)
          entry = markRaw({ trace, perOp: seriesPerOp(trace, pageSize, counting) })
        } catch (e) {
          entry = { error: messageOf(e) }
        }
        const next = new Map(loaded.value)
        next.set(id, entry)
        while (next.size > KEEP) next.delete(next.keys().next().value!)
        loaded.value = next
        pending.delete(id)
      })()
      pending.set(id, p)
    }
    await p
  }

  function get(id: string | null | undefined): LoadedTrace | null {
    const e = id ? loaded.value.get(id) : undefined
    return e && 'trace' in e ? e : null
  }
  function errorOf(id: string | null | undefined): string | null {
    const e = id ? loaded.value.get(id) : undefined
    return e && 'error' in e ? e.error : null
  }

  return { loaded, load, get, errorOf }
})
