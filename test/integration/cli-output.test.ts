/**
 * Where the CLI's output goes. `splice-lab … | head -1`: a reader that leaves ends the output,
 * quietly (exit 0, no EPIPE stack trace), for every command; one that works on a target stops as on
 * Ctrl-C and leaves it clean (no scratch mount, loop device or ftrace instance). Real pipes into a
 * real `head`. On a terminal (a real pty) tables are coloured; piped or with NO_COLOR they are not.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import * as pty from 'node-pty'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { INSTANCE_PREFIX } from '../../src/main/lab/tracer'
import { leftovers, runSkipReason } from './fixtures/lab'

const CLI = new URL('../../src/main/cli/index.ts', import.meta.url).pathname
const work = mkdtempSync(join(tmpdir(), 'splice-lab-cli-output-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

interface Piped {
  /** The CLI's pid (its scratch mounts are named by it) and exit status. */
  pid: number
  code: number | null
  signal: NodeJS.Signals | null
  /** What head printed. */
  head: string
  /** The CLI's stderr when it does not go into the pipe. */
  stderr: string
}

/** `splice-lab <args> | head -<lines>` (with `both`: `2>&1 | head`), the two joined by a real pipe. */
function pipeToHead(args: string[], lines: number, both = false): Promise<Piped> {
  return new Promise((resolve, reject) => {
    const head = spawn('head', [`-${lines}`], { stdio: ['pipe', 'pipe', 'inherit'] })
    const cli = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', head.stdin, both ? head.stdin : 'pipe'] })
    // Only the CLI holds the pipe's write end now: head's exit leaves it without a reader.
    head.stdin.destroy()
    let out = ''
    let err = ''
    head.stdout.on('data', (d: Buffer) => (out += d.toString()))
    cli.stderr?.on('data', (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => cli.kill('SIGKILL'), 170_000)
    cli.on('error', reject)
    cli.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ pid: cli.pid!, code, signal, head: out, stderr: err })
    })
  })
}

/** A scenario of 3000 ops: its predict table is far larger than a pipe's 64 KiB buffer. */
function bigScenario(): string {
  const file = join(work, 'big.json')
  const ops = Array.from({ length: 3000 }, (_, i) => ({ op: 'pwrite', file: 'f', offset: i % 4096, len: 1 }))
  writeFileSync(file, JSON.stringify({ name: 'big', files: [{ id: 'f', size: '1p' }], pipes: [{ id: 'p' }], ops }))
  return file
}

/** ftrace instances of the lab whose session has ended (the shell pid is in the name). */
function orphanInstances(): string[] {
  const dir = '/sys/kernel/tracing/instances'
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((n) => n.startsWith(INSTANCE_PREFIX) && !existsSync(`/proc/${/^splice-lab-(\d+)-/.exec(n)?.[1]}`))
}

const quiet = (text: string): void => {
  expect(text).not.toMatch(/EPIPE|Error|at .*\.(ts|js):\d+/)
}

describe('splice-lab output into a pipe whose reader leaves', () => {
  it('predict: the first line, exit 0, nothing on stderr', async () => {
    const r = await pipeToHead(['predict', bigScenario()], 1)
    expect(r.head).toMatch(/^big\s+\(big, tmpfs/)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
  })

  it('presets and --help: exit 0 without a word on stderr', async () => {
    for (const args of [['presets'], ['--help'], ['run', '--help']]) {
      const r = await pipeToHead(args, 1)
      expect(r.head.split('\n').filter(Boolean)).toHaveLength(1)
      expect(r.code).toBe(0)
      expect(r.stderr).toBe('')
    }
  })

  const skip = runSkipReason()
  it.skipIf(skip !== null)(`run all | head -1: stops after the run in flight, exit 0, the target clean${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const t0 = Date.now()
    const r = await pipeToHead(['run', 'all', '--fs', 'ext4', '--trace'], 1)
    expect(r.head).toMatch(/^target local: Linux /)
    expect(r.code).toBe(0)
    quiet(r.stderr)
    // Every preset on ext4 takes minutes; the reader left after the first line.
    expect(r.stderr.match(/: preflight — /g)?.length ?? 0).toBeLessThanOrEqual(2)
    console.log(`run all | head -1 ended after ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    expect(leftovers(String(r.pid))).toEqual([])
    expect(orphanInstances()).toEqual([])
  })

  it.skipIf(skip !== null)(`run 2>&1 | head -4: a reader that leaves mid-run cancels it, exit 0, the target clean${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const r = await pipeToHead(['run', 'write-after-splice', '--fs', 'ext4', '--trace'], 4, true)
    expect(r.head.split('\n').filter(Boolean)).toHaveLength(4)
    quiet(r.head)
    expect(r.code).toBe(0)
    expect(leftovers(String(r.pid))).toEqual([])
    expect(orphanInstances()).toEqual([])
  })
})

/** The CLI on a real pty (a terminal, as a person runs it), NO_COLOR as given: everything it printed. */
function onTerminal(args: string[], noColor?: string): Promise<string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NO_COLOR') env[k] = v
  if (noColor !== undefined) env.NO_COLOR = noColor
  return new Promise((resolve) => {
    const p = pty.spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cols: 220, rows: 50, env: { ...env, TERM: 'xterm-256color' } })
    let out = ''
    p.onData((d) => (out += d))
    p.onExit(() => resolve(out))
  })
}

describe('colour', () => {
  it("predict's table on a terminal: changed drains red, unchanged green, as run's comparison", async () => {
    const text = await onTerminal(['predict', 'write-after-splice'])
    expect(text).toContain('\x1b[1;31mread 4096, 200 CHANGED (100–299 current)\x1b[0m')
    expect(text).toContain('\x1b[32mread 4096, unchanged\x1b[0m')
    expect(text).toMatch(/stock +changed \x1b\[1;31m200 B\x1b\[0m/)
  })

  it('none with NO_COLOR, and none when piped', async () => {
    const text = await onTerminal(['predict', 'write-after-splice'], '1')
    expect(text).toContain('read 4096, 200 CHANGED')
    expect(text).not.toContain('\x1b[')
    const piped = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'predict', 'write-after-splice'], { encoding: 'utf8' })
    expect(piped.stdout).toContain('read 4096, 200 CHANGED')
    expect(piped.stdout).not.toContain('\x1b[')
  })
})
