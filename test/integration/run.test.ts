/**
 * Every preset on this machine's real kernel, through the local pty target, on tmpfs, ext4, xfs and
 * btrfs, compared with the model. The stock model must agree with the kernel on all of them: a
 * disagreement here is a finding about the model (or the kernel), never something to loosen.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectTarget, type Target } from '../../src/main/target'
import { Lab } from '../../src/main/lab/lab'
import { RunRecords, listRunRecords, loadRunRecord, loadRunTrace } from '../../src/main/lab/records'
import type { TraceFormatFile } from '../../src/shared/trace/export'
import { listPresets, loadPreset } from '../../src/main/presets'
import type { RunEvent, RunRecord } from '../../src/shared/run/types'
import { leftovers, runSkipReason } from './fixtures/lab'

const skip = runSkipReason()
const FILESYSTEMS = ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const
const presets = listPresets().map((p) => p.name)

/** The disagreements of one policy in one record, as lines people can read. */
function disagreements(r: RunRecord, policy: 'stock' | 'steal-or-copy' | 'copy'): string[] {
  return r.comparison.ops.filter((o) => o.byPolicy[policy].agreement !== 'agree').map((o) => `${o.path} ${o.op}: ${o.byPolicy[policy].agreement}: ${o.byPolicy[policy].reasons.join(' | ')}`)
}

describe.skipIf(skip !== null)(`every preset on the real kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let target: Target
  let lab: Lab
  let recordsDir: string
  const records: RunRecord[] = []

  beforeAll(async () => {
    target = await connectTarget('local')
    recordsDir = mkdtempSync(join(tmpdir(), 'splice-lab-records-'))
    lab = await Lab.open(target, { records: new RunRecords(recordsDir) })
  })
  afterAll(async () => {
    await lab?.dispose()
    rmSync(recordsDir, { recursive: true, force: true })
    expect(leftovers()).toEqual([])
  })

  it('has presets to run', () => {
    expect(presets.length).toBeGreaterThan(0)
  })

  for (const fs of FILESYSTEMS) {
    for (const name of presets) {
      it(`${name} on ${fs}: the stock model agrees with the kernel`, async () => {
        const scenario = loadPreset(name)
        const events: RunEvent[] = []
        const record = await lab.run(scenario, { fs, onEvent: (e) => events.push(e) })
        records.push(record)
        expect(record.error, record.error?.message).toBeUndefined()
        expect(record.observation.incomplete).toBeUndefined()
        expect(record.fs).toBe(fs)
        // Every op the model predicts was observed, in order.
        expect(record.observation.ops.map((o) => o.path)).toEqual(record.predictions.stock.ops.map((o) => o.path))
        // Live events: predictions before any op, one op event per observed op and run, finished last.
        const kinds = events.map((e) => e.type)
        expect(kinds.indexOf('prediction')).toBeLessThan(kinds.indexOf('op') === -1 ? Infinity : kinds.indexOf('op'))
        expect(kinds.filter((k) => k === 'op').length).toBe(record.observation.ops.length * scenario.runs)
        expect(kinds.at(-1)).toBe('finished')
        expect(disagreements(record, 'stock'), `${name} on ${fs}`).toEqual([])
        expect(record.comparison.verdict.perPolicy.stock.disagree).toBe(0)
        // A run that agrees keeps no kernel log.
        expect(record.kernelLog).toBeUndefined()
      })
    }
  }

  it('a traced run records per-op kernel events from its private ftrace instance, and removes the instance', async () => {
    const facts = await target.facts()
    expect(facts.tracefs.writable, facts.tracefs.why).toBe(true)
    const events: RunEvent[] = []
    const record = await lab.run(loadPreset(presets.includes('write-after-splice') ? 'write-after-splice' : presets[0]!), { fs: 'tmpfs', records: null, trace: true, onEvent: (e) => events.push(e) })
    expect(record.error, record.error?.message).toBeUndefined()
    expect(record.trace?.unavailable).toBeUndefined()
    expect(record.trace!.events).toBeGreaterThan(0)
    expect(Object.keys(record.trace!.perOp).length).toBeGreaterThan(0)
    const instances = (await target.exec(`ls ${facts.tracefs.path}/instances`)).output
    expect(record.trace!.instance).toMatch(/^splice-lab-/)
    expect(instances).not.toContain(record.trace!.instance)
  })

  it('a traced run keeps its series and raw events beside the record; the Perfetto export puts them in the op slices', async () => {
    const facts = await target.facts()
    const dir = mkdtempSync(join(tmpdir(), 'splice-lab-records-traced-'))
    try {
      const store = new RunRecords(dir)
      const record = await lab.run(loadPreset('write-after-splice'), { fs: 'ext4', records: store, trace: true })
      expect(record.error, record.error?.message).toBeUndefined()
      const trace = record.trace!
      expect(trace.buckets!.length).toBeGreaterThan(0)
      expect(trace.t0).toBeGreaterThan(0)
      expect(trace.raw!.droppedChars).toBe(0)
      const raw = await loadRunTrace(record.id, dir)
      expect(raw!.length).toBe(trace.raw!.chars)
      // The saved record reads back with its series.
      expect((await loadRunRecord(join(dir, `${record.id}.json`))).trace!.buckets).toEqual(trace.buckets)

      const file = JSON.parse(await store.export(record, 'perfetto')) as TraceFormatFile
      const slices = file.traceEvents.filter((e) => e.ph === 'X')
      expect(slices.map((s) => s.args?.path)).toEqual(record.observation.ops.map((o) => o.path))
      expect(slices.every((s) => s.args?.timing === 'trace markers')).toBe(true)
      const splices = file.traceEvents.filter((e) => e.ph === 'i' && e.name === 'sys_enter_splice')
      const counted = Object.values(trace.perOp).reduce((n, c) => n + (c['syscalls:sys_enter_splice'] ?? 0), 0)
      expect(splices.length).toBe(counted)
      expect(counted).toBeGreaterThan(0)
      for (const s of splices) expect(slices.some((o) => s.ts >= o.ts && s.ts <= o.ts + o.dur!), `splice at ${s.ts} µs lies in an op`).toBe(true)
      const bytes = file.traceEvents.filter((e) => e.ph === 'C' && e.name.startsWith('bytes')).reduce((n, e) => n + Number(e.args!.bytes), 0)
      expect(bytes).toBe(trace.buckets!.reduce((n, b) => n + (b.counts.bytes ?? 0), 0))
      expect(bytes).toBeGreaterThanOrEqual(facts.pageSize)
      const [about, ...csv] = (await store.export(record, 'series-csv')).trim().split('\n')
      expect(about).toContain(`kernel ${facts.kernel}`)
      expect(csv[0]).toBe('t_ms,shared,stolen,copied,reloads,bytes,bytesCopied')
      expect(csv.length).toBe(trace.buckets!.length + 1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('keeps only the raw trace that fits its limit, cut at a line end, and says how much was left out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'splice-lab-records-traced-'))
    try {
      const store = new RunRecords(dir)
      const record = await lab.run(loadPreset('write-after-splice'), { fs: 'tmpfs', records: store, trace: { keepRawChars: 400 } })
      const raw = (await loadRunTrace(record.id, dir))!
      expect(raw.length).toBeLessThanOrEqual(400)
      expect(raw.endsWith('\n')).toBe(true)
      expect(record.trace!.raw).toEqual({ chars: raw.length, droppedChars: expect.any(Number) })
      expect(record.trace!.raw!.droppedChars).toBeGreaterThan(0)
      const file = JSON.parse(await store.export(record, 'perfetto')) as TraceFormatFile
      expect(String(file.metadata.rawTraceNotKept)).toContain(`after the first ${raw.length}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('saved every record, and they read back validated', async () => {
    const listed = await listRunRecords(recordsDir)
    expect(listed.filter((l) => l.problem)).toEqual([])
    expect(listed.length).toBe(records.length)
    const first = records[0]
    if (first) expect(await loadRunRecord(join(recordsDir, `${first.id}.json`))).toEqual(JSON.parse(JSON.stringify(first)))
  })
})
