import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkExpect, expectPath, recordExpect } from './expect-files'
import { tinyRecord } from '../../test/fixtures/tiny-run'
import type { RunRecord } from '../shared/run/types'

const onVm = (r: RunRecord, kernel: string, bootArgs: string[]): RunRecord => ({ ...r, target: { ...r.target, kernel: '6.1.192', kind: 'vm', vm: { kernel, accelerator: 'tcg', bootArgs, cmdline: '' } } })

describe('expect files of presets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'splice-lab-expect-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('are named by the kernel, and for a VM by the kernel it booted and its boot arguments', () => {
    expect(expectPath(tinyRecord(), dir)).toBe(join(dir, 'tiny.expect', '6.18.tmpfs.json'))
    expect(expectPath(onVm(tinyRecord(), 'debian-6.1', []), dir)).toBe(join(dir, 'tiny.expect', '6.1.192_debian-6.1.tmpfs.json'))
    expect(expectPath(onVm(tinyRecord(), 'fix-6.1', ['splice_policy=copy']), dir)).toBe(join(dir, 'tiny.expect', '6.1.192_fix-6.1_splice_policy_copy.tmpfs.json'))
  })

  it('compare a later run with what was recorded, and say when there is no file', async () => {
    expect(await checkExpect(tinyRecord(), dir)).toBeNull()
    const file = await recordExpect(tinyRecord(), dir)
    expect(await checkExpect(tinyRecord(), dir)).toEqual({ file, differences: [] })
    expect((await checkExpect(tinyRecord({ read: 4096 }), dir))?.differences).toEqual(['ops[0] (drain): expected 0, read 0, changed 0, observed 4096, read 4096, changed 0'])
    writeFileSync(file, '{')
    expect((await checkExpect(tinyRecord(), dir))?.differences[0]).toMatch(/^the expect file does not read: /)
  })
})
