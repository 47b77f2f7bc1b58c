/**
 * The committed expected outcomes (resources/scenarios/<name>.expect/<kernel>.<fs>.json) hold on
 * this machine's kernel: a few presets run again show no difference. A difference is a regression
 * of the kernel or of the lab, never something to re-record without finding out which.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import { connectTarget, type Target } from '../../src/main/target'
import { Lab } from '../../src/main/lab/lab'
import { loadPreset, presetsDir } from '../../src/main/presets'
import { checkExpect } from '../../src/main/expect-files'
import { expectFileName } from '../../src/shared/run/expect'
import { leftovers, runSkipReason } from './fixtures/lab'

const CASES = [
  ['write-after-splice', 'tmpfs'],
  ['write-after-splice', 'xfs'],
  ['vmsplice-then-store', 'ext4'],
  ['punch-hole-partial', 'btrfs'],
  ['truncate-partial', 'ext4'],
] as const

/** Why these files cannot be checked here: the lab cannot run, or none was recorded for this kernel. */
function skipReason(): string | null {
  const lab = runSkipReason()
  if (lab) return lab
  const kernel = release()
  const missing = CASES.filter(([name, fs]) => !existsSync(join(presetsDir(), `${name}.expect`, expectFileName(kernel, fs))))
  if (missing.length) return `no expected outcomes recorded for kernel ${kernel} (they are for 6.18.44-fc-v657: run --record-expect on this kernel to make them)`
  return null
}

const skip = skipReason()

describe.skipIf(skip !== null)(`the committed expected outcomes hold on this kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let target: Target
  let lab: Lab

  beforeAll(async () => {
    target = await connectTarget('local')
    lab = await Lab.open(target, { records: null })
  })
  afterAll(async () => {
    await lab?.dispose()
    expect(leftovers()).toEqual([])
  })

  for (const [name, fs] of CASES) {
    it(`${name} on ${fs}: no difference from its expect file`, async () => {
      const record = await lab.run(loadPreset(name), { fs })
      expect(record.error, record.error?.message).toBeUndefined()
      const check = await checkExpect(record)
      expect(check?.file).toBe(join(presetsDir(), `${name}.expect`, expectFileName(release(), fs)))
      expect(check?.differences).toEqual([])
    })
  }
})
