/**
 * Talking to the lab server the way an attacker would: raw TCP for the WebSocket handshake and
 * hand-made frames (a well-behaved client library refuses to send malformed ones), plus a small
 * well-behaved API client for the run that must survive them.
 */
import { connect } from 'node:net'
import { request } from 'node:http'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import type { RunRecord } from '../../../src/shared/run/types'

/** What the tests read of an event's payload (run events and target states). */
export interface EventPayload {
  runId?: string
  type?: string
  phase?: string
  record?: RunRecord
  id?: string
  data?: string
}

/** Opens /api over raw TCP with the bearer token, writes `bytes` after the 101, resolves when the server closes the connection (or after `waitMs`). */
export function sendRawFrame(port: number, token: string, bytes: Buffer, waitMs = 3000): Promise<{ upgraded: boolean; closedByServer: boolean }> {
  return new Promise((resolve) => {
    let head = ''
    let upgraded = false
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `GET /api HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      )
    })
    const timer = setTimeout(() => {
      s.destroy()
      resolve({ upgraded, closedByServer: false })
    }, waitMs)
    s.on('data', (d) => {
      if (upgraded) return
      head += d.toString('latin1')
      if (head.includes('\r\n\r\n')) {
        upgraded = head.startsWith('HTTP/1.1 101')
        s.write(bytes)
      }
    })
    s.on('error', () => undefined)
    s.on('close', () => {
      clearTimeout(timer)
      resolve({ upgraded, closedByServer: true })
    })
  })
}

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d])
const masked = (payload: Buffer): Buffer => Buffer.from(payload.map((b, i) => b ^ MASK[i % 4]!))

/** The malformed frames of issue 15, each as a client would put it on the wire. */
export const BAD_FRAMES: Record<string, Buffer> = {
  /** A text frame announcing 3 MiB (the server's limit is 2 MiB): ws refuses it from the header. */
  oversize: (() => {
    const h = Buffer.alloc(14)
    h[0] = 0x81
    h[1] = 0x80 | 127
    h.writeBigUInt64BE(3n << 20n, 2)
    MASK.copy(h, 10)
    return h
  })(),
  'invalid UTF-8': Buffer.concat([Buffer.from([0x81, 0x82]), MASK, masked(Buffer.from([0xc3, 0x28]))]),
  unmasked: Buffer.concat([Buffer.from([0x81, 0x02]), Buffer.from('hi')]),
  'unknown opcode': Buffer.concat([Buffer.from([0x83, 0x80]), MASK]),
  RSV1: Buffer.concat([Buffer.from([0xc1, 0x82]), MASK, masked(Buffer.from('hi'))]),
}

export function httpGet(port: number, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    r.on('error', reject)
    r.end()
  })
}

export interface ApiClient {
  call(method: string, input?: unknown): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }>
  events: { name: string; payload: EventPayload }[]
  waitEvent(pred: (name: string, payload: EventPayload) => boolean, timeoutMs: number): Promise<EventPayload>
  close(): void
}

export function apiClient(port: number, token: string): Promise<ApiClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api`, { headers: { authorization: `Bearer ${token}` } })
  const pending = new Map<number, (r: Awaited<ReturnType<ApiClient['call']>>) => void>()
  const events: { name: string; payload: EventPayload }[] = []
  const waiters = new Set<() => void>()
  let next = 1
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString())
    if (m.kind === 'response') pending.get(m.id)?.(m.result)
    else if (m.kind === 'event') {
      events.push({ name: m.name, payload: m.payload })
      for (const w of waiters) w()
    }
  })
  return new Promise((resolve, reject) => {
    ws.once('error', reject)
    ws.once('open', () =>
      resolve({
        events,
        call: (method, input) =>
          new Promise((ok) => {
            const id = next++
            pending.set(id, ok)
            ws.send(JSON.stringify({ kind: 'request', id, method, input }))
          }),
        waitEvent: (pred, timeoutMs) =>
          new Promise((ok, fail) => {
            const check = (): boolean => {
              const hit = events.find((e) => pred(e.name, e.payload))
              if (!hit) return false
              waiters.delete(check)
              clearTimeout(timer)
              ok(hit.payload)
              return true
            }
            const timer = setTimeout(() => {
              waiters.delete(check)
              fail(new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.name).join(', ')}`))
            }, timeoutMs)
            if (!check()) waiters.add(check)
          }),
        close: () => ws.close(),
      }),
    )
  })
}
