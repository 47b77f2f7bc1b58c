/**
 * Electron IPC wiring generated from the contract: one ipcMain.handle per method (inputs validated by
 * dispatch, errors returned as {code, message}), one webContents.send per event. Calls are accepted
 * only from the window's own main frame.
 */
import { ipcMain, type WebContents } from 'electron'
import { channelOf, dispatch, METHODS, type EventName, type EventPayloads } from '../../shared/api'
import { LabService } from '../api/service'

export function wireIpc(contents: WebContents): LabService {
  const service = new LabService(<E extends EventName>(name: E, payload: EventPayloads[E]) => {
    if (!contents.isDestroyed()) contents.send(channelOf(name), payload)
  })
  for (const method of METHODS) {
    ipcMain.handle(channelOf(method), (event, input: unknown) => {
      if (event.sender !== contents || event.senderFrame !== contents.mainFrame)
        return { ok: false, error: { code: 'refused', message: 'calls are accepted from the lab window only' } }
      return dispatch(service.handlers, method, input)
    })
  }
  return service
}

export function unwireIpc(): void {
  for (const method of METHODS) ipcMain.removeHandler(channelOf(method))
}
