/**
 * The contract's Bridge over the lab server's WebSocket (splice-lab serve): the same verbs and
 * events the Electron preload exposes, so the stores never know which shell they run in. The token
 * travels in the HttpOnly cookie the server set when the page was opened from its printed URL.
 */
import { EVENTS, METHODS, type Bridge, type EventName, type Result, type WireMessage } from '../../shared/api'

export function createWsBridge(url = defaultUrl()): Bridge {
  let nextId = 1
  const pending = new Map<number, (r: Result<unknown>) => void>()
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>()
  let socket: WebSocket | null = null
  let opening: Promise<WebSocket> | null = null

  const connect = (): Promise<WebSocket> => {
    if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket)
    opening ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.onopen = () => {
        socket = ws
        opening = null
        resolve(ws)
      }
      ws.onerror = () => {
        opening = null
        reject(new Error('cannot reach the lab server; is `splice-lab serve` still running? Reopen the URL it printed.'))
      }
      ws.onclose = () => {
        socket = null
        for (const [id, settle] of pending) {
          pending.delete(id)
          settle({ ok: false, error: { code: 'disconnected', message: 'the connection to the lab server closed; reload the page' } })
        }
      }
      ws.onmessage = (e) => {
        const msg = JSON.parse(String(e.data)) as WireMessage
        if (msg.kind === 'response') {
          pending.get(msg.id)?.(msg.result)
          pending.delete(msg.id)
        } else if (msg.kind === 'event') for (const l of listeners.get(msg.name) ?? []) l(msg.payload)
      }
    })
    return opening
  }

  const bridge: Record<string, unknown> = {}
  for (const method of METHODS) {
    bridge[method] = async (input: unknown): Promise<Result<unknown>> => {
      let ws: WebSocket
      try {
        ws = await connect()
      } catch (e) {
        return { ok: false, error: { code: 'disconnected', message: (e as Error).message } }
      }
      const id = nextId++
      return new Promise((settle) => {
        pending.set(id, settle)
        ws.send(JSON.stringify({ kind: 'request', id, method, input } satisfies WireMessage))
      })
    }
  }
  for (const name of EVENTS) {
    bridge[name] = (listener: (payload: unknown) => void) => {
      let set = listeners.get(name)
      if (!set) listeners.set(name, (set = new Set()))
      set.add(listener)
      void connect().catch(() => {})
      return () => void set.delete(listener)
    }
  }
  return bridge as Bridge
}

function defaultUrl(): string {
  const { protocol, host } = window.location
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/api`
}
