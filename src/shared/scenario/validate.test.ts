import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { parseScenarioText, validateScenario } from './validate'

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

describe('scenario format additions', () => {
  const base = { name: 's', files: [{ id: 'f', size: '2p' }], pipes: [{ id: 'p' }] }
  const problems = (input: unknown): string[] => {
    const r = validateScenario(input, 'x')
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)
  }

  it('takes close of a declared pipe end and names a bad end or an unknown pipe', () => {
    expect(problems({ ...base, ops: [{ op: 'close', pipe: 'p', end: 'write' }] })).toEqual([])
    expect(problems({ ...base, ops: [{ op: 'close', pipe: 'p', end: 'both' }] })).toEqual([expect.stringMatching(/^ops\[0\]\.end: /)])
    expect(problems({ ...base, ops: [{ op: 'close', pipe: 'p' }] })).toEqual([expect.stringMatching(/^ops\[0\]\.end: /)])
    expect(problems({ ...base, ops: [{ op: 'close', pipe: 'nope', end: 'read' }] })).toEqual(['ops[0].pipe: no pipe "nope"; declared pipes: p'])
  })

  it('defaults zero_range to changing the size and mmap to no faults, and refuses other values', () => {
    const r = validateScenario({ ...base, ops: [{ op: 'zero_range', file: 'f', offset: 0, len: '3p' }, { op: 'mmap', file: 'f' }] }, 'x')
    expect(r.ok && r.scenario.ops).toEqual([
      { op: 'zero_range', file: 'f', offset: 0, len: '3p', keep_size: false },
      { op: 'mmap', file: 'f', fault: 'none' },
    ])
    expect(problems({ ...base, ops: [{ op: 'zero_range', file: 'f', offset: 0, len: 1, keep_size: 'yes' }] })).toEqual([expect.stringMatching(/^ops\[0\]\.keep_size: /)])
    expect(problems({ ...base, ops: [{ op: 'mmap', file: 'f', fault: 'write' }] })).toEqual([expect.stringMatching(/^ops\[0\]\.fault: /)])
  })

  it('takes mount options per filesystem and names the field of a bad one', () => {
    const ops = [{ op: 'drain', pipe: 'p' }]
    const r = validateScenario({ ...base, ops, mount: { ext4: { block_size: 1024 }, btrfs: { nodatasum: true } } }, 'x')
    expect(r.ok && r.scenario.mount).toEqual({ ext4: { block_size: 1024 }, btrfs: { nodatasum: true } })
    const plain = validateScenario({ ...base, ops }, 'x')
    expect(plain.ok && plain.scenario.mount).toEqual({})
    expect(problems({ ...base, ops, mount: { ext4: { block_size: 3000 } } })).toEqual([expect.stringMatching(/^mount\.ext4\.block_size: /)])
    expect(problems({ ...base, ops, mount: { btrfs: { compress: 'zstd' } } })).toEqual([expect.stringMatching(/^mount\.btrfs: .*compress/)])
    expect(problems({ ...base, ops, mount: { zfs: {} } })).toEqual([expect.stringMatching(/^mount: .*zfs/)])
  })
})
