/**
 * Explore on this machine's kernel, through a real Lab on a real pty: batching must observe what
 * single runs observe, and a few hundred generated scenarios must finish with a summary whose
 * findings are each real (re-run, and shown again by a single run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectTarget } from '../../src/main/target'
import { Lab } from '../../src/main/lab/lab'
import { explore, findingReasons } from '../../src/main/lab/explore'
import { loadPreset } from '../../src/main/presets'
import { generateScenario } from '../../src/shared/explore/generate'
import { compileProgram } from '../../src/shared/probe'

const root = process.getuid?.() === 0
const d = root ? describe : describe.skip
const scratchId = `explore-test-${process.pid}`
const scratchBase = `/tmp/splice-lab-scratch-${scratchId}`

d('explore on this kernel (root: scratch mounts)', () => {
  let lab: Lab
  beforeAll(async () => {
    lab = await Lab.open(await connectTarget({ kind: 'local' }), { records: null, scratchId: scratchId })
  }, 60_000)
  afterAll(async () => {
    await lab?.dispose()
  }, 60_000)

  it('observes in a batch exactly what single runs of the same scenarios observe', async () => {
    const scenarios = ['write-after-splice', 'vmsplice-then-store', 'punch-hole-partial', 'tee-then-write', 'control-write-after-drain'].map((n) => loadPreset(n))
    const batch = await lab.batch(scenarios.map((s) => ({ ...s, fs: 'tmpfs' as const })), { fs: 'tmpfs' })
    expect(batch).toHaveLength(scenarios.length)
    for (const [i, s] of scenarios.entries()) {
      const single = await lab.run(s, { fs: 'tmpfs' })
      expect(single.error).toBeUndefined()
      const outcomes = (ops: { path: string; outcome: unknown }[]): unknown => ops.map((o) => [o.path, o.outcome])
      expect(outcomes(batch[i]!.observation.ops), s.name).toEqual(outcomes(single.observation.ops))
      expect(batch[i]!.comparison.verdict.behavesLike, s.name).toBe(single.comparison.verdict.behavesLike)
    }
    // The question the lab asks, answered in the batch too: the drained page changed on this kernel.
    const drain = batch[0]!.observation.ops.find((o) => o.op === 'drain')!
    expect(drain.outcome.drain!.changedBytes).toBeGreaterThan(0)
  }, 180_000)

  it('uploads a batch too large to go inside the probe command, and observes it in full', async () => {
    const scenarios = Array.from({ length: 90 }, (_, i) => ({ ...generateScenario(i, { seed: 13, filesystems: ['tmpfs'] }), mount: {} }))
    expect(scenarios.map((s) => compileProgram(s, { pageSize: 4096 })).join('').length).toBeGreaterThan(32 * 1024)
    const batch = await lab.batch(scenarios, { fs: 'tmpfs' })
    for (const [i, o] of batch.entries()) {
      expect(o.observation.incomplete, `scenario ${i}`).toBeUndefined()
      expect(o.observation.ops.map((op) => op.path)).toEqual(o.plan.expectedOps.map((op) => op.path))
    }
  }, 180_000)

  it('runs a few hundred generated scenarios and ends with its summary', async () => {
    const progress: number[] = []
    const summary = await explore(lab, {
      filesystems: ['tmpfs'],
      seed: 11,
      count: 240,
      policy: 'stock',
      fixOracle: false,
      shrinkAttempts: 40,
      reruns: 3,
      onProgress: (p) => progress.push(p.tried),
    })
    expect(summary.tried).toBe(240)
    expect(summary.stoppedBy).toBe('count')
    expect(summary.unfinished).toEqual([])
    expect(summary.failed).toBe(0)
    expect(summary.rate).toBeGreaterThan(0)
    expect(progress.at(-1)).toBe(240)
    for (const f of summary.findings) {
      // Each finding is shown by its minimal case, was re-run, and is no larger than where it started.
      expect(f.reasons.length).toBeGreaterThan(0)
      expect(findingReasons(f.outcome, f.kind, 'stock')).toEqual(f.reasons)
      expect(f.minimal.ops.length).toBeLessThanOrEqual(f.original.ops.length)
      expect(f.reproduced).toBeGreaterThanOrEqual(0)
    }
  }, 600_000)

  it('stops when cancelled and leaves no batch files behind', async () => {
    const abort = new AbortController()
    const summary = await explore(lab, {
      filesystems: ['tmpfs'],
      seed: 12,
      budgetMs: 120_000,
      batchSize: 10,
      policy: 'stock',
      fixOracle: false,
      signal: abort.signal,
      onProgress: (p) => p.tried >= 10 && abort.abort(),
    })
    expect(summary.stoppedBy).toBe('cancelled')
    expect(summary.tried).toBeLessThan(60)
    const left = await lab.target.exec(`ls -d ${scratchBase}/*/splice-lab-batch-* 2>/dev/null | wc -l`)
    expect(left.output.trim()).toBe('0')
  }, 180_000)
})
