import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { dispatch, EVENTS, INPUTS, METHODS, type Handlers } from './contract'

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
