/**
 * BENCHMARK ONLY (npm run bench:ui): the live chart records, when it draws, how far behind the
 * stream it is (the synthetic stream's bucket times are wall-clock ms since it was asked for), and the benchmark script starts a synthetic stream through `start`. Enabled only
 * when the page URL has #bench; otherwise this returns null and nothing is recorded or exposed.
 */
/** The synthetic stream (src/main/api/bench.ts) counts 64 bytes per event. */
export const SYNTHETIC_BYTES_PER_EVENT = 64

export interface BenchProbe {
  lags: number[]
  /** Wall clock when the stream was asked for: its bucket times count from there. */
  startedAt?: number
  start?: (eventsPerSecond: number, durationMs: number) => Promise<void>
  events?: () => number
}

export function benchProbe(): BenchProbe | null {
  if (typeof window === 'undefined' || !window.location.hash.includes('bench')) return null
  const w = window as unknown as { __spliceLabBench?: BenchProbe }
  w.__spliceLabBench ??= { lags: [] }
  return w.__spliceLabBench
}
