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
import { runScenario } from '../../src/main/lab/run'
import { ScratchPool, cleanStaleScratch } from '../../src/main/lab/scratch'
import { defaultKits } from '../../src/main/lab/kits'
import { openTracer } from '../../src/main/lab/tracer'
import { listRunRecords, loadRunRecord } from '../../src/main/lab/records'
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
  let pool: ScratchPool
  let recordsDir: string
  const kits = defaultKits()
  const records: RunRecord[] = []

  beforeAll(async () => {
    target = await connectTarget('local')
    await cleanStaleScratch(target)
    pool = new ScratchPool(target, `test-${process.pid}`)
    recordsDir = mkdtempSync(join(tmpdir(), 'splice-lab-records-'))
  })
  afterAll(async () => {
    await pool?.dispose()
    await target?.dispose()
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
        const record = await runScenario(target, scenario, { fs, scratch: pool, kits, recordsDir, onEvent: (e) => events.push(e) })
        records.push(record)
        expect(record.error, record.error?.message).toBeUndefined()
        expect(record.observation.incomplete).toBeUndefined()
        expect(record.fs).toBe(fs)
        // Every op the model predicts was observed, in order.
        expect(record.observation.ops.map((o) => o.path)).toEqual(record.predictions.stock.ops.map((o) => o.path))
        // Live events: predictions before any op, one op event per observed op, finished last.
        const kinds = events.map((e) => e.type)
        expect(kinds.indexOf('prediction')).toBeLessThan(kinds.indexOf('op') === -1 ? Infinity : kinds.indexOf('op'))
        expect(kinds.filter((k) => k === 'op').length).toBe(record.observation.ops.length)
        expect(kinds.at(-1)).toBe('finished')
        expect(disagreements(record, 'stock'), `${name} on ${fs}`).toEqual([])
        expect(record.comparison.verdict.perPolicy.stock.disagree).toBe(0)
      })
    }
  }

  it('a traced run records per-op kernel events from its private ftrace instance, and removes the instance', async () => {
    const facts = await target.facts()
    expect(facts.tracefs.writable, facts.tracefs.why).toBe(true)
    const tracer = await openTracer(target, { pageSize: facts.pageSize })
    const events: RunEvent[] = []
    const record = await runScenario(target, loadPreset(presets.includes('write-after-splice') ? 'write-after-splice' : presets[0]!), { fs: 'tmpfs', scratch: pool, kits, recordsDir: null, tracer, onEvent: (e) => events.push(e) })
    expect(record.error, record.error?.message).toBeUndefined()
    expect(record.trace?.unavailable).toBeUndefined()
    expect(record.trace!.events).toBeGreaterThan(0)
    expect(Object.keys(record.trace!.perOp).length).toBeGreaterThan(0)
    const instances = (await target.exec(`ls ${facts.tracefs.path}/instances`)).output
    expect(instances).not.toContain(tracer.instance)
  })

  it('saved every record, and they read back validated', async () => {
    const listed = await listRunRecords(recordsDir)
    expect(listed.filter((l) => l.problem)).toEqual([])
    expect(listed.length).toBe(records.length)
    const first = records[0]
    if (first) expect(await loadRunRecord(join(recordsDir, `${first.id}.json`))).toEqual(JSON.parse(JSON.stringify(first)))
  })
})
