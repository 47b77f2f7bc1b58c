/**
 * Edges of the probe's environment:
 * - tracefs not mounted (a fresh boot): as root it mounts tracefs itself, says so in the hello
 *   line's notes, and still counts tracepoints per op. Run in a private mount namespace (unshare -m)
 *   where tracefs is lazily unmounted first, so the host's tracefs and the other tests' ftrace
 *   instances are never touched.
 * - a program bigger than memory: one clear error line, exit 5, no file left behind.
 * The main probe tests are in probe.test.ts; stopping by signal in probe-stop.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateScenario } from '../../src/shared/scenario'
import { compileProgram, probeArgs } from '../../src/shared/probe/program'
import { ObservationBuilder, PROBE_EXIT } from '../../src/shared/probe/output'
import { probeSources } from './fixtures/probe-source'

const CI = process.env.CI === 'true'
const isRoot = process.getuid?.() === 0
const hasGcc = spawnSync('gcc', ['--version']).status === 0
const hasUnshare = spawnSync('unshare', ['--version']).status === 0
if (CI && (!isRoot || !hasGcc || !hasUnshare)) throw new Error(`probe tracefs test needs root, gcc and unshare on CI (root: ${isRoot}, gcc: ${hasGcc}, unshare: ${hasUnshare})`)
const why = !isRoot ? 'not root' : !hasGcc ? 'no gcc' : !hasUnshare ? 'no unshare' : ''

let work = ''
let probe = ''

const tracefsMounts = (): number =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[2] === 'tracefs').length

beforeAll(() => {
  if (why) return
  work = mkdtempSync(join(tmpdir(), 'splicelab-probe-tracefs-'))
  probe = join(work, 'probe')
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', probe, ...probeSources()])
})

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe.skipIf(!!why)(`the probe at the edges of its environment${why ? ` (skipped: ${why})` : ''}`, () => {
  it('mounts tracefs itself (in its own mount namespace here), says so, and counts the splice', () => {
    const r = validateScenario(
      {
        name: 'was',
        files: [{ id: 'data', size: '4p', pattern: { seq: 1 } }],
        pipes: [{ id: 'p' }],
        ops: [
          { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
          { op: 'drain', pipe: 'p' },
        ],
      },
      '<test>',
    )
    if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
    const program = join(work, 'program.txt')
    writeFileSync(program, compileProgram(r.scenario, { pageSize: 4096 }))
    const scratch = mkdtempSync(join(work, 'scratch-'))
    const hostMountsBefore = tracefsMounts()

    // `;` not `&&`: on a host where tracefs is already unmounted the umount fails and the case is the same.
    const script = 'umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; exec "$@"'
    const res = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', probe, ...probeArgs({ programPath: program, dir: scratch })], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(res.status, res.stderr).toBe(0)
    const b = new ObservationBuilder()
    b.push(res.stdout)
    const obs = b.finish()
    expect(obs.incomplete).toBeUndefined()
    expect(obs.facts.notes.join('\n')).toMatch(/^tracefs: was not mounted; the probe mounted it at \/sys\/kernel\/tracing/m)
    expect(obs.facts.perf).toBe(true)
    const splice = obs.ops.find((o) => o.path === 'ops[0]')
    expect(splice?.tracepoints?.['syscalls:sys_enter_splice']).toBe(1)
    expect(obs.ops.find((o) => o.path === 'ops[1]')?.outcome.drain?.changedBytes).toBe(0)
    // The host's mount table is as it was, and the probe removed its files.
    expect(tracefsMounts()).toBe(hostMountsBefore)
    expect(readdirSync(scratch)).toEqual([])
  })

  it('says it ran out of memory, exits 5 and removes its files when the program does not fit', () => {
    // 1 TiB file: its shadow cannot be allocated (written as program text: no scenario would validate it).
    const program = join(work, 'huge.txt')
    writeFileSync(program, ['splicelab-program 1', 'runs 1', 'file 0 size=1099511627776 pattern=seq:1 layout=one_write state=dirty cached=1', 'pipe 0 size=65536', 'op ops[0] fsync file=0', 'end', ''].join('\n'))
    const scratch = mkdtempSync(join(work, 'scratch-'))
    const res = spawnSync(probe, probeArgs({ programPath: program, dir: scratch }), { encoding: 'utf8', timeout: 60_000 })
    expect(res.status, res.stderr).toBe(PROBE_EXIT.internal)
    const b = new ObservationBuilder()
    b.push(res.stdout)
    b.finish(`exit ${res.status}`)
    expect(b.errors.map((e) => `${e.code}: ${e.message}`)).toContain('internal: out of memory (shadow of a file or buffer)')
    expect(readdirSync(scratch)).toEqual([])
  })
})
