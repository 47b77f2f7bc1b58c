/**
 * BENCHMARK ONLY (npm run bench:ui): the live chart records, when it draws, how far behind the
 * stream it is, and the benchmark script starts a synthetic stream through `start`. Enabled only
 * when the page URL has #bench; otherwise this returns null and nothing is recorded or exposed.
 */
export interface BenchProbe {
  lags: number[]
  start?: (eventsPerSecond: number, durationMs: number) => Promise<void>
  events?: () => number
}

export function benchProbe(): BenchProbe | null {
  if (typeof window === 'undefined' || !window.location.hash.includes('bench')) return null
  const w = window as unknown as { __spliceLabBench?: BenchProbe }
  w.__spliceLabBench ??= { lags: [] }
  return w.__spliceLabBench
}
