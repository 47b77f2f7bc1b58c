/**
 * BENCHMARK ONLY (npm run bench:ui): the live chart records, when it draws, how far behind the
 * stream it is. Enabled only when the page URL has #bench; otherwise nothing is recorded.
 */
export interface BenchProbe {
  lags: number[]
}

export function benchProbe(): BenchProbe | null {
  if (typeof window === 'undefined' || !window.location.hash.includes('bench')) return null
  const w = window as unknown as { __spliceLabBench?: BenchProbe }
  w.__spliceLabBench ??= { lags: [] }
  return w.__spliceLabBench
}
