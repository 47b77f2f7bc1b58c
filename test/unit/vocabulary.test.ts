/**
 * Drift between the lab's layers and its one vocabulary (src/shared/vocabulary.ts): every layer
 * that speaks of tracepoints, live series, filesystems or probe exit codes takes them from there,
 * and no other file declares such a list of its own.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { FILESYSTEMS, LIVE_SERIES, PROBE_EXIT, TRACEPOINTS, TRACE_EVENTS, TRACED_EVENTS } from '../../src/shared/vocabulary'
import { Filesystem } from '../../src/shared/scenario/schema'
import { PROBE_EXIT as OUTPUT_PROBE_EXIT } from '../../src/shared/probe/output'
import { TraceAggregator } from '../../src/shared/trace/aggregate'
import { TraceStreamParser, type TraceRecord } from '../../src/shared/trace/parser'
import { DEFAULT_EVENTS } from '../../src/main/lab/tracer'
import { defaultEnv, predictAll } from '../../src/shared/model'
import { POLICIES } from '../../src/shared/results'
import { listPresets, loadPreset } from '../../src/main/presets'

const root = join(import.meta.dirname, '../..')

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (/\.(ts|vue)$/.test(name) && !/\.test\.ts$/.test(name)) out.push(path)
  }
  return out
}

describe('the vocabulary', () => {
  it('is what the scenario schema, the probe reader and the tracer use', () => {
    expect(Filesystem.options).toEqual([...FILESYSTEMS])
    expect(OUTPUT_PROBE_EXIT).toBe(PROBE_EXIT)
    expect([...DEFAULT_EVENTS]).toEqual([...TRACED_EVENTS])
    for (const tp of TRACEPOINTS) expect(TRACED_EVENTS).toContain(tp.replace(':', '/'))
  })

  it('names every event the trace parser qualifies', () => {
    const records: TraceRecord[] = []
    const parser = new TraceStreamParser((r) => records.push(r))
    // The text format prints syscall events as "sys_splice(args)" and "sys_splice -> ret".
    const body = (event: string): string => {
      const m = /^sys_(enter|exit)_(\w+)$/.exec(event)
      if (!m) return `${event}: x=1`
      return m[1] === 'enter' ? `sys_${m[2]}(fd_in: 3)` : `sys_${m[2]} -> 0x1000`
    }
    const lines = TRACE_EVENTS.map((e, i) => `           probe-1234    [000] ..... 100.${String(i).padStart(6, '0')}: ${body(e.split(':')[1]!)}\n`)
    parser.push(lines.join(''))
    parser.end()
    expect(records.map((r) => (r.kind === 'event' ? r.name : 'lost'))).toEqual([...TRACE_EVENTS])
  })

  it('is every live series the aggregator makes, and nothing else', () => {
    const agg = new TraceAggregator(4096)
    const parser = new TraceStreamParser((r) => agg.push(r))
    parser.push('           probe-1234    [000] ..... 100.000001: sys_splice(fd_in: 3)\n           probe-1234    [000] ..... 100.000002: sys_splice -> 0x1000\n')
    parser.end()
    const buckets = agg.takeBuckets(true)
    expect(buckets.length).toBeGreaterThan(0)
    for (const b of buckets) expect(Object.keys(b.counts).sort()).toEqual([...LIVE_SERIES].sort())
  })

  it('holds every tracepoint the model predicts, for every preset, policy and filesystem', () => {
    const seen = new Set<string>()
    for (const { name } of listPresets()) {
      const scenario = loadPreset(name)
      for (const fs of FILESYSTEMS) {
        const predictions = predictAll(scenario, defaultEnv(fs))
        for (const p of POLICIES) for (const op of predictions[p].ops) for (const tp of Object.keys(op.tracepoints)) seen.add(tp)
      }
    }
    expect(seen.size).toBeGreaterThan(0)
    for (const tp of seen) expect(TRACEPOINTS as readonly string[]).toContain(tp)
  })

  it('is the tracepoint list of the probe source', () => {
    const dir = join(root, 'resources/probe')
    const names = new Set<string>()
    for (const f of readdirSync(dir).filter((n) => /\.[ch]$/.test(n))) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/"((?:syscalls|filemap|kmem):[a-z0-9_]+)"/g)) names.add(m[1]!)
    }
    expect([...names].sort()).toEqual([...TRACEPOINTS].sort())
  })

  it('is declared nowhere else in src/', () => {
    const lists: [string, RegExp][] = [
      ['filesystems', /['"]tmpfs['"]\s*,\s*['"]ext4['"]/],
      ['live series', /['"]stolen['"]\s*,\s*['"]copied['"]\s*,\s*['"]reloads['"]|copied: 0, reloads: 0/],
      ['tracepoints', /['"](?:syscalls|filemap|kmem)[:/][a-z0-9_]+['"]\s*,\s*['"](?:syscalls|filemap|kmem)[:/]/],
      ['probe exit codes', /usage: 2,|setup: 3,/],
    ]
    const offenders: string[] = []
    for (const file of sourceFiles(join(root, 'src'))) {
      const rel = relative(root, file)
      if (rel === 'src/shared/vocabulary.ts') continue
      const text = readFileSync(file, 'utf8')
      for (const [what, re] of lists) if (re.test(text)) offenders.push(`${rel} declares ${what}`)
    }
    expect(offenders).toEqual([])
  })
})
