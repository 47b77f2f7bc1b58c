import { describe, expect, it } from 'vitest'
import { planRun, expectedOps } from './plan'
import { validateScenario, type Scenario } from '../scenario'

function scenario(value: unknown): Scenario {
  const r = validateScenario(value, 'test')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

const s = scenario({
  name: 'plan-test',
  files: [{ id: 'data', size: '2p' }],
  buffers: [{ id: 'b', size: '1p' }],
  pipes: [{ id: 'p' }],
  ops: [
    { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
    { op: 'repeat', times: 3, body: [{ op: 'buf_store', buffer: 'b', offset: 0, len: 1 }, { op: 'pwrite', file: 'data', offset: 0, len: 10 }] },
    { op: 'drain', pipe: 'p' },
  ],
})

describe('planRun', () => {
  it('predicts for the target: its page size and kernel reach the model environment', () => {
    const plan = planRun({ scenario: s, fs: 'ext4', facts: { pageSize: 4096, kernel: '6.1.0-13-amd64' } })
    expect(plan.env).toMatchObject({ fs: 'ext4', pageSize: 4096, kernel: '6.1.0-13-amd64' })
    expect(plan.predictions.stock.env.kernel).toBe('6.1.0-13-amd64')
    expect(plan.predictions.stock.ops.map((o) => o.path)).toEqual(plan.expectedOps.map((o) => o.path))
    expect(plan.program.split('\n')[0]).toBe('splicelab-program 1')
  })

  it('expects each op once, a repeat body op once per body position', () => {
    expect(expectedOps(s)).toEqual([
      { path: 'ops[0]', op: 'splice' },
      { path: 'ops[1].body[0]', op: 'buf_store' },
      { path: 'ops[1].body[1]', op: 'pwrite' },
      { path: 'ops[2]', op: 'drain' },
    ])
  })

  it('reads the probe line by line and compares what it observed', () => {
    const plan = planRun({ scenario: s, fs: 'tmpfs', facts: { pageSize: 4096, kernel: '6.18' } })
    const reader = plan.reader()
    expect(reader.pushLine('a compiler warning')).toBeNull()
    const op = reader.pushLine(JSON.stringify({ type: 'op', path: 'ops[0]', op: 'splice', iterations: 1, outcome: { ret: 4096, errno: null }, ns: 10, stats: null, hw: null }))
    expect(op).toEqual({ path: 'ops[0]', op: 'splice', iterations: 1, outcome: { ret: 4096, errno: null }, ns: 10, stats: null, hw: null })
    expect(reader.log).toEqual(['a compiler warning'])
    const observation = reader.finish('the probe was stopped')
    expect(observation.incomplete?.reason).toBe('the probe was stopped')
    const comparison = plan.finish(observation)
    expect(comparison.ops.map((o) => o.byPolicy.stock.agreement)).toEqual(['agree'])
    expect(comparison.verdict.summary).toMatch(/^the run did not finish \(the probe was stopped\)/)
  })
})
