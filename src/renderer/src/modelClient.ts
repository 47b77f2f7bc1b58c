/**
 * Predictions off the UI thread: the model (src/shared/model) runs in a Web Worker; a newer request
 * supersedes older ones, so typing in the editor never queues stale work.
 */
import type { Scenario } from '../../shared/scenario'
import type { Policy, Prediction } from '../../shared/results'
import type { Filesystem } from '../../shared/vocabulary'
import type { PredictRequest, PredictResponse } from './workers/protocol'

export interface ModelClient {
  predict(scenario: Scenario, fs: Filesystem, pageSize: number): Promise<{ predictions: Record<Policy, Prediction>; ms: number }>
}

export function createWorkerModel(): ModelClient {
  let worker: Worker | null = null
  let nextId = 1
  const pending = new Map<number, { resolve: (v: { predictions: Record<Policy, Prediction>; ms: number }) => void; reject: (e: Error) => void }>()
  const ensure = (): Worker => {
    if (worker) return worker
    worker = new Worker(new URL('./workers/model.worker.ts', import.meta.url), { type: 'module' })
    worker.onmessage = (e: MessageEvent<PredictResponse>) => {
      const p = pending.get(e.data.id)
      pending.delete(e.data.id)
      if (!p) return
      if (e.data.ok) p.resolve({ predictions: e.data.predictions, ms: e.data.ms })
      else p.reject(new Error(e.data.message))
    }
    worker.onerror = (e) => {
      for (const [id, p] of pending) {
        pending.delete(id)
        p.reject(new Error(`the model worker failed: ${e.message}`))
      }
    }
    return worker
  }
  return {
    predict(scenario, fs, pageSize) {
      const id = nextId++
      // Superseded requests are rejected so their callers drop them.
      for (const [old, p] of pending) {
        pending.delete(old)
        p.reject(new Error('superseded'))
      }
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        ensure().postMessage({ id, scenario: JSON.parse(JSON.stringify(scenario)), fs, pageSize } satisfies PredictRequest)
      })
    },
  }
}
