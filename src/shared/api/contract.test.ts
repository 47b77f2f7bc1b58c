import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { dispatch, EVENTS, INPUTS, METHODS, TargetConfig, TargetDraft, type Handlers } from './contract'

describe('API contract', () => {
  it('declares an input schema for exactly the methods it names', () => {
    expect(Object.keys(INPUTS).sort()).toEqual([...METHODS].sort())
  })

  it('keeps its public surface visible in review (snapshot)', () => {
    const surface = {
      methods: Object.fromEntries(METHODS.map((m) => [m, z.toJSONSchema(INPUTS[m], { unrepresentable: 'any', io: 'input' })])),
      events: [...EVENTS],
    }
    expect(surface).toMatchSnapshot()
  })

  const handlers = new Proxy({} as Handlers, { get: (_t, name) => async (input: unknown) => ({ called: name, input }) })

  it('refuses bad input before any handler runs, naming the field', async () => {
    const r = await dispatch(handlers, 'resizeTerminal', { id: 'a', cols: 0, rows: 10 })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.code).toBe('invalid-input')
      expect(r.error.message).toMatch(/^cols:/)
    }
  })

  it('refuses ids that could walk out of a directory', async () => {
    for (const id of ['../x', 'a/b', '.', '', 'a'.repeat(65)]) expect((await dispatch(handlers, 'getRun', { id })).ok).toBe(false)
  })

  it('refuses ssh hosts and key paths that ssh would read as options', async () => {
    expect((await dispatch(handlers, 'saveTarget', { kind: 'ssh', name: 'x', host: '-oProxyCommand=id' })).ok).toBe(false)
    expect((await dispatch(handlers, 'saveTarget', { kind: 'ssh', name: 'x', host: 'box', identityFile: '-F/etc/x' })).ok).toBe(false)
    expect((await dispatch(handlers, 'saveTarget', { kind: 'ssh', name: 'x', host: 'box', port: 2222 })).ok).toBe(true)
  })

  it('refuses unknown fields (strict objects)', async () => {
    expect((await dispatch(handlers, 'cancelRun', { runId: 'r1', extra: 1 })).ok).toBe(false)
  })

  it('turns a thrown error into a plain {code, message}', async () => {
    const failing = { ...handlers, listRuns: async () => { throw new Error('disk on fire') } } as Handlers
    expect(await dispatch(failing, 'listRuns', undefined)).toEqual({ ok: false, error: { code: 'failed', message: 'disk on fire' } })
  })
})

describe('VM target config', () => {
  const vm = (extra: Record<string, unknown>) => ({ id: 'v1', name: 'fix kernel', kind: 'vm', kernel: 'fix-6.1', ...extra })
  const problem = (extra: Record<string, unknown>) => {
    const r = TargetConfig.safeParse(vm(extra))
    return r.success ? null : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
  }

  it('takes a kernel-store name or an absolute bzImage path, with boot arguments and memory', () => {
    expect(problem({})).toBeNull()
    expect(problem({ kernel: 'debian-6.1.192_x86.64' })).toBeNull()
    expect(problem({ kernel: '/work/kernels/linux/arch/x86/boot/bzImage' })).toBeNull()
    expect(problem({ bootArgs: ['nokaslr', 'splice_policy=steal-or-copy', 'mitigations=off'], memoryMb: 2048 })).toBeNull()
    expect(TargetDraft.safeParse({ kind: 'vm', name: 'new', kernel: 'fix-6.1' }).success).toBe(true)
  })

  it('refuses kernels that could read as an option, walk a relative path or hold a newline, naming the field', () => {
    for (const kernel of ['', '-oProxyCommand=id', '--help', '..', 'kernels/fix', 'a b', '/boot/vmlinuz\nreboot', 'x'.repeat(65)]) expect(problem({ kernel })).toMatch(/^kernel: /)
  })

  it('checks boot arguments as the VM target does: one word each, no quotes, not the lab’s own', () => {
    expect(problem({ bootArgs: ['a b'] })).toMatch(/^bootArgs\.0: .* is not a kernel parameter/)
    expect(problem({ bootArgs: ['nokaslr', 'x="y"'] })).toMatch(/^bootArgs\.1: /)
    expect(problem({ bootArgs: ['init=/bin/sh;reboot'] })).toMatch(/^bootArgs\.0: /)
    expect(problem({ bootArgs: ['console=tty0'] })).toMatch(/set by the lab/)
    expect(problem({ bootArgs: ['panic=10'] })).toMatch(/set by the lab/)
    expect(problem({ bootArgs: ['splab.ready=x'] })).toMatch(/set by the lab/)
  })

  it('keeps memory to whole MiB between 256 and 16384', () => {
    expect(problem({ memoryMb: 256 })).toBeNull()
    expect(problem({ memoryMb: 16384 })).toBeNull()
    for (const memoryMb of [255, 16385, 1024.5, '1024']) expect(problem({ memoryMb })).toMatch(/^memoryMb: /)
  })
})
