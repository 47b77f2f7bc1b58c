import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { channelOf, METHODS } from '../../shared/api'

// Electron cannot start here (no binary); stand in for ipcMain only, to check the wiring that
// IPC handlers come from the contract and answer only the lab window.
const handlers = new Map<string, (event: unknown, input: unknown) => unknown>()
vi.mock('electron', () => ({
  ipcMain: {
    handle: (channel: string, fn: (event: unknown, input: unknown) => unknown) => void handlers.set(channel, fn),
    removeHandler: (channel: string) => void handlers.delete(channel),
  },
}))

const { wireIpc, unwireIpc } = await import('./ipc')

let home: string
const saved = process.env.SPLICE_LAB_HOME
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'splice-lab-ipc-'))
  process.env.SPLICE_LAB_HOME = home
})
afterEach(async () => {
  unwireIpc()
  process.env.SPLICE_LAB_HOME = saved
  await rm(home, { recursive: true, force: true })
})

describe('IPC wiring', () => {
  const mainFrame = {}
  const contents = { isDestroyed: () => false, send: vi.fn(), mainFrame }

  it('registers one handler per contract method and removes them all', () => {
    wireIpc(contents as never)
    expect([...handlers.keys()].sort()).toEqual(METHODS.map(channelOf).sort())
    unwireIpc()
    expect(handlers.size).toBe(0)
  })

  it('answers the lab window, validating input, and refuses any other sender', async () => {
    wireIpc(contents as never)
    const call = async (sender: unknown, frame: unknown, method: string, input: unknown) => handlers.get(channelOf(method as never))!({ sender, senderFrame: frame }, input)
    await expect(call(contents, mainFrame, 'listTargets', undefined)).resolves.toEqual({ ok: true, value: [] })
    await expect(call(contents, mainFrame, 'getRun', { id: '../x' })).resolves.toMatchObject({ ok: false, error: { code: 'invalid-input' } })
    await expect(call({}, mainFrame, 'listTargets', undefined)).resolves.toMatchObject({ ok: false, error: { code: 'refused' } })
    await expect(call(contents, {}, 'listTargets', undefined)).resolves.toMatchObject({ ok: false, error: { code: 'refused' } })
  })
})
