// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBridge } from '../api'
import { testBridge } from '../testBridge'
import { useTargetsStore } from './targets'
import type { TargetState } from '../../../shared/api'

const local: TargetState = { config: { id: 'l1', name: 'This machine', kind: 'local' }, status: 'disconnected' }

describe('targets store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('loads the targets and selects the first', async () => {
    const t = testBridge({ listTargets: () => ({ ok: true, value: [local] }) })
    setBridge(t.bridge)
    const store = useTargetsStore()
    await store.load()
    expect(store.targets).toHaveLength(1)
    expect(store.selected?.config.name).toBe('This machine')
  })

  it('follows status events from the core (connecting → connected with facts)', async () => {
    const t = testBridge({ listTargets: () => ({ ok: true, value: [local] }) })
    setBridge(t.bridge)
    const store = useTargetsStore()
    await store.load()
    t.emit('onTargetStatus', { ...local, status: 'connecting', message: 'starting a local shell…' })
    expect(store.selected?.status).toBe('connecting')
    t.emit('onTargetStatus', { ...local, status: 'connected' })
    expect(store.connected.map((c) => c.config.id)).toEqual(['l1'])
  })

  it('shows the core’s error message when saving fails, and keeps the list', async () => {
    const t = testBridge({
      listTargets: () => ({ ok: true, value: [local] }),
      saveTarget: () => ({ ok: false, error: { code: 'invalid-input', message: 'host: expected a host name or address' } }),
    })
    setBridge(t.bridge)
    const store = useTargetsStore()
    await store.load()
    expect(await store.save({ kind: 'ssh', name: 'x', host: '' })).toBeNull()
    expect(store.error).toBe('host: expected a host name or address')
    expect(store.targets).toHaveLength(1)
  })
})
