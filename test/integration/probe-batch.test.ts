/**
 * `probe --batch` on this machine's kernel, run directly with child_process (Lab.batch on a pty is
 * tested in explore.test.ts): each program prints what a probe of its own prints, a program that
 * dies loses only itself, a stop signal ends the batch after the program under way, every program's
 * directory is removed, it is clean under ASan/UBSan (mutated programs included), and --hold-ms
 * leaves a holder that keeps only its perf counters and ends by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listPresets, loadPreset } from '../../src/main/presets'
import { validateScenario, type Scenario, type ScenarioInput } from '../../src/shared/scenario'
import { batchProbeArgs, compileProgram, probeArgs } from '../../src/shared/probe/program'
import { ObservationBuilder, parseBatchLine, PROBE_EXIT } from '../../src/shared/probe/output'
import type { Observation } from '../../src/shared/results'
import { probeSources } from './fixtures/probe-source'

const CI = process.env.CI === 'true'
const isRoot = process.getuid?.() === 0
const hasGcc = spawnSync('gcc', ['--version']).status === 0
if (CI && (!isRoot || !hasGcc)) throw new Error(`probe batch tests need root and gcc on CI (root: ${isRoot}, gcc: ${hasGcc})`)
const canRun = isRoot && hasGcc
const why = !hasGcc ? 'no gcc' : !isRoot ? 'not root (tmpfs mounts need root)' : ''
const PAGE = 4096
const SANITIZERS = { ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=86', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87' }

let work = ''
let tmpfs = ''
let probe = ''
let probeAsan = ''
let counter = 0

function scenario(input: ScenarioInput): Scenario {
  const r = validateScenario(input, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

const longRepeat = scenario({
  name: 'long',
  files: [{ id: 'data', size: '16p' }],
  pipes: [{ id: 'p', size: '16p' }],
  ops: [{ op: 'repeat', times: 200_000, body: [{ op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '16p' }, { op: 'drain', pipe: 'p' }] }],
})

interface BatchRun {
  code: number | null
  stderr: string
  /** Each program's lines, by index, without the begin/end lines. */
  lines: string[][]
  exits: (number | undefined)[]
  /** Lines outside every program. */
  outside: string[]
}

/** Runs a batch; `onLine` sees each line as it comes (with the child, to signal it, and the program's index). */
function runBatch(
  programs: string[],
  o: { bin?: string; env?: NodeJS.ProcessEnv; holdMs?: number; timeoutMs?: number; onLine?: (line: string, child: ReturnType<typeof spawn>, index: number) => void } = {},
): Promise<BatchRun> {
  const path = join(work, `batch-${counter++}.txt`)
  writeFileSync(path, programs.join(''))
  const args = batchProbeArgs({ batchPath: path, dir: tmpfs, timeoutMs: o.timeoutMs ?? 20_000, holdMs: o.holdMs })
  return new Promise((resolve, reject) => {
    const child = spawn(o.bin ?? probe, args, { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const run: BatchRun = { code: null, stderr: '', lines: programs.map(() => []), exits: [], outside: [] }
    let current = -1
    let rest = ''
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()!
      for (const line of parts) {
        const b = parseBatchLine(line)
        if (b?.type === 'begin') current = b.index
        else if (b?.type === 'end') {
          run.exits[b.index] = b.exit
          current = -1
        } else if (current >= 0) run.lines[current]!.push(line)
        else if (line) run.outside.push(line)
        o.onLine?.(line, child, current)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => (run.stderr += c))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(guard)
      run.code = code
      resolve(run)
    })
  })
}

/** The same program run by a probe of its own: its lines and exit status. */
function runSingle(program: string): { lines: string[]; code: number | null } {
  const path = join(work, `single-${counter++}.txt`)
  writeFileSync(path, program)
  const r = spawnSync(probe, probeArgs({ programPath: path, dir: tmpfs, timeoutMs: 20_000 }), { encoding: 'utf8', timeout: 60_000 })
  return { lines: r.stdout.split('\n').filter(Boolean), code: r.status }
}

function observe(lines: string[]): Observation {
  const b = new ObservationBuilder()
  for (const l of lines) b.pushLine(l)
  return b.finish()
}

/** What a program observed, without what varies from one execution to the next (times, pids, page allocations). */
function outcomes(lines: string[]): unknown {
  const obs = observe(lines)
  return obs.ops.map((o) => ({
    path: o.path,
    outcome: o.outcome,
    histogram: o.histogram,
    iterations: o.iterations,
    tracepoints: Object.fromEntries(Object.entries(o.tracepoints ?? {}).filter(([name]) => !name.startsWith('kmem:'))),
  }))
}

const programOf = (s: Scenario): string => compileProgram(s, { pageSize: PAGE })

/** What the batch left in the scratch directory: program directories, probe files. */
const leftovers = (): string[] => readdirSync(tmpfs)

beforeAll(() => {
  if (!canRun) return
  work = mkdtempSync(join(tmpdir(), 'splicelab-batch-test-'))
  probe = join(work, 'probe')
  probeAsan = join(work, 'probe-asan')
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', probe, ...probeSources()], { encoding: 'utf8' })
  if (cc.status !== 0) throw new Error(`the probe does not compile:\n${cc.stdout}${cc.stderr}`)
  const asan = spawnSync('gcc', ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-Wall', '-Wextra', '-Werror', '-o', probeAsan, ...probeSources()], { encoding: 'utf8' })
  if (asan.status !== 0) throw new Error(`the sanitizer build failed:\n${asan.stdout}${asan.stderr}`)
  tmpfs = join(work, 'tmpfs')
  mkdirSync(tmpfs)
  spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512m,mode=0755', 'splicelab-batch-test', tmpfs])
})

afterAll(() => {
  if (tmpfs && spawnSync('umount', [tmpfs]).status !== 0) spawnSync('umount', ['-l', tmpfs])
  if (work) rmSync(work, { recursive: true, force: true })
})

describe.skipIf(!canRun)(`probe --batch on this kernel${why ? ` (skipped: ${why})` : ''}`, () => {
  it('prints for each program what a probe of its own prints for it, and removes every program directory', async () => {
    const names = ['write-after-splice', 'vmsplice-then-store', 'tee-then-write', 'fork-child-stores', 'fork-parent-stores', 'write-other-process', 'whitlock-punch-race', 'truncate-partial', 'splice-pipe-to-file']
    const available = new Set(listPresets(PAGE).map((p) => p.name))
    const programs = names.filter((n) => available.has(n)).map((n) => programOf(loadPreset(n, PAGE)))
    expect(programs.length).toBeGreaterThanOrEqual(6)
    const batch = await runBatch(programs)
    expect(batch.code).toBe(0)
    expect(batch.outside).toEqual([])
    expect(batch.exits).toEqual(programs.map(() => 0))
    for (const [i, program] of programs.entries()) {
      const single = runSingle(program)
      expect(single.code).toBe(0)
      const lines = batch.lines[i]!
      expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'hello' })
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: 'done', exit: 0 })
      // A race's outcomes vary from one execution to the next: the same ops and runs, then.
      if (names[i]!.includes('race')) expect(observe(lines).ops.map((o) => [o.path, o.iterations])).toEqual(observe(single.lines).ops.map((o) => [o.path, o.iterations]))
      else expect(outcomes(lines), names[i]).toEqual(outcomes(single.lines))
    }
    // Each program ran in a process of its own.
    const pids = batch.lines.map((l) => (JSON.parse(l[0]!) as { pid: number }).pid)
    expect(new Set(pids).size).toBe(programs.length)
    expect(leftovers()).toEqual([])
  })

  it('loses only the program whose process dies: the others run and report, its files are removed', async () => {
    const good = programOf(loadPreset('write-after-splice', PAGE))
    let killed = 0
    const batch = await runBatch([good, programOf(longRepeat), good], {
      onLine: (line, _child, index) => {
        const hello = line.startsWith('{"type":"hello"') ? (JSON.parse(line) as { pid: number }) : null
        if (hello && !killed && index === 1) {
          killed = hello.pid
          setTimeout(() => process.kill(hello.pid, 'SIGKILL'), 300)
        }
      },
    })
    expect(killed).toBeGreaterThan(0)
    expect(batch.code).toBe(0)
    expect(batch.exits).toEqual([0, 128 + 9, 0])
    expect(observe(batch.lines[0]!).ops.length).toBe(observe(batch.lines[2]!).ops.length)
    expect(observe(batch.lines[2]!).ops.find((o) => o.op === 'drain')!.outcome.drain!.changedBytes).toBeGreaterThan(0)
    expect(leftovers()).toEqual([])
  })

  it('on SIGTERM stops the program under way as a probe does, starts no other, and exits 143', async () => {
    const good = programOf(loadPreset('write-after-splice', PAGE))
    const batch = await runBatch([good, programOf(longRepeat), good], {
      onLine: (line, child, index) => {
        if (index === 1 && line.startsWith('{"type":"hello"')) setTimeout(() => child.kill('SIGTERM'), 300)
      },
    })
    expect(batch.code).toBe(PROBE_EXIT.sigterm)
    expect(batch.exits).toEqual([0, PROBE_EXIT.sigterm])
    const stopped = batch.lines[1]!
    expect(JSON.parse(stopped.at(-1)!)).toMatchObject({ type: 'done', exit: PROBE_EXIT.sigterm, signal: 'SIGTERM' })
    expect(observe(stopped).ops.map((o) => o.path)).toEqual(['ops[0].body[0]', 'ops[0].body[1]'])
    expect(batch.lines[2]).toEqual([])
    expect(leftovers()).toEqual([])
  })

  it('kills a program that outlives its time limit by the grace, and goes on', async () => {
    // A program whose op timer cannot fire: stop the process (SIGSTOP) right after its hello.
    let stoppedPid = 0
    const good = programOf(loadPreset('write-after-splice', PAGE))
    const t0 = Date.now()
    const batch = await runBatch([programOf(longRepeat), good], {
      timeoutMs: 300,
      onLine: (line) => {
        if (!stoppedPid && line.startsWith('{"type":"hello"')) {
          stoppedPid = (JSON.parse(line) as { pid: number }).pid
          process.kill(stoppedPid, 'SIGSTOP')
        }
      },
    })
    expect(batch.exits).toEqual([128 + 9, 0])
    expect(batch.lines[0]!.some((l) => l.includes('"code":"timeout"'))).toBe(true)
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(leftovers()).toEqual([])
  })

  it('refuses a bad program in the batch as a probe refuses it (exit 2) and runs the next', async () => {
    const good = programOf(loadPreset('write-after-splice', PAGE))
    const bad = good.replace('len=200', 'len=two')
    const truncated = good.replace('\nend\n', '\n')
    const batch = await runBatch([good, bad, good, truncated])
    expect(batch.exits).toEqual([0, PROBE_EXIT.usage, 0, PROBE_EXIT.usage])
    expect(batch.lines[1]!.join('\n')).toMatch(/len=two: expected a non-negative integer/)
    expect(batch.lines[3]!.join('\n')).toMatch(/no `end` line/)
    // A batch of blank lines holds no program.
    const blank = await runBatch(['\n\n'])
    expect(blank.exits).toEqual([])
    expect(blank.code).toBe(0)
  })

  it('runs presets and mutated programs under AddressSanitizer and UBSan: no report, exits 0 or 2, no file left', async () => {
    const programs = listPresets(PAGE)
      .filter((p) => !p.name.startsWith('streaming'))
      .map((p) => programOf(loadPreset(p.name, PAGE)).split('\n'))
    const words = ['op', 'repeat', 'end', 'runs', 'file', 'pipe', 'close', 'len=all', 'len=-1', 'offset=99999999999999999999', 'file=64', 'pipe=-1', 'times=0', 'body=4096', 'fault=read', 'size=0', 'x=y', '#']
    const edit = fc.record({ line: fc.nat(), at: fc.nat(), word: fc.constantFrom(...words), kind: fc.constantFrom('replace', 'insert', 'delete-line', 'repeat-line') })
    const mutated = fc.sample(
      fc.tuple(fc.nat(programs.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([which, edits]) => {
        const lines = [...programs[which]!]
        for (const e of edits) {
          const k = e.line % lines.length
          const toks = lines[k]!.split(' ')
          if (e.kind === 'replace') toks[e.at % toks.length] = e.word
          else if (e.kind === 'insert') toks.splice(e.at % (toks.length + 1), 0, e.word)
          if (e.kind === 'delete-line' && lines.length > 2) lines.splice(k, 1)
          else if (e.kind === 'repeat-line') lines.splice(k, 0, lines[k]!)
          else lines[k] = toks.join(' ')
        }
        // Every program ends at its own `end` line, as compileProgram writes it.
        const text = lines.filter((l) => l.trim() !== 'end').join('\n')
        return `${text.trimEnd()}\nend\n`
      }),
      { numRuns: 40, seed: 20261129 },
    )
    const batch = await runBatch([...programs.slice(0, 6).map((l) => l.join('\n')), ...mutated], { bin: probeAsan, env: SANITIZERS, timeoutMs: 5000 })
    expect(batch.stderr).toBe('')
    expect(batch.code).toBe(0)
    expect(batch.exits).toHaveLength(6 + mutated.length)
    for (const e of batch.exits) expect([0, 2]).toContain(e)
    expect(batch.exits.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0])
    expect(new Set(batch.exits.slice(6))).toEqual(new Set([0, 2]))
    expect(leftovers()).toEqual([])
  })

  it('with --hold-ms leaves a holder that keeps only its perf counters, holds no scratch directory, and ends by itself', async () => {
    const batch = await runBatch([programOf(loadPreset('write-after-splice', PAGE))], { holdMs: 1500 })
    expect(batch.code).toBe(0)
    const holders = (): number[] =>
      spawnSync('pgrep', ['-f', '--', `--batch ${work}/batch-${counter - 1}.txt`], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map(Number)
    const [holder, ...more] = holders()
    expect(holder).toBeGreaterThan(0)
    expect(more).toEqual([])
    const fds = readdirSync(`/proc/${holder}/fd`).map((fd) => readlinkSync(`/proc/${holder}/fd/${fd}`))
    expect(fds.slice(0, 3)).toEqual(['/dev/null', '/dev/null', '/dev/null'])
    expect(new Set(fds.slice(3))).toEqual(new Set(['anon_inode:[perf_event]']))
    expect(readlinkSync(`/proc/${holder}/cwd`)).toBe('/')
    const until = Date.now() + 10_000
    while (existsSync(`/proc/${holder}`) && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    expect(existsSync(`/proc/${holder}`)).toBe(false)
    // Without --hold-ms nothing stays.
    await runBatch([programOf(loadPreset('write-after-splice', PAGE))])
    expect(holders()).toEqual([])
  })
})
