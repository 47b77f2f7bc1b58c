/**
 * The kernel matrix under qemu: every preset on every filesystem, held to the policy the kernel
 * is booted with — Debian's 6.1 as it is (stock), and our fix on it (fix-6.1) with each of
 * splice_policy=stock|steal-or-copy|copy. Presets run in batches (one probe session per filesystem
 * and mount variant, as explore runs them), which observes what single runs observe
 * (explore.test.ts) at a fraction of the serial console's per-run cost.
 *
 * Two things are held: the fix's promise (under steal-or-copy and copy no drained byte differs
 * from what it was at splice time), and the model — every disagreement must be a known one,
 * listed with its kernel, filesystem, preset and op in vm-matrix.known.txt (herd style: a known
 * divergence is recorded, never hidden; a new outcome the model forbids fails; a new count
 * difference is reported; a known one not seen is only reported).
 * SPLICE_LAB_VM_MATRIX_RECORD=1 rewrites that file from what the kernels did.
 *
 * SPLICE_LAB_VM_MATRIX picks the rows (e.g. "fix-6.1:steal-or-copy"); default all four.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectVm } from '../../src/main/target/vm/vm-target'
import { resolveKernelImage } from '../../src/main/target/vm/kernel-image'
import { Lab } from '../../src/main/lab/lab'
import { listPresets, loadPreset } from '../../src/main/presets'
import { scratchSetup } from '../../src/shared/scenario/mount'
import type { Scenario } from '../../src/shared/scenario/schema'
import type { Policy } from '../../src/shared/results'
import { FILESYSTEMS } from '../../src/shared/vocabulary'
import { vmSkipReason } from './fixtures/vm'
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const KNOWN_FILE = fileURLToPath(new URL('./vm-matrix.known.txt', import.meta.url))
const RECORD = process.env.SPLICE_LAB_VM_MATRIX_RECORD === '1'
const known = new Set(existsSync(KNOWN_FILE) ? readFileSync(KNOWN_FILE, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')) : [])
if (RECORD) writeFileSync(KNOWN_FILE, '# Known divergences of the kernels under qemu from the model (test/integration/vm-matrix.test.ts):\n# <kernel>:<policy> <fs> <preset> <op path> — each one to be explained by a rule or a fix.\n')

interface Row {
  kernel: string
  policy: Policy
  bootArgs: string[]
}
const ROWS: Row[] = [
  { kernel: 'debian-6.1', policy: 'stock', bootArgs: [] },
  { kernel: 'fix-6.1', policy: 'stock', bootArgs: ['splice_policy=stock'] },
  { kernel: 'fix-6.1', policy: 'steal-or-copy', bootArgs: ['splice_policy=steal-or-copy'] },
  { kernel: 'fix-6.1', policy: 'copy', bootArgs: ['splice_policy=copy'] },
]
const wanted = process.env.SPLICE_LAB_VM_MATRIX?.split(',').map((s) => s.trim())
const rows = ROWS.filter((r) => !wanted || wanted.includes(`${r.kernel}:${r.policy}`))

/** A 1 GiB file does not fit the guest's scratch disks; its cost is measured on the host. */
const TOO_BIG_FOR_THE_GUEST = new Set(['streaming-1gib'])
const GUEST_RUNS = 20

const vmSkip = await vmSkipReason()

for (const row of rows) {
  const imageSkip = vmSkip ?? (await resolveKernelImage(row.kernel).then(() => null, (e: Error) => e.message))
  describe.skipIf(imageSkip !== null)(`vm:${row.kernel} with ${row.bootArgs.join(' ') || 'no boot arguments'}${imageSkip ? ` (skipped: ${imageSkip})` : ''}`, () => {
    let lab: Lab
    const presets: Scenario[] = listPresets()
      .filter((p) => !TOO_BIG_FOR_THE_GUEST.has(p.name))
      .map((p) => loadPreset(p.name))
      // A race repeated 200 times takes minutes under TCG; 20 keep the histogram and the promise.
      .map((s) => ({ ...s, runs: Math.min(s.runs, GUEST_RUNS) }))

    beforeAll(async () => {
      const target = await connectVm({ kernel: row.kernel, image: await resolveKernelImage(row.kernel), bootArgs: row.bootArgs })
      lab = await Lab.open(target, { records: null })
    }, 600_000)
    afterAll(async () => {
      await lab?.dispose()
    }, 120_000)

    for (const fs of FILESYSTEMS) {
      it(`every preset on ${fs} behaves like ${row.policy}`, async () => {
        const unknown: string[] = []
        const countsOnly: string[] = []
        const changedUnderFix: string[] = []
        const groups = new Map<string, Scenario[]>()
        for (const s of presets) {
          const variant = scratchSetup(fs, s.mount).variant
          groups.set(variant, [...(groups.get(variant) ?? []), { ...s, fs }])
        }
        let ran = 0
        for (const scenarios of groups.values()) {
          // One disk per scratch variant (target/vm/disks.ts): a preset's own mkfs options apply in the guest too.
          const outcomes = await lab.batch(scenarios, { fs, scenarioTimeoutMs: 60_000 })
          for (const o of outcomes) {
            ran++
            expect(o.observation.incomplete, `${o.scenario.name} on ${fs}`).toBeUndefined()
            // A race's drain is compared with the file before the race: a page the splice read after
            // the punch made it a hole arrives zeroed under every policy (docs/stock-rules.md §10).
            if (row.policy !== 'stock' && !o.scenario.ops.some((x) => x.op === 'race'))
              for (const op of o.observation.ops) if ((op.outcome.drain?.changedBytes ?? 0) > 0) changedUnderFix.push(`${o.scenario.name} ${op.path}`)
            for (const op of o.comparison.ops) {
              if (op.byPolicy[row.policy].agreement !== 'disagree') continue
              const key = `${row.kernel}:${row.policy} ${fs} ${o.scenario.name} ${op.path}`
              const reasons = op.byPolicy[row.policy].reasons.filter((r) => !r.includes('note:'))
              if (RECORD) appendFileSync(KNOWN_FILE, `${key}\n`)
              else if (known.has(key)) continue
              // An outcome the model forbids (a return value, an errno, a drained byte) fails; a count
              // that differs (tracepoints, /proc/fs/splice deltas: readahead and writeback timing under
              // TCG) is reported, since one recorded run cannot tell a rule from the guest's timing.
              else if (reasons.some((r) => r.includes('forbids that'))) unknown.push(`${key} (${op.op}): ${reasons.join('; ')}`)
              else countsOnly.push(`${key} (${op.op}): ${reasons.join('; ')}`)
            }
          }
        }
        if (countsOnly.length) console.warn(`vm:${row.kernel} ${fs}: counts the model did not predict (not in vm-matrix.known.txt):\n  ${countsOnly.join('\n  ')}`)
        expect(ran).toBe(presets.length)
        expect(changedUnderFix).toEqual([])
        expect(unknown).toEqual([])
      }, 900_000)
    }
  })
}
