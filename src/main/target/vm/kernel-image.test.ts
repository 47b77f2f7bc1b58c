import { describe, it, expect, afterAll } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveKernelImage } from './kernel-image'

const dir = mkdtempSync(join(tmpdir(), 'splice-lab-kimage-'))
const image = join(dir, 'bzImage')
writeFileSync(image, 'k')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// A store name that resolves is exercised by test/integration/vm.test.ts (the store's debian-6.1).
describe('vm:<kernel>', () => {
  it('takes a path to an image', async () => {
    expect(await resolveKernelImage(image, dir)).toBe(image)
    await expect(resolveKernelImage('/no/such/bzImage', dir)).rejects.toThrow(/no such kernel image/)
  })

  it('takes a store name, and says how to build one the store lacks', async () => {
    await expect(resolveKernelImage('fix-6.1', join(dir, 'empty-store'))).rejects.toThrow(/no kernel named "fix-6\.1".*splice-lab kernel build/)
    await expect(resolveKernelImage('', dir)).rejects.toThrow(/name a kernel/)
  })
})
