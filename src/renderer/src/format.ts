/** Number formatting shared by the views. */
import type { OpOutcome, Policy } from '../../shared/results'

export const POLICY_LABEL: Record<Policy, string> = { stock: 'stock', 'steal-or-copy': 'steal-or-copy', copy: 'copy' }

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

export function ns(n: number): string {
  if (n < 1000) return `${Math.round(n)} ns`
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} µs`
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} ms`
  return `${(n / 1e9).toFixed(2)} s`
}

export function outcome(o: OpOutcome | undefined): string {
  if (!o) return '—'
  if (o.errno) return `${o.errno}`
  if (o.drain) return o.drain.changedBytes ? `read ${o.drain.read}, ${o.drain.changedBytes} changed` : `read ${o.drain.read}, intact`
  return `= ${o.ret}`
}

export function when(iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

/** A run's target as people call it: the local target records its label "local", the app calls it this machine. */
export function targetName(label: string): string {
  return label === 'local' ? 'this machine' : label
}
