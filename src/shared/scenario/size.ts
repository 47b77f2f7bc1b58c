/**
 * Sizes and offsets in scenarios are written in pages where that is what matters ("2p", "1p+100"),
 * so one scenario means the same thing on a 4 KiB and a 64 KiB page kernel. Bytes ("4096") and
 * binary units ("16KiB") are accepted too. Resolution to bytes happens once the target's page size
 * is known.
 */
export type SizeSpec = number | string

const SIZE_RE = /^\s*(\d+)\s*(p|KiB|MiB|GiB)?\s*(?:\+\s*(\d+))?\s*$/

const UNIT_BYTES: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
/** The largest page size a size in pages is checked against (Linux has pages up to 256 KiB; margin). */
const MAX_PAGE_SIZE = 1 << 20

/** Returns a message naming what is wrong, or null when `spec` is a well-formed size. */
export function checkSize(spec: SizeSpec): string | null {
  if (typeof spec === 'number') {
    return Number.isSafeInteger(spec) && spec >= 0 ? null : `expected a non-negative whole number of bytes, got ${spec}`
  }
  const m = SIZE_RE.exec(spec)
  if (!m) return `expected a size like 4096, "2p", "1p+100" or "16KiB", got "${spec}"`
  // Exact arithmetic only: "99999999999999999999GiB" would round to a float and pass any later check.
  const n = Number(m[1])
  const extra = m[3] ? Number(m[3]) : 0
  const scale = m[2] === undefined ? 1 : m[2] === 'p' ? MAX_PAGE_SIZE : UNIT_BYTES[m[2]]!
  if (!Number.isSafeInteger(n * scale + extra)) return `"${spec}" is too large to be a size`
  return null
}

/** Bytes for `spec` on a kernel with `pageSize`-byte pages. Throws on a malformed spec (validate first). */
export function resolveSize(spec: SizeSpec, pageSize: number): number {
  if (typeof spec === 'number') return spec
  const m = SIZE_RE.exec(spec)
  if (!m) throw new Error(checkSize(spec) ?? 'bad size')
  const n = Number(m[1])
  const unit = m[2]
  const base = unit === undefined ? n : unit === 'p' ? n * pageSize : n * UNIT_BYTES[unit]!
  return base + (m[3] ? Number(m[3]) : 0)
}
