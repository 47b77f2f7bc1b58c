import { describe, expect, it } from 'vitest'
import { validateScenario, type Scenario, type ScenarioInput } from '../scenario'
import { defaultEnv, predict, simulatedPageEvents } from '.'

function scenario(input: ScenarioInput): Scenario {
  const r = validateScenario(input, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

const pages = (n: number): Scenario =>
  scenario({
    name: 'splice-drain',
    files: [{ id: 'f', size: `${n}p` }],
    pipes: [{ id: 'p', size: `${n}p` }],
    ops: [
      { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: `${n}p` },
      { op: 'drain', pipe: 'p' },
    ],
  })

describe("the model's work, beside the prediction", () => {
  it('counts page-granular steps for the benchmark without putting them in the prediction', () => {
    const small = predict(pages(4), 'stock', defaultEnv('tmpfs'))
    const large = predict(pages(64), 'stock', defaultEnv('tmpfs'))
    expect(Object.keys(small)).not.toContain('pageEvents')
    expect(simulatedPageEvents(small)).toBeGreaterThan(0)
    // Sixteen times the pages, sixteen times the steps.
    expect(simulatedPageEvents(large)).toBe(16 * simulatedPageEvents(small)!)
  })

  it('is known only for a prediction simulate() made here, not for a copy of it (a worker sends copies)', () => {
    const p = predict(pages(4), 'copy', defaultEnv('ext4'))
    expect(simulatedPageEvents(p)).toBeGreaterThan(0)
    expect(simulatedPageEvents(structuredClone(p))).toBeUndefined()
  })
})
