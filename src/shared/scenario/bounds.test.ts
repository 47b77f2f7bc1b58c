import { describe, expect, it } from 'vitest'
import { parseScenarioText, validateScenario } from './validate'
import { SCENARIO_LIMITS as L } from './limits'
import { textProblem } from './bounds'

const problems = (text: string): string[] => {
  const r = parseScenarioText(text, 's.yaml')
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)
}
const oneFile = (size: string | number, ops = '[{ op: drain, pipe: p }]'): string => `name: b\nfiles: [{ id: f, size: ${JSON.stringify(size)} }]\npipes: [{ id: p }]\nops: ${ops}`

describe('scenario bounds', () => {
  it('refuses a file of 2^53-1 bytes and one of "99999999999999999999GiB", naming the field', () => {
    expect(problems(oneFile(2 ** 53 - 1))[0]).toMatch(/^files\[0\]\.size: 9007199254740991 bytes is more than the 1 GiB/)
    expect(problems(oneFile('99999999999999999999GiB'))).toEqual(['files[0].size: "99999999999999999999GiB" is too large to be a size'])
  })

  it('accepts a file of exactly the largest size and refuses one byte more', () => {
    expect(problems(oneFile('1GiB'))).toEqual([])
    expect(problems(oneFile('1GiB+1'))[0]).toMatch(/^files\[0\]\.size: 1073741825 bytes/)
  })

  it('refuses a repeat past maxTimes and a scenario past the simulated work', () => {
    expect(problems(`name: b\npipes: [{ id: p }]\nops: [{ op: repeat, times: 100000000, body: [{ op: drain, pipe: p }] }]`)).toEqual([`ops[0].times: at most ${L.maxTimes} times`])
    const heavy = oneFile('1MiB', '[{ op: repeat, times: 100000, body: [{ op: splice, from: { file: f, offset: 0 }, to: { pipe: p }, len: 1MiB }] }]')
    expect(problems(heavy)[0]).toMatch(/^ops: the scenario would simulate about 25,700,256 page steps/)
  })

  it('refuses more ops, files or pipes than the probe takes before parsing each of them', () => {
    const ops = Array.from({ length: 100_000 }, () => ({ op: 'drain', pipe: 'p' }))
    const t0 = performance.now()
    const r = validateScenario({ name: 'b', pipes: [{ id: 'p' }], ops }, 'x')
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(r.ok ? [] : r.problems.map((p) => p.message)).toEqual([`100000 ops; the probe takes at most ${L.maxOps}`])
    const files = Array.from({ length: 65 }, (_, i) => ({ id: `f${i}`, size: 1 }))
    expect(validateScenario({ name: 'b', files, pipes: [{ id: 'p' }], ops: [{ op: 'drain', pipe: 'p' }] }, 'x').ok).toBe(false)
  })

  it('refuses a range that ends past the addressable bytes', () => {
    expect(problems(oneFile(4096, '[{ op: pwrite, file: f, offset: 1GiB, len: 4096 }]'))[0]).toMatch(/^ops\[0\]\.len: the range ends at byte 1073745920/)
  })

  it('measures nesting on the text, so 10,000 brackets are refused without the parser (which would abort the process)', () => {
    expect(problems('['.repeat(10_000) + ']'.repeat(10_000))).toEqual([`: collections nested deeper than ${L.maxDepth} levels at line 1; a scenario needs about 5`])
    const block = Array.from({ length: 40 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')
    expect(textProblem(block)?.message).toMatch(/nested deeper than 32 levels at line 33/)
    expect(textProblem('- '.repeat(40) + 'x')?.message).toMatch(/nested deeper/)
  })

  it('does not count brackets inside quoted strings or comments', () => {
    expect(textProblem(`name: x # ${'['.repeat(100)}\ntitle: "${'['.repeat(100)}"\ndescription: '${'{'.repeat(100)}'`)).toBeNull()
  })

  it('refuses text longer than the API accepts', () => {
    expect(textProblem('#'.repeat(L.maxTextChars + 1))?.message).toMatch(/at most 1000000 are accepted/)
  })
})
