/**
 * npm run bench:ui — can the page keep up with a live run? A synthetic stream of 50 000 trace
 * events/s (splice-lab serve --bench: the benchmark-only benchInject method, off otherwise) goes
 * through the real server and WebSocket into the real page in Debian's Chromium; the page measures
 * its frame times (requestAnimationFrame deltas) and, at each chart draw, how far the drawn data is
 * behind the newest bucket the server sent (same machine, same clock). Baseline in the same run: the
 * same page idle. Targets: frame p95 < 50 ms, chart lag p95 < 250 ms. Figures only, no assertions.
 * Needs `npm run build` first.
 */
import { startLab, builtAndBrowsable } from '../test/e2e/harness'

const EVENTS_PER_SECOND = Number(process.env.BENCH_EVENTS_PER_SECOND ?? 50_000)
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 8_000)

const pct = (xs: number[], p: number): number => {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

const why = builtAndBrowsable()
if (why) {
  console.error(`bench:ui: cannot run: ${why}`)
  process.exit(2)
}

const lab = await startLab(['--bench'])
try {
  const { page } = lab
  await page.goto(lab.url) // trades the token for the cookie
  await page.goto(new URL('/index.html#bench', lab.url).toString())
  await page.waitForFunction(() => !!(globalThis as unknown as { __spliceLabBench?: { start?: unknown } }).__spliceLabBench?.start)

  // Passed as source text: tsx's helpers (__name) do not exist inside the page.
  const measureFrames = (ms: number): Promise<number[]> =>
    page.evaluate(`new Promise((done) => {
      const deltas = []
      let last = performance.now()
      const end = last + ${ms}
      const tick = (now) => {
        deltas.push(now - last)
        last = now
        if (now < end) requestAnimationFrame(tick)
        else done(deltas)
      }
      requestAnimationFrame(tick)
    })`)

  const idle = await measureFrames(3000)

  const t0 = Date.now()
  const [busy] = await Promise.all([
    measureFrames(DURATION_MS),
    page.evaluate(([eps, ms]) => (globalThis as unknown as { __spliceLabBench: { start: (a: number, b: number) => Promise<void> } }).__spliceLabBench.start(eps, ms), [EVENTS_PER_SECOND, DURATION_MS] as const),
  ])
  const elapsed = (Date.now() - t0) / 1000
  const { lags, events } = await page.evaluate(() => {
    const b = (globalThis as unknown as { __spliceLabBench: { lags: number[]; events: () => number } }).__spliceLabBench
    return { lags: b.lags, events: b.events() }
  })
  const canvasDrawn = await page.evaluate(`(() => {
    const c = document.querySelector('canvas[data-chart="progress"]')
    if (!c) return false
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true
    return false
  })()`)

  const idleP95 = pct(idle, 95)
  const busyP95 = pct(busy, 95)
  console.log(`bench:ui — ${EVENTS_PER_SECOND.toLocaleString('en')} synthetic events/s for ${DURATION_MS / 1000} s through splice-lab serve into Chromium`)
  console.log(`  events received by the page: ${events.toLocaleString('en')} (${Math.round(events / elapsed).toLocaleString('en')}/s)  live chart drawn: ${canvasDrawn ? 'yes' : 'NO'}`)
  console.log(`  frame time   idle (baseline): p50 ${pct(idle, 50).toFixed(1)} ms  p95 ${idleP95.toFixed(1)} ms  (${idle.length} frames)`)
  console.log(`  frame time   streaming:       p50 ${pct(busy, 50).toFixed(1)} ms  p95 ${busyP95.toFixed(1)} ms  (${busy.length} frames)  target p95 < 50 ms`)
  console.log(`  ratio streaming/idle p95: ${(busyP95 / idleP95).toFixed(2)}×`)
  console.log(`  chart lag behind stream:      p50 ${pct(lags, 50).toFixed(0)} ms  p95 ${pct(lags, 95).toFixed(0)} ms  max ${Math.max(...lags).toFixed(0)} ms  (${lags.length} draws)  target p95 < 250 ms`)
} finally {
  await lab.close()
}
