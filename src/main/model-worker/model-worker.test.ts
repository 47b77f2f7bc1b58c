import { describe, expect, it } from 'vitest'
import { predictOffThread, ModelError } from '.'
import { defaultEnv, predictAll } from '../../shared/model'
import { validateScenario, type Scenario } from '../../shared/scenario'

function scenario(times: number, fileSize = '1MiB'): Scenario {
  const r = validateScenario(
    {
      name: 'stream',
      files: [{ id: 'f', size: fileSize }],
      pipes: [{ id: 'p', size: '1MiB' }],
      ops: [{ op: 'repeat', times, body: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1MiB' }, { op: 'drain', pipe: 'p' }] }],
    },
    'x',
  )
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('; '))
  return r.scenario
}

describe('the model off the event loop', () => {
  const env = defaultEnv('tmpfs', 4096)

  it('predicts what the model predicts on the calling thread', async () => {
    const s = scenario(4)
    expect(await predictOffThread(s, env)).toEqual(JSON.parse(JSON.stringify(predictAll(s, env))))
  })

  it('keeps the event loop free while it works, and stops at its deadline with a clear error', async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    // A file past the closed form's state bound (~10 000 pages): the repeat is iterated, for seconds.
    const err = await predictOffThread(scenario(30_000, '1GiB'), env, { timeoutMs: 300 }).catch((e: unknown) => e)
    clearInterval(timer)
    expect(err).toBeInstanceOf(ModelError)
    expect((err as ModelError).code).toBe('timeout')
    expect((err as ModelError).message).toMatch(/did not finish within 0.3 s/)
    expect(ticks).toBeGreaterThan(10)
  })

  it('is cancelled by its signal', async () => {
    const abort = new AbortController()
    const p = predictOffThread(scenario(30_000), env, { signal: abort.signal })
    setTimeout(() => abort.abort(), 100)
    const t0 = Date.now()
    expect(((await p.catch((e: unknown) => e)) as ModelError).code).toBe('cancelled')
    expect(Date.now() - t0).toBeLessThan(2000)
  })

  it('ends with a clear error when its heap budget is too small', async () => {
    // Every page of a 1 GiB file is model state: far more than 32 MB.
    const err = (await predictOffThread(scenario(1, '1GiB'), env, { heapMb: 32 }).catch((e: unknown) => e)) as ModelError
    expect(err.code).toBe('memory')
    expect(err.message).toMatch(/more than its 32 MB heap/)
  })
})
