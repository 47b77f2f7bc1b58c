/**
 * Who may talk to the lab server: requests on loopback, addressed to our own host:port (a DNS-
 * rebinding page reaches us under another Host), from our own Origin when a browser says where it
 * comes from, and carrying the per-start token — in the query (`?token=`, once, from the printed
 * URL), then in an HttpOnly SameSite=Strict cookie the server sets, or as `Authorization: Bearer`.
 * Everything else gets 403. Pure functions over headers, so the refusals are unit-tested.
 */
import { timingSafeEqual } from 'node:crypto'

export const COOKIE = 'splice_lab_token'

export interface GuardInput {
  host: string | undefined
  origin: string | undefined
  cookie: string | undefined
  authorization: string | undefined
  url: string
}

export type GuardResult = { ok: true; viaQuery: boolean } | { ok: false; why: string }

export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`]
}

export function checkRequest(req: GuardInput, token: string, port: number): GuardResult {
  const hosts = allowedHosts(port)
  if (!req.host || !hosts.includes(req.host.toLowerCase())) return { ok: false, why: `Host ${req.host ?? '(none)'} is not this server` }
  if (req.origin !== undefined && !hosts.some((h) => req.origin === `http://${h}`)) return { ok: false, why: `Origin ${req.origin} is not this server` }
  const query = new URL(req.url, 'http://x').searchParams.get('token')
  if (query !== null) return sameToken(query, token) ? { ok: true, viaQuery: true } : { ok: false, why: 'wrong token' }
  const bearer = /^Bearer (.+)$/.exec(req.authorization ?? '')?.[1]
  if (bearer !== undefined) return sameToken(bearer, token) ? { ok: true, viaQuery: false } : { ok: false, why: 'wrong token' }
  const fromCookie = cookieValue(req.cookie, COOKIE)
  if (fromCookie !== undefined) return sameToken(fromCookie, token) ? { ok: true, viaQuery: false } : { ok: false, why: 'wrong token' }
  return { ok: false, why: 'no token: open the URL splice-lab serve printed' }
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}
