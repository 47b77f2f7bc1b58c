import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { OP_KINDS, resolveSize, ScenarioError, type Op, type Scenario } from '../shared/scenario'
import { listPresets, loadPreset } from './presets'

const scratch = mkdtempSync(join(tmpdir(), 'presets-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function kindsUsed(s: Scenario): Set<string> {
  const kinds = new Set<string>()
  const visit = (op: Op): void => {
    kinds.add(op.op)
    if (op.op === 'repeat') op.body.forEach(visit)
  }
  s.ops.forEach(visit)
  return kinds
}

describe('presets', () => {
  const presets = listPresets()

  it('lists every preset with a readable title and description', () => {
    expect(presets.length).toBeGreaterThan(20)
    for (const p of presets) {
      expect(p.title, p.name).not.toMatch(/\(invalid\)$/)
      expect(p.title.length, p.name).toBeGreaterThan(3)
      expect(p.description.length, `${p.name} needs a description people can read`).toBeGreaterThan(40)
    }
  })

  it.each(presets.map((p) => [p.name, p.path] as const))('%s validates and is named after its file', (name, path) => {
    const s = loadPreset(name)
    expect(s.name).toBe(name)
    expect(basename(path)).toBe(`${name}.yaml`)
    expect(s.title).toBeTruthy()
  })

  it('cover every op kind of the scenario format', () => {
    const used = new Set<string>()
    for (const p of presets) for (const k of kindsUsed(loadPreset(p.name))) used.add(k)
    expect([...OP_KINDS].filter((k) => !used.has(k))).toEqual([])
  })

  it('keep files to a few MiB except the streaming workload', () => {
    for (const p of presets) {
      const s = loadPreset(p.name)
      const total = s.files.reduce((n, f) => n + resolveSize(f.size, 4096), 0)
      const streaming = kindsUsed(s).has('repeat')
      if (!streaming) expect(total, p.name).toBeLessThanOrEqual(4 * 1024 * 1024)
    }
  })

  it('validate with 64 KiB pages too', () => {
    for (const p of presets) expect(() => loadPreset(p.name, 65536), p.name).not.toThrow()
  })

  it('loads a scenario by path', () => {
    const f = join(scratch, 'mine.yaml')
    writeFileSync(f, 'name: mine\npipes: [{ id: p }]\nops: [{ op: drain, pipe: p }]\n')
    expect(loadPreset(f).name).toBe('mine')
  })

  it('names the presets when asked for an unknown one', () => {
    expect(() => loadPreset('no-such-preset')).toThrow(ScenarioError)
    expect(() => loadPreset('no-such-preset')).toThrow(/presets: .*write-after-splice/)
  })

  it('reports an invalid file with its path, field path and line', () => {
    const f = join(scratch, 'bad.yaml')
    writeFileSync(f, 'name: bad\npipes: [{ id: p }]\nops:\n  - { op: drain, pipe: q }\n')
    try {
      loadPreset(f)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError)
      expect((e as Error).message).toContain(`${f}:4: ops[0].pipe: no pipe "q"`)
    }
  })

  it('says so when a scenario file does not exist', () => {
    expect(() => loadPreset(join(scratch, 'missing.yaml'))).toThrow(/no such scenario file/)
  })
})
