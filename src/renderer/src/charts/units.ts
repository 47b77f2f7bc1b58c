/** Axis units for the charts: pages as counts, bytes in binary units (KiB, MiB, GiB). */
import type { LiveSeriesName } from '../../../shared/vocabulary'

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function binaryBytes(n: number): string {
  let v = Math.abs(n)
  let u = 0
  while (v >= 1024 && u < BINARY.length - 1) {
    v /= 1024
    u++
  }
  const text = u === 0 || v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1)
  return `${n < 0 ? '-' : ''}${text} ${BINARY[u]}`
}

/** Counts: exact below 10,000, then Ki/Mi (×1024) so long runs stay readable. */
export function count(n: number): string {
  if (Math.abs(n) < 10_000) return Number.isInteger(n) ? String(n) : n.toFixed(1)
  return binaryBytes(n).replace(/ (Ki|Mi|Gi|Ti)B$/, ' $1').replace(/ B$/, '')
}

export function valueText(m: LiveSeriesName | 'changed', n: number): string {
  return m === 'bytes' || m === 'bytesCopied' || m === 'changed' ? binaryBytes(n) : count(n)
}

export function axisTitle(m: LiveSeriesName | 'changed', pageSize = 4096): string {
  if (m === 'bytes') return 'bytes through pipes (binary units)'
  if (m === 'bytesCopied') return 'bytes copied into pipes (binary units)'
  if (m === 'changed') return 'bytes changed when drained (binary units)'
  if (m === 'reloads') return `page-cache reloads (pages of ${binaryBytes(pageSize)})`
  return `pages ${m} (pages of ${binaryBytes(pageSize)})`
}
