// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBridge } from '../api'
import { testBridge } from '../testBridge'
import { useRunsStore } from './runs'
import { emptyLiveCounts } from '../../../shared/vocabulary'

describe('runs store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('follows only its own run: phases, trace buckets, then failure from an error log', async () => {
    const t = testBridge({ startRun: () => ({ ok: true, value: { runId: 'r1' } }) })
    setBridge(t.bridge)
    const runs = useRunsStore()
    await runs.start('l1', 'name: x', '<editor>')
    expect(runs.status).toBe('starting')
    t.emit('onRunEvent', { type: 'phase', runId: 'r1', phase: 'probe', message: 'running the probe' })
    t.emit('onRunEvent', { type: 'trace', runId: 'r2', buckets: [{ t: 0, counts: { shared: 5 } }], lost: 0 })
    t.emit('onRunEvent', { type: 'trace', runId: 'r1', buckets: [{ t: 0, counts: { shared: 1 } }, { t: 100, counts: { shared: 2, bytes: 4096 } }], lost: 3 })
    expect(runs.status).toBe('running')
    expect(runs.series.totals.shared).toBe(3)
    expect(runs.series.points.shared.map((p) => p.y)).toEqual([1, 3])
    expect(runs.series.lost).toBe(3)
    t.emit('onRunEvent', { type: 'log', runId: 'r1', level: 'error', message: 'cc: not found' })
    expect(runs.status).toBe('failed')
    expect(runs.error).toBe('cc: not found')
  })

  it('keeps how the series are counted and the per-op series the tracer streams, the latest per op', async () => {
    const t = testBridge({ startRun: () => ({ ok: true, value: { runId: 'r1' } }) })
    setBridge(t.bridge)
    const runs = useRunsStore()
    await runs.start('l1', 'name: x', '<editor>')
    t.emit('onRunEvent', { type: 'phase', runId: 'r1', phase: 'probe', message: 'running the probe' })
    const c = (stolen: number) => ({ ...emptyLiveCounts(), stolen })
    t.emit('onRunEvent', { type: 'trace', runId: 'r1', buckets: [{ t: 0, counts: c(100) }], lost: 0, counting: 'measured', perOp: { 'ops[0]': c(100) } })
    t.emit('onRunEvent', { type: 'trace', runId: 'r1', buckets: [{ t: 100, counts: c(156) }], lost: 0, counting: 'measured', perOp: { 'ops[0]': c(256), 'ops[1]': c(0) } })
    expect(runs.series.counting).toBe('measured')
    expect(runs.series.totals.stolen).toBe(256)
    expect([...runs.livePerOp.entries()].map(([k, v]) => [k, v.stolen])).toEqual([['ops[0]', 256], ['ops[1]', 0]])
  })

  it('reports a refused start as a failure with the core’s message', async () => {
    setBridge(testBridge({ startRun: () => ({ ok: false, error: { code: 'not-connected', message: 'connect "box" first' } }) }).bridge)
    const runs = useRunsStore()
    await runs.start('l1', 'x', '<editor>')
    expect(runs.status).toBe('failed')
    expect(runs.error).toBe('connect "box" first')
  })

  it('cancels through the API and waits for the core to confirm', async () => {
    const t = testBridge({ startRun: () => ({ ok: true, value: { runId: 'r1' } }), cancelRun: () => ({ ok: true, value: null }) })
    setBridge(t.bridge)
    const runs = useRunsStore()
    await runs.start('l1', 'x', '<editor>')
    await runs.cancel()
    expect(t.calls.at(-1)).toEqual({ method: 'cancelRun', input: { runId: 'r1' } })
    expect(runs.status).toBe('cancelling')
  })

  it('keeps events that arrive before startRun answers, and replays them for its run', async () => {
    let emit: ((e: string, p: unknown) => void) | null = null
    const t = testBridge({
      startRun: () => {
        // The core starts emitting before the response reaches the page.
        emit!('onRunEvent', { type: 'phase', runId: 'r9', phase: 'preflight', message: 'checking local' })
        return { ok: true, value: { runId: 'r9' } }
      },
    })
    emit = t.emit
    setBridge(t.bridge)
    const runs = useRunsStore()
    await runs.start('l1', 'x', '<editor>')
    expect(runs.phase).toBe('preflight')
    expect(runs.status).toBe('running')
  })
})
