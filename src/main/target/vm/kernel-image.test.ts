import { describe, it, expect, afterAll } from 'vitest'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveKernelImage } from './kernel-image'

const store = mkdtempSync(join(tmpdir(), 'splice-lab-kstore-'))
mkdirSync(join(store, 'debian-6.1'))
writeFileSync(join(store, 'debian-6.1', 'bzImage'), 'k')
afterAll(() => rmSync(store, { recursive: true, force: true }))

describe('vm:<kernel>', () => {
  it('takes a path to an image, or a store name', () => {
    expect(resolveKernelImage(join(store, 'debian-6.1', 'bzImage'), store)).toBe(join(store, 'debian-6.1', 'bzImage'))
    expect(resolveKernelImage('debian-6.1', store)).toBe(join(store, 'debian-6.1', 'bzImage'))
  })

  it('says what the store has and how to build what it lacks', () => {
    expect(() => resolveKernelImage('fix-6.1', store)).toThrow(/no kernel of that name \(it has: debian-6\.1\).*splice-lab kernel build/)
    expect(() => resolveKernelImage('/no/such/bzImage', store)).toThrow(/no such kernel image/)
    expect(() => resolveKernelImage('', store)).toThrow(/name a kernel/)
  })
})
