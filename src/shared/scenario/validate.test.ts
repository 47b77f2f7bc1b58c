import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { parseScenarioText } from './validate'

const preset = readFileSync(new URL('../../../resources/scenarios/write-after-splice.yaml', import.meta.url), 'utf8')

describe('scenario validation', () => {
  it('accepts the write-after-splice preset and fills defaults', () => {
    const r = parseScenarioText(preset, 'preset')
    expect(r.ok).toBe(true)
    if (r.ok) expect(r.scenario.files[0]!.layout).toBe('per_page')
  })
  it('names the field path and line of a bad length', () => {
    const r = parseScenarioText(preset.replace('len: 1p', 'len: lots'), 'x.yaml')
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.problems[0]!.path).toBe('ops[0].len')
      expect(r.problems[0]!.line).toBeGreaterThan(1)
    }
  })
  it('names an unknown file reference', () => {
    const r = parseScenarioText(preset.replace('file: data, offset: 100', 'file: nope, offset: 100'), 'x.yaml')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problems.map((p) => p.path)).toContain('ops[1].file')
  })
})
