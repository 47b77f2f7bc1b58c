import { describe, it, expect } from 'vitest'
import { execFileSync } from 'node:child_process'
import { cpioNewc } from './cpio'

let cpioTool = true
try {
  execFileSync('cpio', ['--version'], { stdio: 'ignore' })
} catch {
  cpioTool = false
}

describe('cpio newc writer', () => {
  it.skipIf(!cpioTool)('writes an archive GNU cpio lists back: parents first, files, symlinks, device nodes', () => {
    const archive = cpioNewc([
      { path: 'bin/busybox', type: 'file', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { path: 'bin/sh', type: 'symlink', target: 'busybox' },
      { path: '/dev/console', type: 'char', major: 5, minor: 1 },
      { path: 'etc/odd', type: 'file', data: Buffer.from('abc'), mode: 0o644 },
    ])
    const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive }).toString()
    // "mode links owner group size-or-device month day year name": every time is the epoch.
    const rows = listing.trim().split('\n').map((l) => `${l.split(' ')[0]} ${l.replace(/^.* 1970 /, '')}`)
    expect(rows).toEqual(['drwxr-xr-x bin', '-rwxr-xr-x bin/busybox', 'lrwxrwxrwx bin/sh -> busybox', 'drwxr-xr-x dev', 'crw------- dev/console', 'drwxr-xr-x etc', '-rw-r--r-- etc/odd'])
    expect(execFileSync('cpio', ['-i', '--to-stdout', '--quiet', 'etc/odd'], { input: archive }).toString()).toBe('abc')
    expect(archive.length % 4).toBe(0)
  })

  it('depends on the contents only (no host inode numbers or times)', () => {
    const e = [{ path: 'a/b', type: 'file' as const, data: Buffer.from('x'), mode: 0o644 }]
    expect(cpioNewc(e).equals(cpioNewc(e))).toBe(true)
  })

  it('refuses paths that would leave the archive root or repeat', () => {
    expect(() => cpioNewc([{ path: 'a/../b', type: 'dir' }])).toThrow(/bad path/)
    expect(() => cpioNewc([{ path: 'x', type: 'file', data: Buffer.alloc(0), mode: 0o644 }, { path: 'x', type: 'symlink', target: 'y' }])).toThrow(/twice/)
  })
})
