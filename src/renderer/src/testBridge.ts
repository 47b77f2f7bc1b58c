/**
 * A Bridge for store and component tests: records calls, answers from a table, and lets a test
 * emit events. It stands in for the transport (preload or WebSocket), not for the core.
 */
import type { Bridge, EventName, Method, Result } from '../../shared/api'

export interface TestBridge {
  bridge: Bridge
  calls: { method: Method; input: unknown }[]
  emit(event: EventName, payload: unknown): void
}

export function testBridge(answers: Partial<Record<Method, (input: unknown) => Result<unknown>>>): TestBridge {
  const calls: TestBridge['calls'] = []
  const listeners = new Map<string, Set<(p: unknown) => void>>()
  const bridge = new Proxy({} as Record<string, unknown>, {
    get(_t, name: string) {
      if (name.startsWith('on'))
        return (l: (p: unknown) => void) => {
          const set = listeners.get(name) ?? new Set()
          listeners.set(name, set)
          set.add(l)
          return () => set.delete(l)
        }
      return async (input: unknown) => {
        calls.push({ method: name as Method, input })
        const a = answers[name as Method]
        return a ? a(input) : { ok: false, error: { code: 'unavailable', message: `${name} not answered in this test` } }
      }
    },
  }) as unknown as Bridge
  return { bridge, calls, emit: (event, payload) => listeners.get(event)?.forEach((l) => l(payload)) }
}
