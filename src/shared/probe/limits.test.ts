import { describe, expect, it } from 'vitest'
import { validateScenario, type Scenario, type ScenarioInput } from '../scenario'
import { compiledOpCount, PROBE_LIMITS } from './limits'
import { compileProgram, ProgramError } from './program'

function scenario(input: ScenarioInput): Scenario {
  const r = validateScenario(input, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

const drain = { op: 'drain', pipe: 'p' } as const

describe('probe limits', () => {
  it('count a repeat line and each op of its body as compiled op lines', () => {
    expect(compiledOpCount([drain, { op: 'repeat', body: [drain, drain] }, drain])).toBe(5)
  })

  it('compile a program of exactly maxOps op lines', () => {
    const s = scenario({ name: 'full', pipes: [{ id: 'p' }], ops: [{ op: 'repeat', times: 2, body: Array(PROBE_LIMITS.maxOps - 1).fill(drain) }] })
    const text = compileProgram(s, { pageSize: 4096 })
    expect(text.split('\n').filter((l) => l.startsWith('op ') || l.startsWith('repeat ')).length).toBe(PROBE_LIMITS.maxOps)
  })

  it('refuse one op line more than the probe takes: validation first, naming the field, and compileProgram too', () => {
    const input: ScenarioInput = { name: 'over', pipes: [{ id: 'p' }], ops: [drain, { op: 'repeat', times: 2, body: Array(PROBE_LIMITS.maxOps - 1).fill(drain) }] }
    const r = validateScenario(input, '<test>')
    expect(r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([expect.stringMatching(/^ops: 4097 op lines/)])
    // A scenario that never went through validation (built in code) is still refused at compile time.
    const s = scenario({ ...input, ops: input.ops.slice(1) })
    const over = { ...s, ops: [{ op: 'drain', pipe: 'p', len: 'all' }, ...s.ops] } as Scenario
    expect(() => compileProgram(over, { pageSize: 4096 })).toThrow(ProgramError)
    expect(() => compileProgram(over, { pageSize: 4096 })).toThrow(/^ops: 4097 op lines/)
  })

  it('refuse more pipes than the probe declares room for', () => {
    const pipes = Array.from({ length: PROBE_LIMITS.maxPipes + 1 }, (_, i) => ({ id: `p${i}` }))
    const r = validateScenario({ name: 'pipes', pipes, ops: [{ op: 'drain', pipe: 'p0' }] }, '<test>')
    expect(r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(['pipes: 65 pipes; the probe takes at most 64'])
    const s = scenario({ name: 'pipes', pipes: pipes.slice(0, PROBE_LIMITS.maxPipes), ops: [{ op: 'drain', pipe: 'p0' }] })
    expect(() => compileProgram({ ...s, pipes: [...s.pipes, { id: 'extra', size: '16p' }] }, { pageSize: 4096 })).toThrow(/^pipes: 65 declared, the probe takes at most 64/)
  })
})
