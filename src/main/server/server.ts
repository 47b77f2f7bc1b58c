/**
 * The headless lab server (`splice-lab serve`): the built renderer over HTTP and the API contract
 * over a WebSocket, on 127.0.0.1 only, behind a random per-start token (guard.ts). Same LabService
 * as the Electron IPC, so both shells run the same core with the same validation.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import { dispatch, isMethod, WireRequest, type EventName, type EventPayloads, type WireMessage } from '../../shared/api'
import { LabService } from '../api/service'
import { checkRequest, COOKIE, type GuardInput } from './guard'
import { rendererCsp } from '../csp'

export interface LabServerOptions {
  /** 0 picks a free port. */
  port?: number
  /** The built renderer (out/renderer). */
  rendererDir: string
  /** Enable the benchmark-only benchInject method. */
  bench?: boolean
  log?: (line: string) => void
}

export interface LabServer {
  port: number
  token: string
  /** The URL to open: carries the token once; the server then keeps it in a cookie. */
  url: string
  close(): Promise<void>
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
}

/** The renderer's policy, its WebSocket back to this server only. */
const csp = (port: number): string => rendererCsp([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`])

/** Larger WebSocket messages are refused: the biggest input (a scenario) is 1 MB. */
const MAX_MESSAGE = 2 * 1024 * 1024

export async function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const log = options.log ?? ((l: string) => console.error(l))
  const token = randomBytes(24).toString('base64url')
  const root = resolve(options.rendererDir)
  const sockets = new Set<WebSocket>()
  const service = new LabService(
    <E extends EventName>(name: E, payload: EventPayloads[E]) => {
      const text = JSON.stringify({ kind: 'event', name, payload } satisfies WireMessage)
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text)
    },
    { bench: options.bench },
  )
  let port = 0
  const guardOf = (req: IncomingMessage): GuardInput => ({
    host: req.headers.host,
    origin: req.headers.origin,
    cookie: req.headers.cookie,
    authorization: req.headers.authorization,
    url: req.url ?? '/',
  })

  const server = createServer((req, res) => {
    void handleHttp(req, res).catch((e: unknown) => {
      log(`serve: ${req.method} ${req.url}: ${e instanceof Error ? e.message : String(e)}`)
      if (!res.headersSent) res.writeHead(500).end('internal error')
    })
  })

  /**
   * The file a URL path names under the renderer, or the status to answer: 400 for a path that is
   * not valid percent-encoding (decodeURIComponent throws URIError), 403 outside the root, 404 for
   * anything that is not a regular file (a directory serves its index.html if it has one).
   */
  async function staticFile(pathname: string): Promise<string | 400 | 403 | 404> {
    let decoded: string
    try {
      decoded = decodeURIComponent(pathname)
    } catch {
      return 400
    }
    if (decoded.includes('\0')) return 400
    const rel = normalize(decoded).replace(/^(\.\.(\/|\\|$))+/, '')
    let file = join(root, rel === '/' || rel === '' ? 'index.html' : rel)
    if (file !== root && !file.startsWith(root + sep)) return 403
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html')
      return (await stat(file)).isFile() ? file : 404
    } catch {
      return 404
    }
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict = checkRequest(guardOf(req), token, port)
    if (!verdict.ok) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`403 forbidden: ${verdict.why}\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    const url = new URL(req.url ?? '/', 'http://x')
    if (verdict.viaQuery) {
      // Keep the token in a cookie and drop it from the address bar (and from history).
      res.writeHead(302, {
        'set-cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        location: url.pathname,
        'cache-control': 'no-store',
      }).end()
      return
    }
    const file = await staticFile(url.pathname)
    if (typeof file === 'number') {
      const why = file === 400 ? 'bad request: the path is not valid percent-encoded UTF-8' : file === 403 ? 'forbidden' : `not found${url.pathname === '/' ? ': build the renderer first (npm run build)' : ''}`
      res.writeHead(file, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}\n`)
      return
    }
    const body = await readFile(file)
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': csp(port),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE })
  wss.on('error', (e) => log(`serve: WebSocket server: ${e.message}`))
  server.on('upgrade', (req, socket, head) => {
    // Errors on the raw socket before ws owns it (a reset mid-handshake) end that socket only.
    socket.on('error', () => socket.destroy())
    const verdict = checkRequest(guardOf(req), token, port)
    if (!verdict.ok || new URL(req.url ?? '/', 'http://x').pathname !== '/api') {
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n403 forbidden: ${verdict.ok ? 'not the API path' : verdict.why}\n`)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws)
      ws.on('close', () => sockets.delete(ws))
      // A malformed frame (too large, bad UTF-8, unmasked, unknown opcode, RSV bits) is an 'error'
      // on that socket; ws has already started closing it with the matching status code. Without
      // a listener the error would be thrown and end the whole server, runs in flight included.
      ws.on('error', (e) => {
        log(`serve: closed a WebSocket after a protocol error: ${e.message}`)
        ws.terminate()
      })
      ws.on('message', (raw) => void onMessage(ws, raw.toString()))
    })
  })

  async function onMessage(ws: WebSocket, text: string): Promise<void> {
    let msg
    try {
      msg = WireRequest.parse(JSON.parse(text))
    } catch {
      ws.close(1003, 'expected a request message')
      return
    }
    const result = isMethod(msg.method)
      ? await dispatch(service.handlers, msg.method, msg.input)
      : { ok: false as const, error: { code: 'invalid-input', message: `no method ${msg.method}` } }
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ kind: 'response', id: msg.id, result } satisfies WireMessage))
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(options.port ?? 0, '127.0.0.1', () => ok())
  })
  const address = server.address()
  port = typeof address === 'object' && address ? address.port : 0
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    async close() {
      for (const ws of sockets) ws.terminate()
      wss.close()
      await service.dispose()
      await new Promise<void>((ok) => server.close(() => ok()))
      server.closeAllConnections()
    },
  }
}
