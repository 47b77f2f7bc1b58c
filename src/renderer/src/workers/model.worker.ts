/// <reference lib="webworker" />
// The model in a worker, so a GiB-scale prediction never blocks the page.
import { defaultEnv, predictAll } from '../../../shared/model'
import { DEFAULT_COSTS } from '../../../shared/results'
import type { PredictRequest, PredictResponse } from './protocol'

self.onmessage = (e: MessageEvent<PredictRequest>) => {
  const { id, scenario, fs, pageSize } = e.data
  let reply: PredictResponse
  try {
    const t0 = performance.now()
    const predictions = predictAll(scenario, defaultEnv(fs, pageSize, DEFAULT_COSTS))
    reply = { id, ok: true, predictions, ms: performance.now() - t0 }
  } catch (err) {
    reply = { id, ok: false, message: err instanceof Error ? err.message : String(err) }
  }
  ;(self as unknown as Worker).postMessage(reply)
}
