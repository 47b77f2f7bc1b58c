/**
 * `npm start` where Electron cannot open (no binary, as after an offline install, or no display):
 * one line says why, the lab server's URL is printed, and that URL serves the same app.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { ARTIFACTS, CHROMIUM, builtAndBrowsable } from './harness'

const START = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/start.mjs')
const missing = builtAndBrowsable()
const skip = !!missing && process.env.CI !== 'true'

describe.skipIf(skip)('npm start without Electron', () => {
  let child: ChildProcess | null = null
  let home = ''
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    if (home) await rm(home, { recursive: true, force: true })
  })

  it('says why in one line, prints the URL and serves the app there', async () => {
    if (missing) throw new Error(`e2e cannot run on CI: ${missing}`)
    home = await mkdtemp(join(tmpdir(), 'splice-lab-start-'))
    // No display: Electron could not open a window even with its binary, so the fallback always runs.
    child = spawn(process.execPath, [START], {
      env: { ...process.env, SPLICE_LAB_HOME: home, DISPLAY: '', WAYLAND_DISPLAY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (c) => (out += c))
    child.stderr!.on('data', (c) => (out += c))
    const url = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`npm start printed no URL in 90 s:\n${out}`)), 90_000)
      child!.stdout!.on('data', () => {
        const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(out)
        if (m) {
          clearTimeout(timer)
          ok(m[1]!)
        }
      })
      child!.once('exit', (code) => fail(new Error(`npm start exited with ${code}:\n${out}`)))
    })
    const lines = out.split('\n').filter((l) => l && !l.startsWith('Splice Lab: building'))
    const why = lines.filter((l) => /serving the app to a browser instead\.$/.test(l))
    expect(why, out).toHaveLength(1)
    expect(why[0]).toMatch(/^Splice Lab: (Electron|no display)/)
    // The reason comes first, then the server's two lines and nothing else.
    expect(lines.slice(0, 3).map((l) => l.split(' ')[0])).toEqual(['Splice', 'Splice', 'Open:'])

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
      await page.goto(url)
      await page.getByRole('tab', { name: 'Targets' }).waitFor({ timeout: 20_000 })
      await expect(page.getByRole('tablist', { name: 'Views' }).getByRole('tab').count()).resolves.toBeGreaterThanOrEqual(4)
      await page.screenshot({ path: `${ARTIFACTS}/start-fallback.png` })
    } finally {
      await browser.close()
    }

    // Stopping npm start stops the server it started.
    const exited = new Promise((r) => child!.once('exit', r))
    child.kill('SIGTERM')
    await exited
    await expect(fetch(url)).rejects.toThrow()
  })
})
