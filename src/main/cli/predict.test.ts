import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { runPredict } from './predict'

const scratch = mkdtempSync(join(tmpdir(), 'predict-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

let out: string[]
let err: string[]
beforeEach(() => {
  out = []
  err = []
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)))
  vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)))
})
afterEach(() => vi.restoreAllMocks())

const opts = (o: Partial<{ policy: string; fs: string; pageSize: string; kernel: string; json: boolean }> = {}) => ({ policy: 'all', pageSize: '4096', ...o })

describe('splice-lab predict', () => {
  it('prints the three policies side by side for a preset', async () => {
    expect(await runPredict('write-after-splice', opts({ fs: 'ext4' }))).toBe(0)
    const text = out.join('\n')
    expect(text).toMatch(/stock\s+│\s+steal-or-copy\s+│\s+copy/)
    expect(text).toMatch(/ops\[2\] drain\s+│ read 4096, 200 CHANGED \(100–299 current\)\s+│ read 4096, unchanged/)
    expect(text).toMatch(/steal-or-copy changed 0 B · shared 0 · stolen 1/)
  })

  it('prints JSON predictions for scripts', async () => {
    expect(await runPredict('punch-hole-large-folio', opts({ fs: 'xfs', policy: 'stock', json: true }))).toBe(0)
    const j = JSON.parse(out.join('\n'))
    expect(Object.keys(j.predictions)).toEqual(['stock'])
    const drain = j.predictions.stock.ops.find((o: { op: string }) => o.op === 'drain')
    expect(drain.outcomes[0].drain.changed).toEqual([{ start: 4096, end: 8192, holds: 'zero' }])
  })

  it('says which kernel the rules are for, and that a kernel without evidence is extrapolated from the nearest one', async () => {
    expect(await runPredict('write-after-splice', opts({ fs: 'ext4', kernel: '6.18.44' }))).toBe(0)
    expect(out[0]).toMatch(/kernel 6\.18\.44\)$/)
    expect(out.filter((l) => l.startsWith('note:'))).toEqual([])
    out.length = 0
    expect(await runPredict('write-after-splice', opts({ fs: 'ext4', kernel: '6.1' }))).toBe(0)
    expect(out.filter((l) => l.startsWith('note:'))).toEqual([])
    out.length = 0
    expect(await runPredict('write-after-splice', opts({ fs: 'ext4', kernel: '5.15', json: true }))).toBe(0)
    const j = JSON.parse(out.join('\n'))
    expect(j.kernel).toBe('5.15')
    expect(j.predictions.stock.env.kernel).toBe('5.15')
    expect(j.predictions.stock.notes.join()).toMatch(/kernel 5\.15: no evidence for this kernel; rules extrapolated from 6\.1 /)
    expect(await runPredict('write-after-splice', opts({ kernel: 'banana' }))).toBe(2)
    expect(err.join('\n')).toMatch(/--kernel must be a version like 6\.1 or 6\.18\.44, got "banana"/)
  })

  it('lists the presets when asked for an unknown one', async () => {
    expect(await runPredict('no-such', opts())).toBe(1)
    expect(err.join('\n')).toMatch(/presets: .*vmsplice-gift.*write-after-splice/)
  })

  it('names file, line and field of an invalid scenario', async () => {
    const f = join(scratch, 'bad.yaml')
    writeFileSync(f, 'name: bad\npipes: [{ id: p }]\nops:\n  - { op: drain, pipe: q }\n')
    expect(await runPredict(f, opts())).toBe(1)
    expect(err.join('\n')).toContain(`${f}:4: ops[0].pipe: no pipe "q"`)
  })

  it('refuses bad options with the allowed values', async () => {
    expect(await runPredict('write-after-splice', opts({ fs: 'zfs' }))).toBe(2)
    expect(await runPredict('write-after-splice', opts({ policy: 'maybe' }))).toBe(2)
    expect(await runPredict('write-after-splice', opts({ pageSize: '5000' }))).toBe(2)
    expect(err.join('\n')).toMatch(/--fs must be one of tmpfs, ext4, xfs, btrfs/)
  })
})
