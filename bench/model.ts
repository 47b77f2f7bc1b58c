/**
 * npm run bench:model — how fast the model simulates, against a baseline measured in the same run.
 *
 * Workload: the streaming-1gib preset (1 GiB through a 1 MiB pipe, 262 144 page splices, one
 * overwrite every 256 pages) under each policy, on ext4 (the policy whose rules do the most work:
 * steal-or-copy reloads 255 pages per pass). Baseline: a bare loop over the same number of pages
 * that does the least a page-granular simulator must do (allocate a slot record per page, push it
 * into a ring, pop it and compare two references) — the floor any such model pays.
 *
 * Prints: median ms per policy, simulated page-events per second, and model time / baseline time.
 * Aim (issue): >= 20 million page-events/s and < 50 ms per policy for the 1 GiB preset.
 */
import { loadPreset } from '../src/main/presets'
import { defaultEnv, predict } from '../src/shared/model'
import { POLICIES } from '../src/shared/results'

const RUNS = 7
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

function time<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now()
  const value = f()
  return { ms: performance.now() - t0, value }
}

interface SlotLike {
  page: object
  s: number
  e: number
  snap: object
}

/** The floor: one slot object per page pushed into a ring and drained, with a reference compare. */
function baseline(pages: number, perPass: number): number {
  const page = { content: {} }
  const ring: SlotLike[] = []
  let changed = 0
  for (let done = 0; done < pages; done += perPass) {
    for (let i = 0; i < perPass; i++) ring.push({ page, s: i * 4096, e: (i + 1) * 4096, snap: page.content })
    for (let i = 0; i < perPass; i++) {
      const slot = ring[i]!
      if ((slot.page as { content: object }).content !== slot.snap) changed++
    }
    ring.length = 0
  }
  return changed
}

const scenario = loadPreset('streaming-1gib')
const env = defaultEnv('ext4')
const pages = (1024 ** 3) / env.pageSize

// warm-up (JIT) for both sides
for (const p of POLICIES) predict(scenario, p, env)
baseline(pages, 256)

const baseMs = median(Array.from({ length: RUNS }, () => time(() => baseline(pages, 256)).ms))
console.log(`streaming-1gib on ${env.fs}, ${pages} pages of ${env.pageSize} B; median of ${RUNS} runs`)
console.log(`baseline (bare slot loop over the same ${pages} pages): ${baseMs.toFixed(1)} ms`)
let worst = 0
for (const policy of POLICIES) {
  const runs = Array.from({ length: RUNS }, () => time(() => predict(scenario, policy, env)))
  const ms = median(runs.map((r) => r.ms))
  const events = runs[0]!.value.pageEvents
  const rate = events / (ms / 1000)
  worst = Math.max(worst, ms)
  console.log(
    `${policy.padEnd(13)} ${ms.toFixed(1).padStart(7)} ms  ${(rate / 1e6).toFixed(1).padStart(6)} M page-events/s (${events} events)  ${(ms / baseMs).toFixed(1)}× baseline` +
      `  [aim: < 50 ms ${ms < 50 ? 'met' : 'MISSED'}, >= 20 M/s ${rate >= 20e6 ? 'met' : 'MISSED'}]`,
  )
}
console.log(`slowest policy: ${worst.toFixed(1)} ms for 1 GiB`)
