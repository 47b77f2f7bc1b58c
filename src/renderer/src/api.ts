/**
 * The thin API wrapper the stores call: the contract's verbs over whichever Bridge this page has —
 * the Electron preload (window.spliceLab) or the lab server's WebSocket. Results are unwrapped:
 * a failed call throws an ApiError carrying the {code, message} from the core.
 */
import { ApiError, type Bridge, type EventName, type EventPayloads, type Input, type Method, type Output } from '../../shared/api'
import { createWsBridge } from './wsBridge'

let bridge: Bridge | null = null

/** Tests (and the benchmark page) can install their own bridge. */
export function setBridge(b: Bridge | null): void {
  bridge = b
}

function current(): Bridge {
  bridge ??= window.spliceLab ?? createWsBridge()
  return bridge
}

export async function call<M extends Method>(method: M, ...input: Input<M> extends undefined ? [] : [Input<M>]): Promise<Output<M>> {
  const fn = current()[method] as (i: unknown) => Promise<{ ok: true; value: Output<M> } | { ok: false; error: { code: string; message: string } }>
  const r = await fn(input[0])
  if (!r.ok) throw new ApiError(r.error.code, r.error.message)
  return r.value
}

export function on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
  return (current()[event] as (l: (p: EventPayloads[E]) => void) => () => void)(listener)
}

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))
