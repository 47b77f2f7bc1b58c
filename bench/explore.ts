/**
 * npm run bench:explore — how fast `explore` runs generated scenarios on this machine (root: scratch
 * mounts), against a baseline measured in the same run: the same scenarios run one by one through
 * Lab.run, as `splice-lab run` would (a channel, an upload and a record-less run each; the probe is
 * compiled once for both). Per filesystem: scenarios/s both ways and the ratio. Asserts nothing.
 *
 * The one-by-one runs come first, while no batch's counter holder (probe --hold-ms) is alive: a
 * holder keeps the tracepoints registered, which spares any probe's exit the kernel's RCU wait, so
 * runs right after a batch would be faster than `splice-lab run` is. A holder of another process
 * on this machine does the same: the bench says when it sees one.
 */
import { loadavg } from 'node:os'
import { execFileSync } from 'node:child_process'
import { connectTarget } from '../src/main/target'
import { Lab } from '../src/main/lab/lab'
import { HOLD_COUNTERS_MS } from '../src/main/lab/batch'
import { generateScenario } from '../src/shared/explore/generate'
import type { Filesystem } from '../src/shared/vocabulary'

const BATCHED = Number(process.env.BENCH_EXPLORE_COUNT ?? 200)
const ONE_BY_ONE = Number(process.env.BENCH_EXPLORE_SINGLE ?? 40)
const FILESYSTEMS: Filesystem[] = ['tmpfs', 'ext4']

/** Pids of batch probes alive now (ours have ended), or ''. */
function batchHolders(): string {
  try {
    return execFileSync('pgrep', ['-f', '--', ' --batch .* --hold-ms '], { encoding: 'utf8' }).trim().split('\n').join(' ')
  } catch {
    return '' // pgrep exits 1 when nothing matches
  }
}

if (process.getuid?.() !== 0) {
  console.error('bench:explore needs root (loop-backed scratch mounts)')
  process.exit(2)
}

const lab = await Lab.open(await connectTarget({ kind: 'local' }), { records: null })
try {
  console.log(`explore batches vs one-by-one runs; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  for (const fs of FILESYSTEMS) {
    // Mount options aside, so every scenario of a filesystem shares one scratch mount both ways.
    const scenarios = Array.from({ length: BATCHED }, (_, i) => ({ ...generateScenario(i, { seed: 1, filesystems: [fs] }), mount: {} }))
    await lab.run(scenarios[0]!, { fs }) // warm: probe build, scratch mount
    const others = batchHolders()
    if (others) console.log(`  (probe batches of other processes are holding the tracepoints: pids ${others}; the one-by-one runs are faster than alone)`)

    const t1 = performance.now()
    for (const s of scenarios.slice(0, ONE_BY_ONE)) await lab.run(s, { fs })
    const singleRate = (ONE_BY_ONE * 1000) / (performance.now() - t1)

    const t0 = performance.now()
    for (let i = 0; i < scenarios.length; i += 40) await lab.batch(scenarios.slice(i, i + 40), { fs })
    const batchedRate = (scenarios.length * 1000) / (performance.now() - t0)
    // The last batch's holder ends before the next filesystem's one-by-one runs.
    await new Promise((r) => setTimeout(r, HOLD_COUNTERS_MS + 1000))

    console.log(
      `${fs.padEnd(6)} batched ${batchedRate.toFixed(1).padStart(6)} scenarios/s (${scenarios.length}), one by one ${singleRate.toFixed(1).padStart(5)} scenarios/s (${ONE_BY_ONE}): ${(batchedRate / singleRate).toFixed(1)}× faster`,
    )
  }
  console.log(`load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
} finally {
  await lab.dispose()
}
