import { describe, it, expect } from 'vitest'
import { buildKey, type KeyInputs } from './key'

const base: KeyInputs = {
  source: { kind: 'debian', package: 'linux-source-6.1', tarballSha256: 'aa' },
  patches: [],
  configSha256: 'cc',
}

describe('build cache key', () => {
  it('is stable for the same inputs and 16 hex digits long', () => {
    expect(buildKey(base)).toBe(buildKey(structuredClone(base)))
    expect(buildKey(base)).toMatch(/^[0-9a-f]{16}$/)
  })

  it('changes with the source version, any patch hash, patch order, strip level and the config', () => {
    const p1 = { file: 'a.patch', strip: 1, sha256: '11' }
    const p2 = { file: 'b.patch', strip: 1, sha256: '22' }
    const keys = [
      buildKey(base),
      buildKey({ ...base, source: { ...base.source, tarballSha256: 'ab' } as KeyInputs['source'] }),
      buildKey({ ...base, patches: [p1, p2] }),
      buildKey({ ...base, patches: [p2, p1] }),
      buildKey({ ...base, patches: [p1, { ...p2, sha256: '23' }] }),
      buildKey({ ...base, patches: [p1, { ...p2, strip: 0 }] }),
      buildKey({ ...base, configSha256: 'cd' }),
    ]
    expect(new Set(keys).size).toBe(keys.length)
  })

  it("a user's tree is keyed by path, version and uncommitted changes", () => {
    const dir = (changes: string): KeyInputs => ({ ...base, source: { kind: 'dir', path: '/src/linux', version: '6.1.0', git: { head: 'abc', changes } } })
    expect(buildKey(dir('x'))).not.toBe(buildKey(dir('y')))
    expect(buildKey(dir('x'))).not.toBe(buildKey(base))
  })
})
