import { describe, it, expect } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkName, findKernel, imageDir, kernelImagePath, listKernels, readMeta, writeMeta, type KernelMeta } from './store'
import { classifyLine } from './make'

function meta(root: string, name: string): KernelMeta {
  return {
    format: 1,
    name,
    key: '0123456789abcdef',
    version: '6.1.192',
    source: { kind: 'debian', package: 'linux-source-6.1', tarballSha256: 'aa', tarball: '/usr/src/linux-source-6.1.tar.xz', packageVersion: '6.1.192-3' },
    series: null,
    patches: [],
    config: { fragment: 'resources/kernel/config/lab.config', sha256: 'cc', checked: 70 },
    bzImage: { path: join(imageDir(name, root), 'bzImage'), size: 3, sha256: 'bb' },
    build: { startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:10:00Z', seconds: 600, objects: 1900, jobs: 2, from: null },
    tree: join(root, '.trees', '0123456789abcdef'),
  }
}

function withStore(body: (root: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'splice-lab-kernels-'))
    try {
      await body(root)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }
}

describe('kernel store', () => {
  it('keeps metadata as JSON beside the bzImage and reads it back', withStore(async (root) => {
    const m = meta(root, 'debian-6.1')
    const path = await writeMeta(m, root)
    expect(path).toBe(join(root, 'debian-6.1', 'kernel.json'))
    expect(await readMeta(path)).toEqual(m)
  }))

  it('finds a kernel only when its bzImage is there, and path names what the store has', withStore(async (root) => {
    await writeMeta(meta(root, 'fix-6.1'), root)
    expect(await findKernel('fix-6.1', root)).toBeNull()
    writeFileSync(join(root, 'fix-6.1', 'bzImage'), 'img')
    expect((await findKernel('fix-6.1', root))?.version).toBe('6.1.192')
    expect(await kernelImagePath('fix-6.1', root)).toBe(join(root, 'fix-6.1', 'bzImage'))
    await expect(kernelImagePath('debian-6.1', root)).rejects.toThrow(/no kernel named "debian-6.1".*have: fix-6.1.*splice-lab kernel build debian-6.1/)
  }))

  it('lists kernels by name, skips the trees and names a damaged kernel.json field', withStore(async (root) => {
    await writeMeta(meta(root, 'b'), root)
    await writeMeta(meta(root, 'a'), root)
    mkdirSync(join(root, '.trees', 'x'), { recursive: true })
    mkdirSync(join(root, 'broken'))
    writeFileSync(join(root, 'broken', 'kernel.json'), JSON.stringify({ ...meta(root, 'broken'), key: 'nope' }))
    const listed = await listKernels(root)
    expect(listed.map((l) => l.name)).toEqual(['a', 'b', 'broken'])
    expect(listed[2]!.problem).toMatch(/broken\/kernel.json: key:/)
  }))

  it('an empty or missing store lists nothing', withStore(async (root) => {
    expect(await listKernels(join(root, 'none'))).toEqual([])
  }))

  it('refuses names that are paths or hidden', () => {
    expect(checkName('fix-6.1')).toBeNull()
    expect(checkName('debian-6.1-steal-or-copy')).toBeNull()
    expect(checkName('a+b')).toMatch(/--name/)
    expect(checkName('../x')).toMatch(/--name/)
    expect(checkName('.trees')).toMatch(/--name/)
  })

  it("reads kbuild's output: objects compiled and the start of the link", () => {
    expect(classifyLine('  CC      fs/splice.o')).toBe('object')
    expect(classifyLine('  AS      arch/x86/entry/entry_64.o')).toBe('object')
    expect(classifyLine('  AR      fs/built-in.a')).toBeNull()
    expect(classifyLine('  LD      vmlinux.o')).toBe('link')
    expect(classifyLine('  BUILD   arch/x86/boot/bzImage')).toBe('link')
    expect(classifyLine('fs/splice.c:12: warning: unused')).toBeNull()
  })
})
