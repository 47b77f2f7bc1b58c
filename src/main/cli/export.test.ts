import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { runExport, recordPath } from './export'
import { saveRunRecord, saveRunTrace } from '../lab/records'
import { TraceAggregator } from '../../shared/trace/aggregate'
import { TraceStreamParser } from '../../shared/trace/parser'
import { tinyRecord } from '../../../test/fixtures/tiny-run'
import type { TraceFormatFile } from '../../shared/trace/export'

const scratch = mkdtempSync(join(tmpdir(), 'export-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
const corpus = readFileSync(new URL('../../../test/fixtures/trace/splice-tmpfs.txt', import.meta.url), 'utf8')

let err: string[]
beforeEach(() => {
  err = []
  vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)))
})
afterEach(() => vi.restoreAllMocks())

/** A saved traced run: the record with its series, and the raw trace beside it. */
async function savedRun(): Promise<string> {
  const agg = new TraceAggregator(4096)
  const p = new TraceStreamParser((r) => agg.push(r))
  p.push(corpus)
  p.end()
  const record = tinyRecord({ id: 'traced', read: 8192, traceMarker: true, trace: { instance: 'splice-lab-1-ab', events: agg.events, lost: 0, perOp: agg.perOp, buckets: agg.takeBuckets(true), t0: agg.start!, raw: { chars: corpus.length, droppedChars: 0 } } })
  const path = await saveRunRecord(record, scratch)
  await saveRunTrace(record.id, corpus, scratch)
  return path
}

describe('splice-lab export', () => {
  it('writes a Perfetto trace with the saved raw events and series', async () => {
    const out = join(scratch, 'traced.perfetto.json')
    expect(await runExport(await savedRun(), { format: 'perfetto', out })).toBe(0)
    const file = JSON.parse(readFileSync(out, 'utf8')) as TraceFormatFile
    expect(file.traceEvents.filter((e) => e.ph === 'X').map((e) => e.args?.timing)).toEqual(['trace markers'])
    expect(file.traceEvents.filter((e) => e.ph === 'i' && e.name.endsWith('_splice'))).toHaveLength(2)
    expect(file.traceEvents.filter((e) => e.ph === 'C' && e.name.startsWith('bytes')).reduce((n, e) => n + Number(e.args!.bytes), 0)).toBe(8192)
    expect(err.join('\n')).toContain('traced.json → ')
  })

  it('writes the series as CSV', async () => {
    const out = join(scratch, 'traced.csv')
    expect(await runExport(await savedRun(), { format: 'series-csv', out })).toBe(0)
    const [about, ...rows] = readFileSync(out, 'utf8').trim().split('\n')
    expect(about).toMatch(/^# splice-lab run traced \(\S+\): target \S+, kernel \S+ \S+, fs \w+$/)
    expect(rows[0]).toBe('t_ms,shared,stolen,copied,reloads,bytes,bytesCopied')
    expect(rows.slice(1).reduce((n, r) => n + Number(r.split(',')[5]), 0)).toBe(8192)
  })

  it('says which run it could not find, and refuses a path that is not a record or an id', async () => {
    expect(await runExport(join(scratch, 'missing.json'), { format: 'perfetto' })).toBe(1)
    expect(err.join('\n')).toContain(`no run record at ${join(scratch, 'missing.json')}`)
    expect(() => recordPath('../../etc/passwd')).toThrow(/neither a record file/)
  })
})
