import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import WebSocket from 'ws'
import { startLabServer, type LabServer } from './server'
import { checkRequest, COOKIE } from './guard'

let dir: string
let server: LabServer
let home: string
const savedHome = process.env.SPLICE_LAB_HOME

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'splice-lab-renderer-'))
  home = await mkdtemp(join(tmpdir(), 'splice-lab-home-'))
  process.env.SPLICE_LAB_HOME = home
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>lab</title>')
  server = await startLabServer({ port: 0, rendererDir: dir, log: () => {} })
})
afterAll(async () => {
  await server?.close()
  process.env.SPLICE_LAB_HOME = savedHome
  await rm(dir, { recursive: true, force: true })
  await rm(home, { recursive: true, force: true })
})

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', fail)
    req.end()
  })
}

function wsOpen(headers: Record<string, string>, path = '/api'): Promise<{ opened: boolean; status?: number; ws?: WebSocket }> {
  return new Promise((ok) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, { headers })
    ws.on('open', () => ok({ opened: true, ws }))
    ws.on('unexpected-response', (_req, res) => ok({ opened: false, status: res.statusCode }))
    ws.on('error', () => ok({ opened: false }))
  })
}

describe('lab server guard', () => {
  it('binds loopback and prints a URL carrying the token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`)
    expect(server.token.length).toBeGreaterThanOrEqual(32)
  })

  it('refuses HTTP without the token', async () => {
    const r = await get('/')
    expect(r.status).toBe(403)
    expect(r.body).toMatch(/no token/)
  })

  it('refuses a wrong token', async () => {
    expect((await get('/?token=nope')).status).toBe(403)
    expect((await get('/', { cookie: `${COOKIE}=${'x'.repeat(server.token.length)}` })).status).toBe(403)
  })

  it('trades the token in the URL for an HttpOnly cookie, then serves with a strict CSP', async () => {
    const first = await get(`/?token=${server.token}`)
    expect(first.status).toBe(302)
    expect(String(first.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/)
    const page = await get('/', { cookie: `${COOKIE}=${server.token}` })
    expect(page.status).toBe(200)
    expect(page.body).toContain('<title>lab</title>')
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'self'")
    // The Electron window's policy, plus the WebSocket back to this server.
    expect(String(page.headers['content-security-policy'])).toMatch(/object-src 'none'.*frame-ancestors 'none'/)
    expect(String(page.headers['content-security-policy'])).toContain(`connect-src 'self' ws://127.0.0.1:${server.port} ws://localhost:${server.port};`)
  })

  it('refuses another Host (DNS rebinding) even with the token', async () => {
    expect((await get('/', { host: `evil.example:${server.port}`, cookie: `${COOKIE}=${server.token}` })).status).toBe(403)
  })

  it('refuses another Origin even with the token', async () => {
    expect((await get('/', { origin: 'http://evil.example', cookie: `${COOKIE}=${server.token}` })).status).toBe(403)
  })

  it('does not serve files outside the renderer', async () => {
    const r = await get('/../../etc/passwd', { cookie: `${COOKIE}=${server.token}` })
    expect(r.body).not.toContain('root:')
  })

  it('refuses a WebSocket without the token, or from another Origin', async () => {
    expect(await wsOpen({})).toMatchObject({ opened: false, status: 403 })
    expect(await wsOpen({ origin: 'http://evil.example', cookie: `${COOKIE}=${server.token}` })).toMatchObject({ opened: false, status: 403 })
    expect(await wsOpen({ host: `attacker:${server.port}`, cookie: `${COOKIE}=${server.token}` })).toMatchObject({ opened: false, status: 403 })
  })

  it('answers API calls over an accepted WebSocket, validating input', async () => {
    const { ws } = await wsOpen({ origin: `http://127.0.0.1:${server.port}`, cookie: `${COOKIE}=${server.token}` })
    expect(ws).toBeDefined()
    const call = (id: number, method: string, input: unknown): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> =>
      new Promise((ok) => {
        ws!.on('message', (raw) => {
          const m = JSON.parse(raw.toString())
          if (m.kind === 'response' && m.id === id) ok(m.result)
        })
        ws!.send(JSON.stringify({ kind: 'request', id, method, input }))
      })
    expect(await call(1, 'listTargets', undefined)).toEqual({ ok: true, value: [] })
    const bad = await call(2, 'saveTarget', { kind: 'ssh', name: 'x', host: '-oProxyCommand=sh' })
    expect(bad.ok).toBe(false)
    expect(bad.error?.code).toBe('invalid-input')
    expect((await call(3, 'getRun', { id: '../../etc/passwd' })).error?.code).toBe('invalid-input')
    expect((await call(4, 'benchInject', { eventsPerSecond: 10, durationMs: 100 })).error?.code).toBe('refused')
    expect((await call(5, 'noSuchMethod', {})).error?.code).toBe('invalid-input')
    ws!.close()
  })
})

describe('checkRequest', () => {
  const ok = { host: '127.0.0.1:9', origin: undefined, cookie: undefined, authorization: 'Bearer t0k', url: '/' }
  it('accepts loopback Host with the bearer token', () => expect(checkRequest(ok, 't0k', 9).ok).toBe(true))
  it('accepts localhost as Host and Origin', () => expect(checkRequest({ ...ok, host: 'localhost:9', origin: 'http://localhost:9' }, 't0k', 9).ok).toBe(true))
  it('refuses another port in Host', () => expect(checkRequest({ ...ok, host: '127.0.0.1:10' }, 't0k', 9).ok).toBe(false))
  it('refuses an https or null Origin', () => {
    expect(checkRequest({ ...ok, origin: 'https://127.0.0.1:9' }, 't0k', 9).ok).toBe(false)
    expect(checkRequest({ ...ok, origin: 'null' }, 't0k', 9).ok).toBe(false)
  })
})
