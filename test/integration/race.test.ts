/**
 * Races on this machine's real kernel: Matt Whitlock's case (splice from a cold file while another
 * process punches a hole over the same range; resources/scenarios/whitlock-punch-race.yaml) run
 * through a Lab on tmpfs and ext4, its runs in one probe process with the file made cold each run.
 * The histogram of the drain must show both outcomes, pages intact and pages zeroed, and every
 * observed outcome must be in the stock model's allowed set (herd-style: allowed outcomes never seen
 * are only notes).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectTarget, type Target } from '../../src/main/target'
import { Lab } from '../../src/main/lab/lab'
import { RunRecords } from '../../src/main/lab/records'
import { loadPreset } from '../../src/main/presets'
import type { OpOutcome } from '../../src/shared/results'
import { sameOutcome } from '../../src/shared/compare/compare'
import { leftovers, runSkipReason, scenario } from './fixtures/lab'

const skip = runSkipReason()
const PAGE = 4096

const zeroedPages = (o: OpOutcome): number => (o.drain?.changed ?? []).filter((r) => r.holds === 'zero').reduce((n, r) => n + (r.end - r.start), 0) / PAGE

describe.skipIf(skip !== null)(`races on the real kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let target: Target
  let lab: Lab
  let recordsDir: string

  beforeAll(async () => {
    target = await connectTarget('local')
    recordsDir = mkdtempSync(join(tmpdir(), 'splice-lab-race-records-'))
    lab = await Lab.open(target, { records: new RunRecords(recordsDir) })
  })
  afterAll(async () => {
    await lab?.dispose()
    rmSync(recordsDir, { recursive: true, force: true })
    expect(leftovers()).toEqual([])
  })

  for (const fs of ['tmpfs', 'ext4'] as const) {
    it(`whitlock-punch-race on ${fs}: the drain's histogram holds intact and zeroed pages, all allowed by the stock model`, async () => {
      const scenario = loadPreset('whitlock-punch-race')
      const record = await lab.run(scenario, { fs })
      expect(record.error, record.error?.message).toBeUndefined()
      expect(record.observation.incomplete).toBeUndefined()
      const drain = record.observation.ops.find((o) => o.path === 'ops[1]')!
      const hist = drain.histogram ?? []
      const runs = hist.reduce((n, h) => n + h.count, 0)
      expect(runs).toBe(scenario.runs)
      const intact = hist.filter((h) => zeroedPages(h.outcome) === 0).reduce((n, h) => n + h.count, 0)
      const zeroed = runs - intact
      console.log(`whitlock-punch-race on ${fs}: ${runs} runs, ${intact} drained intact, ${zeroed} with zeroed pages: ${hist.map((h) => `${zeroedPages(h.outcome)} zero page(s) × ${h.count}`).join(', ')}`)
      expect(intact).toBeGreaterThan(0)
      expect(zeroed).toBeGreaterThan(0)
      // A page is never partly zero: every changed range is whole pages of zeros.
      for (const h of hist)
        for (const r of h.outcome.drain!.changed) {
          expect(r.holds).toBe('zero')
          expect((r.end - r.start) % PAGE).toBe(0)
        }
      // Every observed outcome is allowed by the stock model, and the comparison says so.
      const allowed = record.predictions.stock.ops.find((o) => o.path === 'ops[1]')!.outcomes
      for (const h of hist) expect(allowed.some((a) => sameOutcome(a, h.outcome))).toBe(true)
      const byPolicy = record.comparison.ops.find((o) => o.path === 'ops[1]')!.byPolicy
      expect(byPolicy.stock.agreement, byPolicy.stock.reasons.join(' | ')).toBe('agree')
      expect(byPolicy.stock.reasons.some((r) => r.includes(`not seen in ${scenario.runs} runs`))).toBe(true)
      for (const op of record.comparison.ops) expect(op.byPolicy.stock.agreement, `${op.path}: ${op.byPolicy.stock.reasons.join(' | ')}`).toBe('agree')
    }, 120_000)
  }

  it('a race forks: a private buffer vmspliced after it and then stored into drains unchanged, a shared one changed', async () => {
    for (const kind of ['private', 'shared'] as const) {
      const s = scenario({
        name: 'cow-after-race',
        files: [{ id: 'f', size: '4p', cached: false }],
        buffers: [{ id: 'b', size: '1p', kind }],
        pipes: [{ id: 'p' }, { id: 'q' }],
        ops: [
          { op: 'race', ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '1p' }, { op: 'pwrite', file: 'f', offset: 0, len: 10 }] },
          { op: 'vmsplice', buffer: 'b', offset: 0, len: '1p', pipe: 'q' },
          { op: 'buf_store', buffer: 'b', offset: 100, len: 100 },
          { op: 'drain', pipe: 'q' },
          { op: 'drain', pipe: 'p' },
        ],
        runs: 20,
      })
      const record = await lab.run(s, { fs: 'ext4' })
      expect(record.error, record.error?.message).toBeUndefined()
      const drain = record.observation.ops.find((o) => o.path === 'ops[3]')!
      expect(drain.histogram!.map((h) => h.outcome.drain!.changedBytes), kind).toEqual([kind === 'private' ? 0 : 100])
      for (const op of record.comparison.ops) expect(op.byPolicy.stock.agreement, `${kind} ${op.path}: ${op.byPolicy.stock.reasons.join(' | ')}`).toBe('agree')
    }
  }, 120_000)
})
