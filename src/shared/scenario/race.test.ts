import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { parseScenarioText, validateScenario } from './validate'

const base = { name: 's', files: [{ id: 'f', size: '16p', cached: false }, { id: 'g', size: '4p' }], buffers: [{ id: 'b', size: '1p' }], pipes: [{ id: 'p' }] }
const splice = (len: string | number = '4p', file = 'f') => ({ op: 'splice', from: { file, offset: '4p' }, to: { pipe: 'p' }, len })
const punch = (len: string | number = '4p', file = 'f') => ({ op: 'punch_hole', file, offset: '4p', len })
const problems = (ops: unknown[]): string[] => {
  const r = validateScenario({ ...base, ops }, 'x')
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)
}

describe('races in the scenario format', () => {
  it('takes a splice from a file racing a punch, zero range or write of that file', () => {
    expect(problems([{ op: 'race', ops: [splice(), punch()] }, { op: 'drain', pipe: 'p' }])).toEqual([])
    expect(problems([{ op: 'race', ops: [splice(), { op: 'zero_range', file: 'f', offset: 0, len: '1p' }] }])).toEqual([])
    expect(problems([{ op: 'race', ops: [splice(), { op: 'pwrite', file: 'f', offset: '5p', len: 100 }] }])).toEqual([])
  })

  it('accepts the Whitlock preset', () => {
    const text = readFileSync(new URL('../../../resources/scenarios/whitlock-punch-race.yaml', import.meta.url), 'utf8')
    const r = parseScenarioText(text, 'whitlock-punch-race.yaml')
    expect(r.ok).toBe(true)
    if (r.ok) expect(r.scenario.runs).toBeGreaterThan(1)
  })

  it('runs exactly two ops', () => {
    expect(problems([{ op: 'race', ops: [splice()] }])[0]).toMatch(/^ops\[0\]\.ops/)
    expect(problems([{ op: 'race', ops: [splice(), punch(), punch()] }])[0]).toMatch(/^ops\[0\]\.ops: 3 ops; a race runs exactly 2/)
  })

  it('names the op kinds that may not race, and where', () => {
    expect(problems([{ op: 'race', ops: [punch(), splice()] }])).toContain("ops[0].ops[0]: a race's first op must be a splice from a file into a pipe (splice), got punch_hole")
    expect(problems([{ op: 'race', ops: [splice(), { op: 'truncate', file: 'f', size: 0 }] }])).toContain(
      "ops[0].ops[1].op: a race's second op changes the file the splice reads: one of punch_hole, zero_range, pwrite, got truncate",
    )
    expect(problems([{ op: 'race', ops: [splice(), { op: 'buf_store', buffer: 'b', offset: 0, len: 10 }] }])[0]).toMatch(/^ops\[0\]\.ops\[1\]\.op: /)
    // nested groups are not leaf ops
    expect(problems([{ op: 'race', ops: [splice(), { op: 'repeat', times: 2, body: [punch()] }] }])[0]).toMatch(/^ops\[0\]\.ops\[1\]/)
    expect(problems([{ op: 'repeat', times: 2, body: [{ op: 'race', ops: [splice(), punch()] }] }])[0]).toMatch(/^ops\[0\]\.body\[0\]/)
  })

  it('checks the references of both ops, and that they are about one file', () => {
    expect(problems([{ op: 'race', ops: [splice(), punch('4p', 'nope')] }])).toContain('ops[0].ops[1].file: no file "nope"; declared files: f, g')
    expect(problems([{ op: 'race', ops: [{ ...splice(), to: { pipe: 'q' } }, punch()] }])).toContain('ops[0].ops[0].to.pipe: no pipe "q"; declared pipes: p')
    expect(problems([{ op: 'race', ops: [splice(), punch('1p', 'g')] }])).toContain('ops[0].ops[1].file: the racing op must change the file the splice reads ("f"), got "g"')
  })

  it('bounds the pages both touch (the model allows each either way: 2^n worlds)', () => {
    expect(problems([{ op: 'race', ops: [splice('8p'), punch('8p')] }])).toEqual([])
    expect(problems([{ op: 'race', ops: [splice('9p'), punch('9p')] }])).toEqual([expect.stringMatching(/^ops: the races overlap 9 pages .*at most 8/)])
    // a page partly covered counts
    expect(problems([{ op: 'race', ops: [splice('8p'), { op: 'punch_hole', file: 'f', offset: 100, len: '8p' }] }])).toEqual([])
    expect(problems([{ op: 'race', ops: [splice('8p+100'), punch('9p')] }])).toEqual([expect.stringMatching(/overlap 9 pages/)])
    expect(problems([{ op: 'race', ops: [splice('4p'), punch('4p')] }, { op: 'race', ops: [splice('5p'), punch('5p')] }])).toEqual([expect.stringMatching(/overlap 9 pages/)])
  })
})
