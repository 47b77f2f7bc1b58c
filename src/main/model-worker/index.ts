/**
 * The model off the event loop, in a worker thread of its own (Perfetto runs its engine behind a
 * message port for the same reason): a scenario the bounds let through still costs seconds of CPU,
 * and on the CLI's or the server's event loop those seconds ignored Ctrl-C, SIGTERM and every HTTP
 * request. Each prediction gets a worker with a heap limit and a deadline; cancelling or overrunning
 * ends the worker (terminate() stops even a busy loop) and rejects with a ModelError saying which.
 */
import { Worker } from 'node:worker_threads'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { POLICIES, type ModelEnv, type Policy, type Prediction } from '../../shared/results'
import type { Scenario } from '../../shared/scenario'
import type { ModelReply, ModelRequest } from './protocol'

/** Default deadline of one prediction (60 s): the bounded scenarios take at most a few seconds. */
export const MODEL_TIMEOUT_MS = 60_000
/** Default heap of the model's thread (1 GiB): the largest bounded scenario needs about 300 MB. */
export const MODEL_HEAP_MB = 1024

export type ModelErrorCode = 'cancelled' | 'timeout' | 'memory' | 'model'

export class ModelError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ModelError'
  }
}

export interface ModelBudget {
  signal?: AbortSignal
  timeoutMs?: number
  heapMb?: number
}

/**
 * The worker's code: the build's own entry (out/main/model-worker.js, next to cli.js and index.js
 * or one level up from a chunk); from source (tsx, vitest) a small bootstrap that registers tsx in
 * the worker first, since a worker does not inherit the loader that runs this file.
 */
function workerScript(): { script: string | URL; eval?: true } {
  const here = new URL(import.meta.url)
  if (here.pathname.endsWith('.ts')) {
    // The ESM entry of tsx's API (require.resolve names the CommonJS one beside it).
    const tsx = createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')
    const worker = new URL('./worker.ts', here).href
    return { script: `import(${JSON.stringify(pathToFileURL(tsx).href)}).then((t) => { t.register(); return import(${JSON.stringify(worker)}) })`, eval: true }
  }
  const dir = dirname(fileURLToPath(here))
  for (const candidate of [join(dir, 'model-worker.js'), join(dir, '..', 'model-worker.js')]) if (existsSync(candidate)) return { script: pathToFileURL(candidate) }
  throw new ModelError('model', `the model worker (model-worker.js) is missing beside ${dir}; rebuild with npm run build`)
}

/** Predicts `policies` (default all) for a validated scenario in a worker thread within the budget. */
export function predictOffThread(scenario: Scenario, env: ModelEnv, budget: ModelBudget = {}, policies: readonly Policy[] = POLICIES): Promise<Record<Policy, Prediction>> {
  const timeoutMs = budget.timeoutMs ?? MODEL_TIMEOUT_MS
  const heapMb = budget.heapMb ?? MODEL_HEAP_MB
  if (budget.signal?.aborted) return Promise.reject(new ModelError('cancelled', 'the prediction was cancelled'))
  const { script, eval: isCode } = workerScript()
  const worker = new Worker(script, {
    eval: isCode,
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(64, heapMb / 4) },
    stderr: false,
  })
  return new Promise<Record<Policy, Prediction>>((resolve, reject) => {
    let settled = false
    const settle = (err: ModelError | null, value?: Record<Policy, Prediction>): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      budget.signal?.removeEventListener('abort', onAbort)
      void worker.terminate()
      if (err) reject(err)
      else resolve(value!)
    }
    const timer = setTimeout(
      () => settle(new ModelError('timeout', `the model did not finish within ${timeoutMs / 1000} s and was stopped; make the scenario smaller (fewer repeats or pages)`)),
      timeoutMs,
    )
    const onAbort = (): void => settle(new ModelError('cancelled', 'the prediction was cancelled'))
    budget.signal?.addEventListener('abort', onAbort)
    worker.once('message', (reply: ModelReply) => {
      if (reply.ok) settle(null, reply.predictions as Record<Policy, Prediction>)
      else settle(new ModelError('model', `the model failed: ${reply.message}`))
    })
    worker.once('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') settle(new ModelError('memory', `the model needed more than its ${heapMb} MB heap and was stopped; make the scenario smaller`))
      else settle(new ModelError('model', `the model failed: ${e.message}`))
    })
    worker.once('exit', (code) => settle(new ModelError('model', `the model's thread ended (exit ${code}) without an answer`)))
    const request: ModelRequest = { scenario, env, policies: [...policies] }
    worker.postMessage(request)
  })
}
