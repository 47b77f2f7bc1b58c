/**
 * Issue 15, parts 2 and 5: the hostile inputs of the CLI and a run's preflight, each replayed with
 * its expected outcome — scenario bombs refused naming the field, oversized files refused before
 * they are read, --dir names that broke uploads, directories that are not scratch, a pipe past
 * pipe-max-size, bad --port and --duration values as one-line errors, escape sequences in titles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectTarget, type Target } from '../../../src/main/target'
import { parseScenarioText, validateScenario, ScenarioError, type Scenario } from '../../../src/shared/scenario'
import { readScenarioFile } from '../../../src/main/presets'
import { chooseFilesystem, pipeLimitProblem } from '../../../src/main/lab/run'
import { printable } from '../../../src/main/cli/printable'

const scratch = mkdtempSync(join(tmpdir(), 'splice-lab-hostile-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const firstProblem = (text: string): string => {
  const r = parseScenarioText(text, 'bomb.yaml')
  return r.ok ? 'ok' : `${r.problems[0]!.path}: ${r.problems[0]!.message}`
}

describe('scenario bombs', () => {
  const file = (size: string): string => `name: b\nfiles: [{ id: f, size: ${size} }]\npipes: [{ id: p }]\nops: [{ op: drain, pipe: p }]`
  it.each([
    ['a file of 2^53-1 bytes', file(String(2 ** 53 - 1)), /^files\[0\]\.size: 9007199254740991 bytes is more than/],
    ['a file of "99999999999999999999GiB"', file('"99999999999999999999GiB"'), /^files\[0\]\.size: .* is too large to be a size/],
    ['repeat times 100,000,000', 'name: b\npipes: [{ id: p }]\nops: [{ op: repeat, times: 100000000, body: [{ op: drain, pipe: p }] }]', /^ops\[0\]\.times: at most 1000000 times/],
    ['4,097 ops', `name: b\npipes: [{ id: p }]\nops:\n${'  - { op: drain, pipe: p }\n'.repeat(4097)}`, /^ops: 4097 ops; the probe takes at most 4096/],
    ['65 files', `name: b\nfiles: [${Array.from({ length: 65 }, (_, i) => `{ id: f${i}, size: 1 }`).join(', ')}]\npipes: [{ id: p }]\nops: [{ op: drain, pipe: p }]`, /^files: 65 files; the probe takes at most 64/],
    ['10,000 nested brackets', '['.repeat(10_000) + ']'.repeat(10_000), /^: collections nested deeper than 32 levels/],
  ])('refuses %s before anything runs', (_what, text, expected) => {
    expect(firstProblem(text)).toMatch(expected)
  })

  it('refuses a scenario file over 1 MB before reading it', () => {
    const big = join(scratch, 'big.yaml')
    writeFileSync(big, `name: b\ndescription: "${'x'.repeat(2_000_000)}"\npipes: [{ id: p }]\nops: [{ op: drain, pipe: p }]\n`)
    expect(() => readScenarioFile(big)).toThrow(ScenarioError)
    expect(() => readScenarioFile(big)).toThrow(/the file is 2000\d+ bytes; scenarios are at most 1000000 bytes/)
  })
})

describe('hostile --dir and pipes on the local target', () => {
  let t: Target
  const report = { phase: () => undefined, log: () => undefined }
  beforeAll(async () => {
    t = await connectTarget('local')
  })
  afterAll(async () => t?.dispose())

  it('uploads into directories whose names hold a backslash, a newline or a leading dash', async () => {
    for (const name of ['back\\slash', 'new\nline', '-rf']) {
      const dir = join(scratch, name)
      mkdirSync(dir)
      await t.upload(join(dir, 'program'), 'hello\n')
      expect(readFileSync(join(dir, 'program'), 'utf8')).toBe('hello\n')
    }
  })

  it('says a --dir does not exist, is not a directory, or is a filesystem the model does not know', async () => {
    expect((await chooseFilesystem(t, { dir: join(scratch, 'nowhere') }, report)).problem?.message).toMatch(/does not exist on local/)
    writeFileSync(join(scratch, 'plain'), '')
    expect((await chooseFilesystem(t, { dir: join(scratch, 'plain') }, report)).problem?.message).toMatch(/is not a directory/)
    expect((await chooseFilesystem(t, { dir: '/proc' }, report)).problem?.message).toMatch(/is on "proc", which the model does not know/)
    expect((await t.exec('echo alive')).output).toBe('alive\n')
  })

  it('refuses a pipe past pipe-max-size in preflight when the probe runs without root', async () => {
    const max = Number((await t.exec('cat /proc/sys/fs/pipe-max-size')).output.trim())
    const r = validateScenario({ name: 'big-pipe', pipes: [{ id: 'p', size: max * 2 }], ops: [{ op: 'drain', pipe: 'p' }] }, 'x')
    const scenario = (r as { scenario: Scenario }).scenario
    const facts = await t.facts()
    const problem = await pipeLimitProblem(t, { ...facts, root: false, sudo: false }, scenario)
    expect(problem?.message).toMatch(new RegExp(`^pipes\\[0\\]\\.size: the kernel makes it ${max * 2} bytes, more than this target's pipe-max-size \\(${max} bytes\\)`))
    expect(await pipeLimitProblem(t, { ...facts, root: true }, scenario)).toBeNull()
  })
})

describe('CLI arguments', () => {
  const cli = (...args: string[]): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', new URL('../../../src/main/cli/index.ts', import.meta.url).pathname, ...args], { timeout: 60_000 }, (err, _out, stderr) =>
        resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }),
      )
    })
  let busy: Server
  beforeAll(async () => {
    busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
  })
  afterAll(() => busy?.close())

  it('gives one-line errors, not stack traces, for a bad --port, a port in use and a --duration past the timer range', async () => {
    const badPort = await cli('serve', '--port', '99999')
    expect(badPort.code).not.toBe(0)
    expect(badPort.stderr).toMatch(/argument '99999' is invalid\. expected a port number from 0 to 65535/)
    const port = (busy.address() as { port: number }).port
    const inUse = await cli('serve', '--port', String(port))
    expect(inUse).toEqual({ code: 1, stderr: `splice-lab serve: port ${port} on 127.0.0.1 is in use; choose another with --port, or --port 0 for a free one\n` })
    const duration = await cli('trace', '--duration', '3000000', '--out', join(scratch, 'trace.txt'))
    expect(duration.stderr.trim()).toBe('splice-lab trace: --duration must be at most 2073600 s (24 days), got "3000000"')
    for (const r of [badPort, inUse, duration]) expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('strips escape sequences from titles in human output', () => {
    expect(printable('evil \u001b]0;owned\u0007\u001b[2J\u009b31m title\r\n')).toBe('evil ]0;owned[2J31m title  ')
  })
})
