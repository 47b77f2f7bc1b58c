/**
 * Stopping the probe: SIGTERM or SIGINT (a cancelled run) lets the op under way finish and keeps
 * every completed op's line, then a clean end — an error line and a done line naming the signal,
 * exit 128 + N, files removed. Children the probe forks die with it, on SIGTERM and on SIGKILL.
 * The probe binary gets a name of its own here, so its children can be found by name afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SCENARIO_LIMITS, validateScenario, type ScenarioInput } from '../../src/shared/scenario'
import { compileProgram, probeArgs } from '../../src/shared/probe/program'
import { ObservationBuilder, PROBE_EXIT, type ProbeDoneLine } from '../../src/shared/probe/output'
import { probeSources } from './fixtures/probe-source'

const CI = process.env.CI === 'true'
const hasGcc = spawnSync('gcc', ['--version']).status === 0
if (CI && !hasGcc) throw new Error('the probe stop tests need gcc on CI')
const why = !hasGcc ? 'no gcc' : ''

/**
 * Iterations of a 16-page splice + drain that outlast any wait here before the probe is stopped
 * (seconds on this machine), within the schema's bound on simulated work.
 */
const LONG_REPEAT = 200_000
/** comm is 15 characters at most: a name no other process on the machine has. */
const NAME = `slstop${process.pid % 1_000_000}`
let work = ''
let scratch = ''
let probe = ''

beforeAll(() => {
  if (why) return
  work = mkdtempSync(join(tmpdir(), 'splicelab-probe-stop-'))
  scratch = join(work, 'scratch')
  mkdirSync(scratch)
  probe = join(work, NAME)
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', probe, ...probeSources()])
})

afterAll(() => {
  for (const p of processesNamed(NAME)) spawnSync('kill', ['-9', p.split(' ')[0]!])
  if (work) rmSync(work, { recursive: true, force: true })
})

/**
 * Live processes of this name, as "pid state ppid N". A zombie (Z) has exited already and holds
 * nothing: an orphan waits as one until its new parent (init here) reaps it.
 */
function processesNamed(name: string): string[] {
  const found: string[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (comm === name && state !== 'Z' && state !== 'X') found.push(`${d} ${state} ppid ${ppid}`)
    } catch {
      // gone meanwhile
    }
  }
  return found
}

const leftovers = (): string[] => readdirSync(scratch).filter((f) => f.startsWith('splicelab-'))

let counter = 0
function program(input: ScenarioInput): string {
  const r = validateScenario(input, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  const path = join(work, `program-${counter++}.txt`)
  writeFileSync(path, compileProgram(r.scenario, { pageSize: 4096 }))
  return path
}

interface Stopped {
  code: number | null
  signal: NodeJS.Signals | null
  builder: ObservationBuilder
}

/** Starts the probe, sends `sig` once `ready` holds for its output, and waits for it to end. */
function runAndStop(programPath: string, sig: NodeJS.Signals, ready: (out: string) => boolean, delayMs = 200): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(probe, probeArgs({ programPath, dir: scratch }), { stdio: ['ignore', 'pipe', 'pipe'] })
    const builder = new ObservationBuilder()
    let out = ''
    let sent = false
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c
      builder.push(c)
      if (!sent && ready(out)) {
        sent = true
        setTimeout(() => child.kill(sig), delayMs)
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, builder })
    })
  })
}

const streaming: ScenarioInput = {
  name: 'stop',
  files: [{ id: 'data', size: '16p' }],
  pipes: [{ id: 'p', size: '16p' }],
  ops: [
    { op: 'pwrite', file: 'data', offset: 0, len: 10 },
    { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
    { op: 'drain', pipe: 'p' },
    {
      op: 'repeat',
      times: LONG_REPEAT,
      body: [
        { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '16p' },
        { op: 'pwrite', file: 'data', offset: 0, len: 1 },
        { op: 'drain', pipe: 'p' },
      ],
    },
    { op: 'fsync', file: 'data' },
  ],
}

describe.skipIf(!!why)(`stopping the probe${why ? ` (skipped: ${why})` : ''}`, () => {
  for (const [sig, code] of [['SIGTERM', PROBE_EXIT.sigterm], ['SIGINT', PROBE_EXIT.sigint]] as const) {
    it(`on ${sig} finishes the iteration under way, keeps every op line, ends cleanly with exit ${code}`, async () => {
      const r = await runAndStop(program(streaming), sig, (out) => out.includes('"path":"ops[2]"'))
      expect(r.signal).toBeNull()
      expect(r.code).toBe(code)
      const obs = r.builder.finish()
      // The ops before the repeat, then each body op once; the op after the repeat never started.
      expect(obs.ops.map((o) => o.path)).toEqual(['ops[0]', 'ops[1]', 'ops[2]', 'ops[3].body[0]', 'ops[3].body[1]', 'ops[3].body[2]'])
      const iterations = obs.ops.slice(3).map((o) => o.iterations)
      expect(iterations[0]).toBeGreaterThan(0)
      expect(iterations[0]).toBeLessThan(LONG_REPEAT)
      // The iteration under way when the signal came was finished by every body op.
      expect(new Set(iterations).size).toBe(1)
      expect(obs.ops[5]!.outcome).toMatchObject({ ret: 16 * 4096, errno: null })
      expect(r.builder.errors.map((e) => e.code)).toEqual(['signal'])
      expect(r.builder.errors[0]!.message).toBe(`stopped by ${sig} after 6 op lines; files removed`)
      expect(r.builder.done).toEqual({ type: 'done', ops: 6, exit: code, signal: sig } satisfies ProbeDoneLine)
      expect(leftovers()).toEqual([])
    })
  }

  const forking: ScenarioInput = {
    name: 'forks',
    files: [{ id: 'data', size: '4p' }],
    buffers: [{ id: 'buf', size: '4p' }],
    pipes: [{ id: 'p' }],
    ops: [
      { op: 'fsync', file: 'data' },
      {
        op: 'repeat',
        times: SCENARIO_LIMITS.maxTimes,
        body: [
          { op: 'fork', store: 'parent', buffer: 'buf', offset: 0, len: 100 },
          { op: 'write_other_process', file: 'data', offset: 0, len: 100 },
          { op: 'fork', store: 'child', buffer: 'buf', offset: 0, len: 100 },
        ],
      },
    ],
  }

  it('leaves no forked child behind when stopped by SIGTERM in the middle of forking', async () => {
    const r = await runAndStop(program(forking), 'SIGTERM', (out) => out.includes('"path":"ops[0]"'), 300)
    expect(r.code).toBe(PROBE_EXIT.sigterm)
    const obs = r.builder.finish()
    expect(obs.ops.map((o) => o.path)).toEqual(['ops[0]', 'ops[1].body[0]', 'ops[1].body[1]', 'ops[1].body[2]'])
    for (const o of obs.ops) expect(o.outcome, o.path).toEqual({ ret: o.op === 'write_other_process' ? 100 : 0, errno: null })
    expect(processesNamed(NAME)).toEqual([])
    expect(leftovers()).toEqual([])
  })

  it('leaves no forked child behind when killed with SIGKILL in the middle of forking', async () => {
    const r = await runAndStop(program(forking), 'SIGKILL', (out) => out.includes('"path":"ops[0]"'), 300)
    expect(r.signal).toBe('SIGKILL')
    expect(r.builder.finish('killed').ops.map((o) => o.path)).toEqual(['ops[0]'])
    // Children live well under a millisecond, so this checks the outcome; the parent-death signal
    // (fork_child_init) is what ends one the kernel had not yet run to its end.
    let alive = processesNamed(NAME)
    for (let i = 0; i < 20 && alive.length; i++) {
      await new Promise((res) => setTimeout(res, 50))
      alive = processesNamed(NAME)
    }
    expect(alive).toEqual([])
    // SIGKILL leaves the files: the caller removes the scratch directory.
    for (const f of leftovers()) rmSync(join(scratch, f))
  })
})
