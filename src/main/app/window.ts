/**
 * The one lab window: isolated, sandboxed, no Node in the renderer, a strict CSP on every response,
 * no remote content, new windows and navigation denied. Closing it disposes every session, tracer
 * and probe the window's service started.
 */
import { app, BrowserWindow, net, protocol, session, shell } from 'electron'
import { join, normalize, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import { unwireIpc, wireIpc } from './ipc'
import { rendererCsp } from '../csp'

/** The build output, from the app's root (the project in development, app.asar when packaged): not
 * from this file's URL, which moves when the bundler splits chunks. */
const outDir = (): string => join(app.getAppPath(), 'out')

const CSP = rendererCsp()

/**
 * The renderer is served from app://lab/ rather than file://: a standard, secure origin of its own,
 * so module workers and 'self' in the CSP mean the app's files and nothing else on disk.
 * Call before app is ready.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }])
}

function serveRenderer(): void {
  const root = join(outDir(), 'renderer')
  protocol.handle('app', async (request) => {
    const url = new URL(request.url)
    const file = normalize(join(root, decodeURIComponent(url.pathname)))
    if (url.host !== 'lab' || !file.startsWith(root + sep)) return new Response('not found', { status: 404 })
    const res = await net.fetch(pathToFileURL(file).toString())
    const headers = new Headers(res.headers)
    headers.set('Content-Security-Policy', CSP)
    return new Response(res.body, { status: res.status, headers })
  })
}

export function createLabWindow(): BrowserWindow {
  serveRenderer()
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
      preload: join(outDir(), 'preload', 'index.cjs'),
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
  // The app never navigates: links open outside (above), everything else stays on app://lab/.
  win.webContents.on('will-navigate', (e) => e.preventDefault())
  win.webContents.on('will-redirect', (e) => e.preventDefault())
  win.webContents.on('will-attach-webview', (e) => e.preventDefault())
  // Closing waits for the service to cancel runs and end sessions, so nothing is left on a target.
  let disposed = false
  win.on('close', (e) => {
    if (disposed) return
    e.preventDefault()
    void service.dispose().finally(() => {
      disposed = true
      unwireIpc()
      win.destroy()
    })
  })
  const devUrl = process.env.ELECTRON_RENDERER_URL
  if (devUrl && /^http:\/\/(localhost|127\.0\.0\.1):\d+\/?$/.test(devUrl)) void win.loadURL(devUrl)
  else void win.loadURL('app://lab/index.html')
  return win
}
