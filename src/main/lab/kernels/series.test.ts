import { describe, it, expect } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseSeries, readSeries, SeriesError } from './series'
import { resourcePath } from '../resources'

describe('patch series', () => {
  it('reads patch names in order, with comments, blank lines and -pN', () => {
    expect(parseSeries('# the fix\n0001-a.patch\n\n0002-b.patch -p0  # trailing comment\n')).toEqual([
      { file: '0001-a.patch', strip: 1 },
      { file: '0002-b.patch', strip: 0 },
    ])
  })

  it('refuses paths, unknown options and duplicates, naming the line', () => {
    expect(() => parseSeries('ok.patch\n../x.patch\n')).toThrow(/series line 2: "..\/x.patch" must be a file name/)
    expect(() => parseSeries('a.patch --fuzz=3\n')).toThrow(/series line 1: unknown option "--fuzz=3"/)
    expect(() => parseSeries('a.patch\na.patch\n')).toThrow(/series line 2: "a.patch" is listed twice/)
  })

  it('hashes each patch, so that changing one changes the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'splice-lab-series-'))
    try {
      writeFileSync(join(dir, 'series'), 'one.patch\ntwo.patch\n')
      writeFileSync(join(dir, 'one.patch'), 'a')
      writeFileSync(join(dir, 'two.patch'), 'b')
      const first = await readSeries(dir)
      expect(first.label).toBe(dir.split('/').pop())
      expect(first.patches.map((p) => p.file)).toEqual(['one.patch', 'two.patch'])
      expect(first.patches[0]!.sha256).toBe('ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb')
      writeFileSync(join(dir, 'two.patch'), 'c')
      expect((await readSeries(dir)).patches[1]!.sha256).not.toBe(first.patches[1]!.sha256)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says which patch the directory lacks, and when there is no series file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'splice-lab-series-'))
    try {
      await expect(readSeries(dir)).rejects.toThrow(/has no readable series file/)
      writeFileSync(join(dir, 'series'), 'gone.patch\n')
      await expect(readSeries(dir)).rejects.toThrow(SeriesError)
      await expect(readSeries(dir)).rejects.toThrow(/names gone.patch, which is not in/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reads the repo's own steal-or-copy series", async () => {
    const s = await readSeries(resourcePath('kernel/steal-or-copy'))
    expect(s.patches.length).toBeGreaterThan(3)
    for (const p of s.patches) expect(p.file).toMatch(/^\d{4}-.*\.patch$/)
  })
})
