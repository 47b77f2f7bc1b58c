/**
 * The live flood of `npm run bench:trace`: a splice/tee/vmsplice loop runs for FLOOD_SECONDS under the
 * lab's tracer (this machine's local target, default events, default ring) through the text
 * trace_pipe, the binary trace_pipe_raw reader (the lab reads the files), and the binary pages
 * streamed by the tracepipe helper over a pipe (how ssh and VM targets read them; here the local
 * session stands for such a target), alternating, FLOOD_ROUNDS times each.
 * Per run: the events the kernel made (read + lost, where lost is what the ring overwrote) and their
 * rate, how many were read and lost, a cross-check against the workload's own count of its syscalls
 * (each makes an enter and an exit event), and the CPU time of the lab per million events read: this
 * process plus every process it started (the text path's `cat trace_pipe`, in whose read() the kernel
 * formats the text), the workload excluded.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectLocal } from '../src/main/target/local'
import { shellQuote } from '../src/main/target/quote'
import { openTracer } from '../src/main/lab/tracer'
import { buildTracepipeOnHost } from '../src/main/lab/trace-raw'
import type { Target } from '../src/main/target/types'
import type { TraceRecord } from '../src/shared/trace/parser'

/** How long each flood runs. Default 5 s. */
const FLOOD_SECONDS = 5
/** Runs per path, text and binary alternating (the machine has slow phases). Default 2. */
const FLOOD_ROUNDS = 2
/** How often the lab's child processes' CPU time is sampled (they are gone after stop). Default 100 ms. */
const SAMPLE_MS = 100
const WORKLOAD_NAME = 'splicelab-flood'

/** The splice loop, run for argv[2] seconds; prints how many splice, tee and vmsplice calls it made. */
function floodSource(loop: string): string {
  return loop
    .replace('#include <unistd.h>', '#include <unistd.h>\n#include <time.h>\nstatic long calls;')
    .replace(/int iters = atoi\(argv\[2\]\);/, 'double secs = atof(argv[2]); struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);')
    .replace(/for \(int i = 0; i < iters; i\+\+\) \{/, 'for (;;) { clock_gettime(CLOCK_MONOTONIC, &t); if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= secs) break; calls += 6;')
    .replace('unlink(path);', 'unlink(path); printf("calls=%ld\\n", calls);')
}

/** utime + stime (clock ticks) of every live descendant of `root` but the workload. */
function descendantsCpu(root: number): Map<number, number> {
  const parent = new Map<number, number>()
  const cpu = new Map<number, number>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1')
      const close = stat.lastIndexOf(')')
      const comm = stat.slice(stat.indexOf('(') + 1, close)
      const f = stat.slice(close + 2).split(' ')
      parent.set(Number(d), Number(f[1]))
      if (comm !== WORKLOAD_NAME) cpu.set(Number(d), Number(f[11]) + Number(f[12]))
    } catch {
      // gone
    }
  }
  const out = new Map<number, number>()
  for (const [pid, ticks] of cpu) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        out.set(pid, ticks)
        break
      }
    }
  }
  return out
}

type FloodPath = 'text' | 'binary' | 'helper'

interface FloodResult {
  path: FloodPath
  seconds: number
  read: number
  lost: number
  syscallEvents: number
  syscallsExpected: number
  cpuMs: number
  why: string
}

async function floodOnce(exe: string, work: string, path: FloodPath, helper: string): Promise<FloodResult> {
  const local = await connectLocal()
  const text = path === 'text'
  // The helper path: this session seen as a remote target that hands out its own helper (as a VM does).
  const target: Target = path === 'helper' ? Object.assign(Object.create(local) as Target, { kind: 'ssh' as const, provideTracepipe: async () => helper }) : local
  try {
    let syscallEvents = 0
    const onRecord = (r: TraceRecord): void => {
      if (r.kind === 'event' && (r.name.startsWith('syscalls:sys_enter_') || r.name.startsWith('syscalls:sys_exit_'))) syscallEvents++
    }
    const tracer = await openTracer(target, { text, keepRawChars: 0, onRecord })
    try {
      await tracer.start(() => undefined)
      const ticks = new Map<number, number>()
      const sample = (): void => {
        for (const [pid, t] of descendantsCpu(process.pid)) ticks.set(pid, t)
      }
      sample()
      const ticks0 = new Map(ticks)
      const cpu0 = process.cpuUsage()
      const sampler = setInterval(sample, SAMPLE_MS)
      const t0 = Date.now()
      const r = await target.exec(tracer.wrap([exe, work, String(FLOOD_SECONDS)].map(shellQuote).join(' ')), { timeoutMs: 120_000 })
      const seconds = (Date.now() - t0) / 1000
      if (r.code !== 0) throw new Error(`the flood workload failed: ${r.output}`)
      const calls = Number(/calls=(\d+)/.exec(r.output)?.[1] ?? NaN)
      const summary = await tracer.stop()
      clearInterval(sampler)
      const cpu = process.cpuUsage(cpu0)
      const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
      let childTicks = 0
      for (const [pid, t] of ticks) childTicks += t - (ticks0.get(pid) ?? 0)
      return {
        path,
        seconds,
        read: summary.events,
        lost: summary.lost,
        syscallEvents,
        syscallsExpected: 2 * calls,
        cpuMs: (cpu.user + cpu.system) / 1000 + (childTicks * 1000) / hz,
        why: summary.reader?.why ?? '',
      }
    } finally {
      await tracer.dispose()
    }
  } finally {
    await local.dispose()
  }
}

export async function flood(work: string, loopSource: string): Promise<void> {
  const exe = join(work, WORKLOAD_NAME)
  writeFileSync(`${exe}.c`, floodSource(loopSource))
  execFileSync('gcc', ['-O2', '-o', exe, `${exe}.c`])
  const helper = await buildTracepipeOnHost(join(work, 'tracepipe'))
  console.log(`\nlive flood: the splice loop for ${FLOOD_SECONDS} s under the tracer (default events, 8 MiB per-CPU ring); text, binary (files read by the lab) and helper (binary pages through tracepipe and a pipe) alternating`)
  const results: FloodResult[] = []
  for (let i = 0; i < FLOOD_ROUNDS; i++) {
    for (const path of ['text', 'binary', 'helper'] as const) {
      const r = await floodOnce(exe, work, path, helper)
      results.push(r)
      const made = r.read + r.lost
      console.log(
        `  ${r.path.padEnd(6)}  made ${(made / 1e6).toFixed(2)} M (${((made / r.seconds) / 1e3).toFixed(0)} k events/s)  read ${(r.read / 1e6).toFixed(2)} M  lost ${r.lost} (${((r.lost / Math.max(1, made)) * 100).toFixed(1)} %)` +
          `  syscall events ${r.syscallEvents}/${r.syscallsExpected}  lab CPU ${(r.cpuMs / 1000).toFixed(2)} s = ${(r.cpuMs / Math.max(1e-9, r.read / 1e6)).toFixed(0)} ms per M events read`,
      )
      if (r.path !== 'text' && !/trace_pipe_raw|tracepipe/.test(r.why)) console.log(`    (binary path not used: ${r.why})`)
    }
  }
  const per = (path: FloodPath, f: (r: FloodResult) => number): number => {
    const rs = results.filter((r) => r.path === path)
    return rs.reduce((n, r) => n + f(r), 0) / rs.length
  }
  const loss = (path: FloodPath): string => `${(per(path, (r) => r.lost / Math.max(1, r.read + r.lost)) * 100).toFixed(1)} %`
  const cpu = (path: FloodPath): number => per(path, (r) => r.cpuMs / (r.read / 1e6))
  console.log(`  mean lost: text ${loss('text')}, binary ${loss('binary')}, helper ${loss('helper')}`)
  console.log(`  lab CPU per M events read: text ${cpu('text').toFixed(0)} ms, binary ${cpu('binary').toFixed(0)} ms (${(cpu('binary') / cpu('text')).toFixed(2)}× text), helper ${cpu('helper').toFixed(0)} ms (${(cpu('helper') / cpu('text')).toFixed(2)}× text)`)
}
