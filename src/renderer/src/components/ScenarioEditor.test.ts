// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import ScenarioEditor from './ScenarioEditor.vue'
import { parseScenarioText } from '../../../shared/scenario'

const bad = `name: x
pipes:
  - { id: p }
ops:
  - { op: drain, pipe: q }
`

describe('ScenarioEditor', () => {
  it('shows each problem inline with its line, field path and message, and marks the line', () => {
    const r = parseScenarioText(bad, '<editor>')
    expect(r.ok).toBe(false)
    const problems = r.ok ? [] : r.problems
    const w = mount(ScenarioEditor, { props: { modelValue: bad, problems } })
    const item = w.find('.problem')
    expect(item.text()).toContain('line 5')
    expect(item.text()).toContain('ops[0].pipe')
    expect(item.text()).toContain('no pipe "q"')
    expect(w.findAll('.gutter .bad').map((g) => g.text())).toEqual(['5'])
    expect(w.find('textarea').attributes('aria-invalid')).toBe('true')
  })

  it('shows nothing when the scenario is valid', () => {
    const w = mount(ScenarioEditor, { props: { modelValue: 'name: x', problems: [] } })
    expect(w.findAll('.problem')).toHaveLength(0)
  })
})
