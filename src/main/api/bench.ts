/**
 * The benchmark's synthetic live stream (npm run bench:ui, `splice-lab serve --bench` only): trace
 * buckets at a given event rate, batched every 50 ms as a live run's are. Runs are named `bench-…`
 * so nothing mistakes them for measurements. Bucket times are wall-clock milliseconds since the
 * stream began, so the page can tell how far behind the stream its chart is without any field the
 * product's buckets do not carry; each event counts 64 bytes (SYNTHETIC_BYTES_PER_EVENT on the page).
 */
import type { RunEvent, TraceBucket } from '../../shared/run/types'

const BATCH_MS = 50
const BUCKETS_PER_BATCH = 5

export async function syntheticStream(runId: string, eventsPerSecond: number, durationMs: number, emit: (e: RunEvent) => void, stopped: () => boolean): Promise<void> {
  const start = Date.now()
  emit({ type: 'phase', runId, phase: 'trace', message: `synthetic stream: ${eventsPerSecond} events/s from ${start} (benchmark)` })
  while (Date.now() - start < durationMs && !stopped()) {
    await new Promise((r) => setTimeout(r, BATCH_MS))
    const n = Math.round((eventsPerSecond * BATCH_MS) / 1000 / BUCKETS_PER_BATCH)
    const t = Date.now() - start
    const buckets: TraceBucket[] = []
    for (let i = 0; i < BUCKETS_PER_BATCH; i++) buckets.push({ t: t - (BUCKETS_PER_BATCH - 1 - i) * 10, counts: { shared: n >> 2, stolen: n >> 4, copied: n >> 3, reloads: n >> 5, bytes: n * 64, bytesCopied: n * 16 } })
    emit({ type: 'trace', runId, buckets, lost: 0 })
  }
  emit({ type: 'phase', runId, phase: 'done', message: 'synthetic stream ended' })
}
