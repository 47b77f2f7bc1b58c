/**
 * Starts `splice-lab serve` (the built CLI, as users run it) with SPLICE_LAB_HOME in a temp dir, and
 * Debian's Chromium through playwright-core (never a downloaded browser). Everything started here
 * is stopped by `close()`, which tests call in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = resolve(here, '../../test-artifacts')
const CLI = resolve(here, '../../bin/splice-lab.js')

export const builtAndBrowsable = (): string | null =>
  !existsSync(resolve(here, '../../out/renderer/index.html'))
    ? 'the renderer is not built (npm run build)'
    : !existsSync(CHROMIUM)
      ? `${CHROMIUM} is missing (apt-get install chromium)`
      : null

export interface Lab {
  url: string
  home: string
  browser: Browser
  page: Page
  server: ChildProcess
  output: () => string
  close(): Promise<void>
}

export async function startLab(extraArgs: string[] = []): Promise<Lab> {
  const home = await mkdtemp(join(tmpdir(), 'splice-lab-e2e-'))
  await mkdir(ARTIFACTS, { recursive: true })
  const server = spawn(process.execPath, [CLI, 'serve', ...extraArgs], {
    env: { ...process.env, SPLICE_LAB_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  server.stdout!.on('data', (c) => (out += c))
  server.stderr!.on('data', (c) => (out += c))
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve printed no URL in 20 s:\n${out}`)), 20_000)
    const check = (): void => {
      const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        ok(m[1]!)
      }
    }
    server.stdout!.on('data', check)
    server.once('exit', (code) => fail(new Error(`serve exited with ${code}:\n${out}`)))
  })
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
  return {
    url,
    home,
    browser,
    page,
    server,
    output: () => out,
    async close() {
      await browser.close().catch(() => {})
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r))
        server.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
        if (server.exitCode === null) server.kill('SIGKILL')
      }
      await rm(home, { recursive: true, force: true })
    },
  }
}
