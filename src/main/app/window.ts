/**
 * The one lab window: isolated, sandboxed, no Node in the renderer, a strict CSP on every response,
 * no remote content, new windows and navigation denied. Closing it disposes every session, tracer
 * and probe the window's service started.
 */
import { BrowserWindow, session, shell } from 'electron'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unwireIpc, wireIpc } from './ipc'

const here = fileURLToPath(new URL('.', import.meta.url))

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

export function createLabWindow(): BrowserWindow {
  // Deny every permission request (camera, notifications, …): the lab needs none.
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, callback) => callback(false))
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } })
  })
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Splice Lab',
    autoHideMenuBar: true,
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      spellcheck: false,
    },
  })
  const service = wireIpc(win.webContents)
  win.once('ready-to-show', () => win.show())
  win.webContents.setWindowOpenHandler(({ url }) => {
    // Links to documentation open in the person's browser, never in the app.
    if (/^https:\/\//.test(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (e) => e.preventDefault())
  win.webContents.on('will-attach-webview', (e) => e.preventDefault())
  win.on('closed', () => {
    unwireIpc()
    void service.dispose()
  })
  const devUrl = process.env.ELECTRON_RENDERER_URL
  if (devUrl && /^http:\/\/(localhost|127\.0\.0\.1):\d+\/?$/.test(devUrl)) void win.loadURL(devUrl)
  else void win.loadFile(join(here, '../renderer/index.html'))
  return win
}
