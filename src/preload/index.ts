/**
 * The preload: exposes the API contract's verbs through contextBridge as `window.spliceLab`, and
 * nothing else — no ipcRenderer, no channel names, no Node. Each method forwards its input to the one
 * channel the contract names for it (main validates it there); each `on…` returns its unsubscribe.
 * Built as CommonJS (.cjs): a sandboxed preload cannot load ES modules or anything but `electron`.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { channelOf, EVENTS, METHODS } from '../shared/api/channels'

const api: Record<string, unknown> = {}
for (const method of METHODS) {
  api[method] = (input: unknown) => ipcRenderer.invoke(channelOf(method), input)
}
for (const event of EVENTS) {
  api[event] = (listener: (payload: unknown) => void) => {
    if (typeof listener !== 'function') throw new TypeError(`${event} needs a listener function`)
    const wrapped = (_e: IpcRendererEvent, payload: unknown): void => listener(payload)
    ipcRenderer.on(channelOf(event), wrapped)
    return () => void ipcRenderer.removeListener(channelOf(event), wrapped)
  }
}

contextBridge.exposeInMainWorld('spliceLab', Object.freeze(api))
