/**
 * The model's thread (see index.ts): predicts the policies it is asked for and posts the result.
 * One request per worker; the worker is ended after it answers.
 */
import { parentPort } from 'node:worker_threads'
import { predict } from '../../shared/model'
import type { ModelRequest, ModelReply } from './protocol'

parentPort?.once('message', (req: ModelRequest) => {
  let reply: ModelReply
  try {
    const predictions: ModelReply & { ok: true } = { ok: true, predictions: {} }
    for (const policy of req.policies) predictions.predictions[policy] = predict(req.scenario, policy, req.env)
    reply = predictions
  } catch (e) {
    reply = { ok: false, message: e instanceof Error ? e.message : String(e) }
  }
  parentPort!.postMessage(reply)
})
