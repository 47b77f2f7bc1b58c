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
    const w = mount(ScenarioEditor, { props: { modelValue: bad, problems }, attachTo: document.body })
    const item = w.find('.problem')
    expect(item.text()).toContain('line 5')
    expect(item.text()).toContain('ops[0].pipe')
    expect(item.text()).toContain('no pipe "q"')
    expect(w.find('.editor').classes()).toContain('invalid')
    // The editor holds the text (CodeMirror's lines) and says what it is.
    expect(w.find('.cm-content').attributes('aria-label')).toBe('Scenario (YAML)')
    expect(w.findAll('.cm-line').length).toBe(bad.split('\n').length)
  })

  it('shows nothing when the scenario is valid', () => {
    const w = mount(ScenarioEditor, { props: { modelValue: 'name: x', problems: [] } })
    expect(w.findAll('.problem')).toHaveLength(0)
  })
})
