import { describe, expect, it } from 'vitest'
import { parseScenarioText } from '../../../shared/scenario'
import { editorProblems } from './problems'
import { offer } from './complete'

const problemsOf = (text: string) => {
  const r = parseScenarioText(text, '<editor>')
  return editorProblems(r.ok ? [] : r.problems, text)
}

describe('editor problems', () => {
  it('says an unknown op in words, with the nearest name and the choices', () => {
    const p = problemsOf('name: x\npipes:\n  - { id: p }\nops:\n  - { op: drian, pipe: p }\n')
    expect(p).toHaveLength(1)
    expect(p[0]).toMatchObject({ line: 5, path: 'ops[0].op' })
    expect(p[0]!.message).toMatch(/^unknown op 'drian' \(did you mean 'drain'\?\) — expected one of splice, vmsplice, tee, /)
  })

  it('shows one YAML slip once, at its line, without a dangling "column N:"', () => {
    const p = problemsOf('name: x\npipes:\n  - id: p\n   bad: [1\nops:\n  - op: drain\n    pipe: p\n')
    expect(p).toHaveLength(1)
    expect(p[0]!.line).toBe(4)
    expect(p[0]!.message).toMatch(/^YAML: .+ \(column \d+\)$/)
  })

  it('keeps several real problems in the order of the text', () => {
    const p = problemsOf('name: x\npipes:\n  - { id: p }\nops:\n  - { op: drain, pipe: q }\n  - { op: drain, pipe: r }\n')
    expect(p.map((x) => x.line)).toEqual([5, 6])
  })
})

describe('editor completion', () => {
  const doc = ['name: demo', 'pipes:', '  - id: p', 'ops:', '  - op: spl', '  - op: drain', '    ', 'f']
  it('offers op kinds after "op:"', () => {
    const o = offer(doc, 4, doc[4]!.length)!
    expect(o.from).toBe('  - op: '.length)
    expect(o.options.map((x) => x.label)).toContain('splice')
  })
  it('offers the keys of the op being written, not those it has', () => {
    const o = offer(doc, 6, 4)!
    const labels = o.options.map((x) => x.label)
    expect(labels).toContain('pipe: ')
    expect(labels).toContain('len: ')
    expect(labels).not.toContain('op: ')
  })
  it('offers top-level keys not yet used', () => {
    const labels = offer(doc, 7, 1)!.options.map((x) => x.label)
    expect(labels).toContain('files: ')
    expect(labels).not.toContain('pipes: ')
  })
  it('offers an op’s keys inside a flow mapping', () => {
    const line = '  - { op: pwrite, fi'
    const labels = offer([line], 0, line.length)!.options.map((x) => x.label)
    expect(labels).toContain('file: ')
    expect(labels).not.toContain('op: ')
  })
})
