import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadSide } from './compare'
import { RunRecords } from '../lab/records'
import { tinyRecord } from '../../../test/fixtures/tiny-run'

describe('splice-lab compare: its sides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'splice-lab-compare-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const records = new RunRecords(dir)

  it('reads a run id, a record file and a batch file', async () => {
    await records.save(tinyRecord({ id: 'r1' }))
    expect((await loadSide('r1', records)).map((r) => r.id)).toEqual(['r1'])
    expect((await loadSide(join(dir, 'r1.json'), records)).map((r) => r.id)).toEqual(['r1'])
    const batch = join(dir, 'batch.json')
    writeFileSync(batch, JSON.stringify([tinyRecord({ id: 'b1' }), { ...tinyRecord({ id: 'b2' }), expect: { file: 'x', differences: [] } }]))
    expect((await loadSide(batch, records)).map((r) => r.id)).toEqual(['b1', 'b2'])
  })

  it('takes every saved run of a kernel', async () => {
    await records.save({ ...tinyRecord({ id: 'k1' }), target: { ...tinyRecord().target, kernel: '6.1.192' } })
    expect((await loadSide('kernel:6.1.192', records)).map((r) => r.id)).toEqual(['k1'])
    await expect(loadSide('kernel:5.4', records)).rejects.toThrow('kernel:5.4: no saved run on kernel "5.4" (saved kernels: ')
  })

  it('names what it could not read', async () => {
    await expect(loadSide('nope', records)).rejects.toThrow('no run record nope')
    await expect(loadSide(join(dir, 'missing.json'), records)).rejects.toThrow('missing.json: no such file')
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify([tinyRecord({ id: 'b1' }), { ...tinyRecord(), fs: 'zfs' }]))
    await expect(loadSide(bad, records)).rejects.toThrow(/bad\.json \[1\]: not a run record .*fs/)
  })
})
