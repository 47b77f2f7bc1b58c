/**
 * The C probe on this machine's real kernel, run directly with child_process (the pty/ssh path is
 * tested in run.test.ts): a warning-free build, an ASan/UBSan build, the C pattern against the TS
 * pattern, the seed's write-after-splice case and a control on a tmpfs mounted here, perf tracepoint
 * counts, trace markers in a private ftrace instance, every preset, and the failure paths (killed
 * mid-run, timeout, SIGTERM, unwritable scratch dir, bad program).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listPresets, loadPreset } from '../../src/main/presets'
import { patternByte, type Scenario } from '../../src/shared/scenario'
import { compileProgram, probeArgs } from '../../src/shared/probe/program'
import { ObservationBuilder, parseCalibrationOutput, PROBE_EXIT } from '../../src/shared/probe/output'
import type { Observation, OpObservation } from '../../src/shared/results'
import { probeSources } from './fixtures/probe-source'
import { scenario } from './fixtures/lab'

const CI = process.env.CI === 'true'
const isRoot = process.getuid?.() === 0
const hasGcc = spawnSync('gcc', ['--version']).status === 0
const SOURCES = probeSources()
const TRACEFS = '/sys/kernel/tracing'
const PAGE = 4096
/**
 * Iterations of a 16-page splice + drain that outlast any wait of these tests before they stop the
 * probe (seconds here), within the schema's bound on simulated work (SCENARIO_LIMITS).
 */
const LONG_REPEAT = 200_000

// On CI every prerequisite must be there: fail loudly rather than skip.
if (CI && (!isRoot || !hasGcc)) throw new Error(`probe integration tests need root and gcc on CI (root: ${isRoot}, gcc: ${hasGcc})`)
const canRun = isRoot && hasGcc
const why = !hasGcc ? 'no gcc' : !isRoot ? 'not root (tmpfs mounts need root)' : ''

let work = ''
let tmpfs = ''
let roMount = ''
let probe = ''
let probeAsan = ''
let gccOutput = ''
const mounted: string[] = []

interface ProbeRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  builder: ObservationBuilder
  obs: Observation
}

let programCounter = 0
function writeProgram(s: Scenario): string {
  const path = join(work, `program-${programCounter++}.txt`)
  writeFileSync(path, compileProgram(s, { pageSize: PAGE }))
  return path
}

/** Runs the probe; feeds stdout to an ObservationBuilder in the chunks it arrives in. */
function runProbe(
  bin: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number } = {},
): Promise<ProbeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const builder = new ObservationBuilder()
    let stdout = ''
    let stderr = ''
    const guard = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      builder.push(c)
      opts.onStdout?.(c, child)
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      const incomplete = signal ? `the probe was killed by ${signal}` : code !== 0 ? `the probe exited with status ${code}` : undefined
      resolve({ code, signal, stdout, stderr, builder, obs: builder.finish(incomplete) })
    })
  })
}

function runScenario(s: Scenario, dir = tmpfs, extra: { marker?: string; timeoutMs?: number; bin?: string; env?: NodeJS.ProcessEnv } = {}) {
  const args = probeArgs({ programPath: writeProgram(s), dir, marker: extra.marker, timeoutMs: extra.timeoutMs })
  return runProbe(extra.bin ?? probe, args, { env: extra.env })
}

function op(obs: Observation, path: string): OpObservation {
  const o = obs.ops.find((x) => x.path === path)
  if (!o) throw new Error(`no op ${path} in ${obs.ops.map((x) => x.path).join(', ')}`)
  return o
}

/** Lines the probe prints for one run of a scenario: one per leaf op, one per repeat body op and raced op (results.ts). */
function expectedOpLines(s: Scenario): number {
  return s.ops.reduce((n, o) => n + (o.op === 'repeat' ? o.body.length : o.op === 'race' ? o.ops.length : 1), 0)
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('splicelab-'))
}

beforeAll(() => {
  if (!canRun) return
  work = mkdtempSync(join(tmpdir(), 'splicelab-probe-test-'))
  probe = join(work, 'probe')
  probeAsan = join(work, 'probe-asan')
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', probe, ...SOURCES], { encoding: 'utf8' })
  gccOutput = cc.stdout + cc.stderr
  if (cc.status !== 0) throw new Error(`the probe does not compile warning-free:\n${gccOutput}`)
  const asan = spawnSync('gcc', ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-Wall', '-Wextra', '-Werror', '-o', probeAsan, ...SOURCES], { encoding: 'utf8' })
  if (asan.status !== 0) throw new Error(`the sanitizer build failed:\n${asan.stdout}${asan.stderr}`)
  tmpfs = join(work, 'tmpfs')
  mkdirSync(tmpfs)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m,mode=0755', 'splicelab-probe-test', tmpfs])
  mounted.push(tmpfs)
  roMount = join(work, 'ro')
  mkdirSync(roMount)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'splicelab-probe-test-ro', roMount])
  mounted.push(roMount)
})

afterAll(() => {
  for (const m of mounted.reverse()) {
    const r = spawnSync('umount', [m])
    if (r.status !== 0) spawnSync('umount', ['-l', m])
  }
  if (work) rmSync(work, { recursive: true, force: true })
})

describe.skipIf(!canRun)(`the probe on this kernel${why ? ` (skipped: ${why})` : ''}`, () => {
  it('compiles with -O2 -Wall -Wextra -Werror without a single warning', () => {
    expect(gccOutput).toBe('')
    expect(existsSync(probe)).toBe(true)
  })

  it('computes the same pattern bytes as patternByte() in TypeScript', () => {
    const check = (spec: string, pattern: { fill: number } | { seq: number }, pos: number, count: number) => {
      const out = execFileSync(probe, ['--pattern', spec, String(pos), String(count)], { encoding: 'utf8' }).trim().split(' ').map(Number)
      const ts = Array.from({ length: count }, (_, i) => patternByte(pattern, pos + i))
      expect(out).toEqual(ts)
    }
    check('seq:1', { seq: 1 }, 0, 3 * PAGE)
    check('seq:1000000', { seq: 1_000_000 }, 2 ** 31 - 600, 1200)
    check('fill:66', { fill: 66 }, 12345, 100)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 2 ** 40 }), (seq, pos) => {
        check(`seq:${seq}`, { seq }, pos, 300)
      }),
      { numRuns: 40 },
    )
  })

  it('shows the pwrite after splice to the reader: 200 bytes at offset 100 hold the current file content', async () => {
    const r = await runScenario(loadPreset('write-after-splice'))
    expect(r.code).toBe(0)
    expect(r.obs.incomplete).toBeUndefined()
    expect(op(r.obs, 'ops[0]').outcome).toEqual({ ret: PAGE, errno: null })
    expect(op(r.obs, 'ops[1]').outcome).toEqual({ ret: 200, errno: null })
    expect(op(r.obs, 'ops[2]').outcome.drain).toEqual({ read: PAGE, changed: [{ start: 100, end: 300, holds: 'current' }], changedBytes: 200 })
    expect(leftovers(tmpfs)).toEqual([])
    // The real output, cut at every position (as a pty or ssh channel may deliver it), reads the same.
    const crlf = r.stdout.replace(/\n/g, '\r\n')
    for (let cut = 0; cut <= crlf.length; cut++) {
      const b = new ObservationBuilder()
      b.push(crlf.slice(0, cut))
      b.push(crlf.slice(cut))
      expect(b.finish()).toEqual(r.obs)
    }
  })

  it('control: a write to a page that was not spliced changes nothing the reader sees', async () => {
    const s = scenario({
      name: 'control',
      files: [{ id: 'data', size: '4p' }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'pwrite', file: 'data', offset: '2p+100', len: 200 },
        { op: 'drain', pipe: 'p' },
      ],
    })
    const r = await runScenario(s)
    expect(r.code).toBe(0)
    expect(op(r.obs, 'ops[2]').outcome.drain).toEqual({ read: PAGE, changed: [], changedBytes: 0 })
  })

  it('counts changed bytes exactly, byte by byte, and caps the ranges at MAX_RANGES', async () => {
    // 8 pages overwritten with 0x42 over the seq:1 pattern: the pattern's own 0x42 bytes are not
    // changes, so the changed bytes split into far more than 64 ranges.
    const s = scenario({
      name: 'many-ranges',
      files: [{ id: 'data', size: '8p', pattern: { seq: 1 } }],
      pipes: [{ id: 'p', size: '16p' }],
      ops: [
        { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '8p' },
        { op: 'pwrite', file: 'data', offset: 0, len: '8p', pattern: { fill: 0x42 } },
        { op: 'drain', pipe: 'p' },
      ],
    })
    const r = await runScenario(s)
    const drain = op(r.obs, 'ops[2]').outcome.drain!
    let expected = 0
    const starts: number[] = []
    for (let i = 0; i < 8 * PAGE; i++) {
      if (patternByte({ seq: 1 }, i) === 0x42) continue
      if (i === 0 || patternByte({ seq: 1 }, i - 1) === 0x42) starts.push(i)
      expected++
    }
    expect(starts.length).toBeGreaterThan(64)
    expect(drain.read).toBe(8 * PAGE)
    expect(drain.changedBytes).toBe(expected)
    expect(drain.changed).toHaveLength(64)
    expect(drain.changed.map((c) => c.start)).toEqual(starts.slice(0, 64))
    expect(drain.changed.every((c) => c.holds === 'current')).toBe(true)
  })

  it.skipIf(!existsSync(`${TRACEFS}/events/syscalls/sys_enter_splice/id`) && !CI)('counts tracepoints per op with perf: one sys_enter_splice for the splice op', async () => {
    const r = await runScenario(loadPreset('write-after-splice'))
    expect(r.obs.facts.perf).toBe(true)
    expect(op(r.obs, 'ops[0]').tracepoints?.['syscalls:sys_enter_splice']).toBe(1)
    expect(op(r.obs, 'ops[1]').tracepoints?.['syscalls:sys_enter_splice']).toBe(0)
    expect(op(r.obs, 'ops[2]').tracepoints?.['syscalls:sys_enter_splice']).toBe(0)
    // This machine has no hardware PMU and no /proc/fs/splice: both said so, not faked.
    expect(op(r.obs, 'ops[0]').stats).toBeNull()
    expect(r.obs.facts.spliceStats).toBe(existsSync('/proc/fs/splice'))
  })

  it.skipIf(!existsSync(`${TRACEFS}/instances`) && !CI)('brackets every op with splicelab:begin/end markers in a private ftrace instance', async () => {
    const inst = `${TRACEFS}/instances/splicelab-probe-test-${process.pid}`
    mkdirSync(inst)
    try {
      const r = await runScenario(loadPreset('write-after-splice'), tmpfs, { marker: `${inst}/trace_marker` })
      expect(r.code).toBe(0)
      expect(r.obs.facts.traceMarker).toBe(true)
      const markers = readFileSync(`${inst}/trace`, 'utf8')
        .split('\n')
        .map((l) => /tracing_mark_write: (splicelab:\S+ \S+)/.exec(l)?.[1])
        .filter(Boolean)
      expect(markers).toEqual(['ops[0]', 'ops[1]', 'ops[2]'].flatMap((p) => [`splicelab:begin ${p}`, `splicelab:end ${p}`]))
    } finally {
      rmdirSync(inst)
    }
  })

  it('runs every preset in resources/scenarios on tmpfs to completion with no error line', async () => {
    const presets = listPresets(PAGE)
    expect(presets.length).toBeGreaterThan(0)
    const timings: string[] = []
    for (const p of presets) {
      const s = loadPreset(p.name, PAGE)
      const t0 = performance.now()
      const r = await runScenario(s)
      timings.push(`${p.name} ${(performance.now() - t0).toFixed(0)} ms`)
      expect.soft(r.builder.errors, p.name).toEqual([])
      expect.soft(r.builder.malformed, p.name).toEqual([])
      expect.soft(r.code, `${p.name}: ${r.stderr}`).toBe(0)
      expect.soft(r.builder.done?.exit, p.name).toBe(0)
      expect.soft(r.builder.opLines.length, p.name).toBe(expectedOpLines(s) * s.runs)
      expect.soft(r.obs.incomplete, p.name).toBeUndefined()
    }
    expect(leftovers(tmpfs)).toEqual([])
    console.log(`probe per preset (tmpfs, wall time incl. process start): ${timings.join(', ')}`)
  })

  it('pushes the 1 GiB streaming preset through and reports the one overwritten page as current', async () => {
    const s = loadPreset('streaming-1gib', PAGE)
    const t0 = performance.now()
    const r = await runScenario(s)
    const ms = performance.now() - t0
    expect(r.code).toBe(0)
    const splice = op(r.obs, 'ops[0].body[0]')
    const drain = op(r.obs, 'ops[0].body[2]')
    expect(splice.iterations).toBe(1024)
    const bytes = drain.histogram!.reduce((n, h) => n + h.count * h.outcome.drain!.read, 0)
    expect(bytes).toBe(1024 * 1024 * 1024)
    // The first pass sees the overwritten page (byte by byte: pattern bytes equal to 0x42 are not changes).
    const changed = drain.histogram!.filter((h) => h.outcome.drain!.changedBytes > 0)
    expect(changed.length).toBeGreaterThan(0)
    for (const h of changed) for (const range of h.outcome.drain!.changed) expect(range).toMatchObject({ holds: 'current' })
    console.log(`streaming-1gib: 1 GiB through the probe in ${ms.toFixed(0)} ms (${((1024 / ms) * 1000).toFixed(0)} MiB/s incl. checks); syscalls: ${((splice.ns + drain.ns) / 1e6).toFixed(0)} ms`)
  })

  it('runs several presets cleanly under AddressSanitizer and UBSan', async () => {
    const names = ['write-after-splice', 'tee-then-write', 'vmsplice-unaligned', 'fork-child-stores', 'fork-parent-stores', 'splice-pipe-to-file', 'mmap-store-mapped-after', 'truncate-partial', 'streaming-readonly', 'write-other-process']
    const available = new Set(listPresets(PAGE).map((p) => p.name))
    const env = { ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=86', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87' }
    let ran = 0
    for (const name of names.filter((n) => available.has(n))) {
      const r = await runScenario(loadPreset(name, PAGE), tmpfs, { bin: probeAsan, env })
      expect.soft(r.stderr, name).toBe('')
      expect.soft(r.code, name).toBe(0)
      expect.soft(r.builder.errors, name).toEqual([])
      ran++
    }
    expect(ran).toBeGreaterThanOrEqual(5)
  })

  it('parses mutated programs under AddressSanitizer and UBSan: runs them or refuses them (exit 0 or 2), no report, no file left', () => {
    const programs = listPresets(PAGE)
      .filter((p) => !p.name.startsWith('streaming'))
      .map((p) => compileProgram(loadPreset(p.name, PAGE), { pageSize: PAGE }).split('\n'))
    const words = ['op', 'repeat', 'end', 'runs', 'file', 'pipe', 'close', 'len=all', 'len=-1', 'offset=99999999999999999999', 'file=64', 'pipe=-1', 'src=pipe:0:0', 'dst=pipe:9:0', 'times=0', 'body=4096', 'end=write', 'fault=read', 'keep_size=1', 'pattern=seq:1000001', 'size=0', 'x=y', '=', '#']
    const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=86', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87' }
    const edit = fc.record({ line: fc.nat(), at: fc.nat(), word: fc.constantFrom(...words), kind: fc.constantFrom('replace', 'insert', 'delete-line', 'repeat-line', 'cut') })
    const codes = new Set<number | null>()
    fc.assert(
      fc.property(fc.nat(programs.length - 1), fc.array(edit, { minLength: 1, maxLength: 4 }), (which, edits) => {
        const lines = [...programs[which]!]
        for (const e of edits) {
          const k = e.line % lines.length
          const toks = lines[k]!.split(' ')
          if (e.kind === 'replace') toks[e.at % toks.length] = e.word
          else if (e.kind === 'insert') toks.splice(e.at % (toks.length + 1), 0, e.word)
          else if (e.kind === 'cut') toks.length = e.at % (toks.length + 1)
          if (e.kind === 'delete-line' && lines.length > 2) lines.splice(k, 1)
          else if (e.kind === 'repeat-line') lines.splice(k, 0, lines[k]!)
          else lines[k] = toks.join(' ')
        }
        const path = join(work, 'mutated.txt')
        writeFileSync(path, lines.join('\n'))
        const r = spawnSync(probeAsan, probeArgs({ programPath: path, dir: tmpfs, timeoutMs: 5000 }), { encoding: 'utf8', env, timeout: 60_000 })
        codes.add(r.status)
        expect(r.stderr).toBe('')
        expect([0, 2]).toContain(r.status)
        expect(leftovers(tmpfs)).toEqual([])
      }),
      { numRuns: 80, seed: 20261129 },
    )
    // Both sides were exercised: some mutations still run, most are refused.
    expect(codes).toEqual(new Set([0, 2]))
  })

  it('keeps the finished ops and says incomplete when the probe is killed mid-run', async () => {
    const s = scenario({
      name: 'long',
      files: [{ id: 'data', size: '16p' }],
      pipes: [{ id: 'p', size: '16p' }],
      ops: [
        { op: 'pwrite', file: 'data', offset: 0, len: 10 },
        { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
        { op: 'repeat', times: LONG_REPEAT, body: [{ op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '16p' }, { op: 'drain', pipe: 'p' }] },
      ],
    })
    let killed = false
    const r = await runProbe(probe, probeArgs({ programPath: writeProgram(s), dir: tmpfs }), {
      onStdout: (_c, child) => {
        if (!killed && _c.includes('"path":"ops[1]"')) {
          killed = true
          setTimeout(() => child.kill('SIGKILL'), 200)
        }
      },
    })
    expect(r.signal).toBe('SIGKILL')
    expect(r.obs.ops.map((o) => o.path)).toEqual(['ops[0]', 'ops[1]'])
    expect(r.obs.incomplete?.reason).toMatch(/killed by SIGKILL/)
    // SIGKILL leaves the files: the caller removes the scratch directory (here: this test).
    for (const f of leftovers(tmpfs)) rmSync(join(tmpfs, f))
  })

  it('stops cleanly at its time limit: the iterations it ran, an error line naming the op, exit 4, files removed', async () => {
    const s = scenario({
      name: 'slow',
      files: [{ id: 'data', size: '16p' }],
      pipes: [{ id: 'p', size: '16p' }],
      ops: [{ op: 'repeat', times: LONG_REPEAT, body: [{ op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '16p' }, { op: 'drain', pipe: 'p' }] }],
    })
    const r = await runScenario(s, tmpfs, { timeoutMs: 700 })
    expect(r.code).toBe(PROBE_EXIT.timeout)
    const iterations = op(r.obs, 'ops[0].body[0]').iterations
    expect(iterations).toBeGreaterThan(0)
    expect(iterations).toBeLessThan(LONG_REPEAT)
    expect(r.builder.errors.map((e) => [e.code, e.path])).toEqual([['timeout', 'ops[0]']])
    expect(r.obs.incomplete?.reason).toMatch(/time limit/)
    expect(leftovers(tmpfs)).toEqual([])
  })

  it('on SIGTERM reports what it did, removes its files and exits 143', async () => {
    const s = scenario({
      name: 'term',
      files: [{ id: 'data', size: '16p' }],
      pipes: [{ id: 'p', size: '16p' }],
      ops: [{ op: 'repeat', times: LONG_REPEAT, body: [{ op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '16p' }, { op: 'drain', pipe: 'p' }] }],
    })
    const args = probeArgs({ programPath: writeProgram(s), dir: tmpfs })
    const child = spawn(probe, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const b = new ObservationBuilder()
    child.stdout.setEncoding('utf8').on('data', (c: string) => b.push(c))
    await new Promise((r) => setTimeout(r, 500))
    expect(leftovers(tmpfs).length).toBe(1)
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)))
    expect(code).toBe(PROBE_EXIT.sigterm)
    expect(b.errors.map((e) => e.code)).toEqual(['signal'])
    expect(b.finish().ops.map((o) => o.path)).toEqual(['ops[0].body[0]', 'ops[0].body[1]'])
    expect(leftovers(tmpfs)).toEqual([])
  })

  it('says clearly that it cannot write the scratch directory, and exits 3', async () => {
    const r = await runScenario(loadPreset('write-after-splice'), roMount)
    expect(r.code).toBe(PROBE_EXIT.setup)
    expect(r.builder.hello).not.toBeNull()
    expect(r.builder.errors).toHaveLength(1)
    expect(r.builder.errors[0]).toMatchObject({ code: 'scratch', message: expect.stringMatching(new RegExp(`cannot create files in the scratch directory ${roMount}: .*EROFS`)) })
    expect(r.obs.ops).toEqual([])
    expect(r.obs.incomplete?.reason).toContain('cannot create files')
    const missing = await runScenario(loadPreset('write-after-splice'), join(work, 'does-not-exist'))
    expect(missing.code).toBe(PROBE_EXIT.setup)
    expect(missing.builder.errors[0]?.message).toMatch(/not a directory: No such file/)
  })

  it('refuses a bad or truncated program with exit 2 and names the problem', async () => {
    const good = compileProgram(loadPreset('write-after-splice'), { pageSize: PAGE })
    const race = compileProgram(loadPreset('whitlock-punch-race'), { pageSize: PAGE })
    const cases: [string, RegExp][] = [
      [good.replace('\nend\n', '\n'), /no `end` line/],
      [good.replace('len=200', 'len=two'), /ops\[1\]: len=two: expected a non-negative integer/],
      [good.replace('pipe=0 len=all', 'pipe=7 len=all'), /ops\[2\]: drain needs a declared pipe/],
      ['{"name":"json"}\n', /expected `splicelab-program 1`/],
      [race.replace('punch_hole file=0 offset=16384 len=16384', 'truncate file=0 size=0'), /ops\[0\]\.ops\[1\]: truncate cannot be a race's second op/],
      [race.replace('race ops[0] ops=2', 'race ops[0] ops=3'), /ops\[0\]: a race runs exactly ops=2/],
      [race.replace(/op ops\[1\] drain.*\n/, '').replace('op ops[0].ops[1] punch_hole file=0 offset=16384 len=16384\n', ''), /a race is missing 1 op/],
    ]
    for (const [text, problem] of cases) {
      const path = join(work, `bad-${programCounter++}.txt`)
      writeFileSync(path, text)
      const r = await runProbe(probe, probeArgs({ programPath: path, dir: tmpfs }))
      expect(r.code).toBe(PROBE_EXIT.usage)
      expect(r.builder.errors[0]).toMatchObject({ code: 'program', message: expect.stringMatching(problem) })
    }
    const usage = await runProbe(probe, ['--frobnicate'])
    expect(usage.code).toBe(PROBE_EXIT.usage)
    expect(usage.builder.errors[0]?.message).toMatch(/unknown or incomplete option --frobnicate/)
  })

  it('repeats the whole scenario for Scenario.runs with fresh files, and keeps a histogram per op', async () => {
    const s = scenario({ ...loadPreset('write-after-splice', PAGE), runs: 3 })
    const r = await runScenario(s)
    expect(r.code).toBe(0)
    expect(r.builder.opLines.map((l) => l.run)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2])
    const drain = op(r.obs, 'ops[2]')
    // Fresh files each run: the same outcome three times, not a file already holding the pwrite's bytes.
    expect(drain.histogram).toEqual([{ outcome: { ret: PAGE, errno: null, drain: { read: PAGE, changed: [{ start: 100, end: 300, holds: 'current' }], changedBytes: 200 } }, count: 3 }])
    expect(leftovers(tmpfs)).toEqual([])
  })

  it.skipIf(spawnSync('setpriv', ['--version']).status !== 0 && !CI)('says why there are no tracepoint counts when perf is not allowed (unprivileged user)', async () => {
    const dir = join(tmpfs, 'nobody')
    mkdirSync(dir, { mode: 0o777 })
    try {
      execFileSync('chmod', ['777', dir])
      execFileSync('chmod', ['755', work]) // mkdtemp made it 0700: the other user must reach the tmpfs below it
      execFileSync('cp', [probe, join(dir, 'probe')])
      const program = join(dir, 'program.txt')
      writeFileSync(program, compileProgram(loadPreset('write-after-splice', PAGE), { pageSize: PAGE }), { mode: 0o644 })
      const r = await runProbe('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(dir, 'probe'), ...probeArgs({ programPath: program, dir })])
      expect(r.code).toBe(0)
      expect(r.obs.facts.perf).toBe(false)
      expect(r.obs.facts.notes.join('\n')).toMatch(/^perf: .*(not readable|perf_event_open|no tracefs)/m)
      expect(op(r.obs, 'ops[0]').tracepoints).toBeUndefined()
      expect(op(r.obs, 'ops[2]').outcome.drain?.changedBytes).toBe(200)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('reads splice statistics in the RFC format before and after each op (a stand-in file: this kernel has none)', async () => {
    const stats = join(work, 'splice-stats')
    writeFileSync(stats, 'filemap: copied=5 moved=7\ndirect : copied=0\nvmsplice: copied=1 stole=2\n')
    const args = probeArgs({ programPath: writeProgram(loadPreset('write-after-splice', PAGE)), dir: tmpfs })
    const r = await runProbe(probe, ['--stats-file', stats, ...args])
    expect(r.code).toBe(0)
    expect(r.obs.facts.spliceStats).toBe(true)
    // Counters that did not move give zero deltas, never the absolute values.
    expect(op(r.obs, 'ops[0]').stats).toEqual({ filemapCopied: 0, filemapMoved: 0, directCopied: 0, vmspliceCopied: 0, vmspliceStole: 0 })
    writeFileSync(stats, 'something else\n')
    const bad = await runProbe(probe, ['--stats-file', stats, ...args])
    expect(bad.obs.facts.spliceStats).toBe(false)
    expect(bad.obs.facts.notes.join('\n')).toMatch(/format is not the RFC's/)
    expect(op(bad.obs, 'ops[0]').stats).toBeNull()
  })

  it('calibrates unit costs on this machine', async () => {
    const r = await runProbe(probe, ['--calibrate', tmpfs])
    expect(r.code).toBe(0)
    const costs = parseCalibrationOutput(r.stdout)
    for (const v of Object.values(costs)) expect(v).toBeGreaterThan(0)
    expect(leftovers(tmpfs)).toEqual([])
    console.log(`calibration on tmpfs: ${JSON.stringify(costs)}`)
  })
})
