/**
 * Many bad scenarios, generated: every malformed input must be refused with a problem that names the
 * field it is about, and no input may make the validator throw.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { validateScenario, parseScenarioText } from './validate'
import { OP_KINDS } from './schema'

const goodScenario = () => ({
  name: 'fuzz',
  files: [{ id: 'f', size: '4p' }],
  buffers: [{ id: 'b', size: '2p' }],
  pipes: [{ id: 'p' }, { id: 'q' }],
  ops: [
    { op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
    { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'p', gift: true },
    { op: 'tee', from: 'p', to: 'q', len: 100 },
    { op: 'mmap', file: 'f' },
    { op: 'mmap_store', file: 'f', offset: 10, len: 10 },
    { op: 'pwrite', file: 'f', offset: '1p+3', len: 5 },
    { op: 'repeat', times: 3, body: [{ op: 'drain', pipe: 'q' }] },
    { op: 'drain', pipe: 'p', len: 'all' },
  ],
})

/** A JSON path into goodScenario() and a value that is wrong there. */
const corruptions: [path: (string | number)[], bad: unknown, expectPath: string][] = [
  [['name'], '', 'name'],
  [['name'], 'has space', 'name'],
  [['files', 0, 'size'], -1, 'files[0].size'],
  [['files', 0, 'size'], '3 pages', 'files[0].size'],
  [['files', 0, 'layout'], 'sideways', 'files[0].layout'],
  [['files', 0, 'state'], true, 'files[0].state'],
  [['files', 0, 'pattern'], { fill: 0 }, 'files[0].pattern.fill'],
  [['files', 0, 'pattern'], { fill: 256 }, 'files[0].pattern.fill'],
  [['files', 0, 'colour'], 'red', 'files[0]'],
  [['buffers', 0, 'kind'], 'global', 'buffers[0].kind'],
  [['pipes'], [], 'pipes'],
  [['pipes', 0, 'size'], 'big', 'pipes[0].size'],
  [['ops'], [], 'ops'],
  [['ops', 0, 'op'], 'splise', 'ops[0].op'],
  [['ops', 0, 'len'], 1.5, 'ops[0].len'],
  [['ops', 0, 'from'], { file: 'nope', offset: 0 }, 'ops[0].from.file'],
  [['ops', 0, 'to'], { file: 'f', offset: 0 }, 'ops[0].to'],
  [['ops', 1, 'buffer'], 'missing', 'ops[1].buffer'],
  [['ops', 1, 'len'], '3p', 'ops[1].len'],
  [['ops', 1, 'gift'], 'yes', 'ops[1].gift'],
  [['ops', 2, 'to'], 'p', 'ops[2].to'],
  [['ops', 4, 'file'], 'g', 'ops[4].file'],
  [['ops', 5, 'offset'], null, 'ops[5].offset'],
  [['ops', 6, 'times'], 0, 'ops[6].times'],
  [['ops', 6, 'body'], [], 'ops[6].body'],
  [['ops', 6, 'body', 0, 'pipe'], 'zz', 'ops[6].body[0].pipe'],
  [['ops', 7, 'len'], 'most', 'ops[7].len'],
  [['runs'], 0, 'runs'],
]

function setIn(obj: unknown, path: (string | number)[], value: unknown): void {
  let cur = obj as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>
  cur[path[path.length - 1]!] = value
}

describe('bad scenarios are refused with the field named', () => {
  it('accepts the untouched base scenario', () => {
    expect(validateScenario(goodScenario(), 't')).toMatchObject({ ok: true })
  })

  it.each(corruptions)('%j = %j is reported at %s', (path, bad, expectPath) => {
    const s = goodScenario()
    setIn(s, path, bad)
    const r = validateScenario(s, 't.yaml')
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.problems.map((p) => p.path)).toContain(expectPath)
      for (const p of r.problems) expect(p.source).toBe('t.yaml')
    }
  })

  it('refuses any combination of corruptions and names at least one corrupted field', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: corruptions.length - 1 }), { minLength: 1, maxLength: 4 }), (picks) => {
        const s = goodScenario()
        // Corruptions of a container (pipes, ops) hide those below it; apply the deepest last.
        const chosen = picks.map((i) => corruptions[i]!).sort((a, b) => a[0].length - b[0].length)
        const applied: string[] = []
        for (const [path, bad, expectPath] of chosen) {
          try {
            setIn(s, path, bad)
            applied.push(expectPath)
          } catch {
            // the parent was replaced by an earlier corruption; nothing to corrupt
          }
        }
        const r = validateScenario(s, 't')
        expect(r.ok).toBe(false)
        // Shape errors come before reference checks, so not every corruption is named at once.
        if (!r.ok) expect(r.problems.some((p) => applied.some((a) => p.path === a || p.path.startsWith(a + '.') || p.path.startsWith(a + '[')))).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('never throws on arbitrary JSON values and always explains a refusal', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = validateScenario(v, 'any')
        if (!r.ok) for (const p of r.problems) expect(p.message.length).toBeGreaterThan(0)
      }),
      { numRuns: 500 },
    )
  })

  it('never throws on arbitrary text and reports YAML syntax errors with a line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const r = parseScenarioText(text, 'x.yaml')
        if (!r.ok) expect(r.problems.length).toBeGreaterThan(0)
      }),
      { numRuns: 500 },
    )
    const r = parseScenarioText('name: x\nops: [ {op: drain\n', 'broken.yaml')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problems[0]!.line).toBeGreaterThan(0)
  })

  it('fills in defaults for each op kind that has them', () => {
    expect(OP_KINDS).toContain('repeat')
    const r = validateScenario(goodScenario(), 't')
    if (!r.ok) throw new Error('base scenario invalid')
    const drain = r.scenario.ops[7]!
    expect(drain.op === 'drain' && drain.len).toBe('all')
    expect(r.scenario.pipes[0]!.size).toBe('16p')
  })
})
