/// <reference lib="webworker" />
// The model in a worker, so a GiB-scale prediction never blocks the page.
import type { PredictRequest, PredictResponse } from './protocol'

self.onmessage = (e: MessageEvent<PredictRequest>) => {
  const { id } = e.data
  const reply: PredictResponse = { id, ok: false, message: 'the model (src/shared/model) is not part of this build yet' }
  ;(self as unknown as Worker).postMessage(reply)
}
