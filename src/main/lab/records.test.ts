import { describe, it, expect } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { saveRunRecord, loadRunRecord, listRunRecords, RecordError } from './records'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import type { RunRecord } from '../../shared/run/types'

const record = (id: string): RunRecord => tinyRecord({ id, startedAt: `2026-01-01T00:00:0${id.length % 10}Z` })

describe('run records', () => {
  it('save and load round-trip, and the list names files that are not records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'splice-lab-rec-'))
    try {
      const path = await saveRunRecord(record('a1'), dir)
      expect(await loadRunRecord(path)).toEqual(record('a1'))
      writeFileSync(join(dir, 'junk.json'), '{"version":1,"id":"x"}')
      writeFileSync(join(dir, 'broken.json'), '{')
      const listed = await listRunRecords(dir)
      expect(listed.filter((l) => l.record).map((l) => l.record!.id)).toEqual(['a1'])
      const problems = listed.filter((l) => l.problem).map((l) => l.problem!)
      expect(problems.some((p) => p.includes('broken.json: not JSON'))).toBe(true)
      expect(problems.some((p) => p.includes('junk.json: not a run record of version 1'))).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('names the wrong field of a damaged record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'splice-lab-rec-'))
    try {
      const bad = record('b2') as unknown as { comparison: { verdict: { behavesLike: string } } }
      bad.comparison.verdict.behavesLike = 'magic'
      writeFileSync(join(dir, 'b2.json'), JSON.stringify(bad))
      const err = await loadRunRecord(join(dir, 'b2.json')).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(RecordError)
      expect((err as Error).message).toContain('comparison.verdict.behavesLike')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
