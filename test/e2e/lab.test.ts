/**
 * The lab in a real browser: `splice-lab serve` (the built app) in Debian's Chromium, driving this
 * machine's real kernel through the local target — add it, connect, run the write-after-splice
 * preset on tmpfs, see the verdict and what backs it, break a scenario in the editor, reopen the
 * run from history. Screenshots of each view go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { ARTIFACTS, builtAndBrowsable, startLab, type Lab } from './harness'

const missing =
  builtAndBrowsable() ??
  (process.getuid?.() !== 0 ? 'needs root (tracefs, scratch filesystems)' : null) ??
  (!existsSync('/sys/kernel') ? 'needs a Linux kernel' : null)
// On CI nothing is skipped: a missing piece there is a failure, said loudly.
const skip = !!missing && process.env.CI !== 'true'
if (missing && skip) console.warn(`e2e skipped: ${missing}`)

/** True when a canvas has at least one non-transparent pixel. */
const drawn = (selector: string) => `(() => {
  const c = document.querySelector(${JSON.stringify(selector)})
  if (!c || !c.width || !c.height) return false
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true
  return false
})()`

describe.skipIf(skip)('Splice Lab in Chromium against this kernel', () => {
  let lab: Lab
  const errors: string[] = []

  beforeAll(async () => {
    if (missing) throw new Error(`e2e cannot run on CI: ${missing}`)
    lab = await startLab()
    lab.page.on('pageerror', (e) => errors.push(e.message))
    await lab.page.goto(lab.url)
  })
  afterAll(async () => {
    await lab?.close()
  })

  it('adds the local target and connects, showing its facts', async () => {
    const { page } = lab
    await page.getByRole('button', { name: '+ Local' }).click()
    await page.getByRole('button', { name: 'Add target' }).click()
    await page.getByRole('button', { name: 'Connect', exact: true }).click()
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 })
    await expect(page.locator('table[aria-label="Target facts"]').innerText()).resolves.toMatch(/Kernel\s+\d+\.\d+/)
    await page.screenshot({ path: `${ARTIFACTS}/targets.png`, fullPage: true })
  })

  it('runs write-after-splice on tmpfs and shows verdict stock, charts, op table and byte map', async () => {
    const { page } = lab
    await page.getByRole('tab', { name: 'Scenarios' }).click()
    await page.getByRole('button', { name: /Write after splice/ }).click()
    await page.locator('table[aria-label="Prediction per op and policy"]').waitFor({ timeout: 30_000 })
    await page.screenshot({ path: `${ARTIFACTS}/scenarios.png`, fullPage: true })
    await page.getByLabel('Filesystem').selectOption('tmpfs')
    await page.getByRole('button', { name: '▶ Run' }).click()
    const status = page.getByTestId('run-status')
    // Locator waits, not waitForFunction: the page's CSP (rightly) forbids evaluating strings.
    await status.filter({ hasText: /^\s*(finished|failed|cancelled)\s*$/ }).waitFor({ timeout: 180_000 })
    const final = (await status.textContent())?.trim()
    if (final !== 'finished') throw new Error(`run ${final}: ${await page.locator('.error').allInnerTexts()}`)
    await expect(page.getByTestId('verdict-policy').textContent()).resolves.toBe('stock')

    const live = page.locator('canvas[data-chart="live"]')
    await page.locator('canvas[data-chart="live"][data-predicted-series="3"]').waitFor({ timeout: 10_000 })
    expect(
      Number(await live.getAttribute('data-live-points')),
      'no live trace bucket reached the page: a run shorter than one bucket (100 ms) streams nothing unless the tracer passes its final buckets to onBuckets when it stops',
    ).toBeGreaterThan(0)
    await expect(page.evaluate(drawn('canvas[data-chart="live"]'))).resolves.toBe(true)
    await expect(page.evaluate(drawn('canvas[data-chart="per-op"]'))).resolves.toBe(true)

    const rows = page.locator('[data-testid="op-table"] tbody tr')
    await expect(rows.count()).resolves.toBe(3)
    await expect(rows.nth(2).innerText()).resolves.toMatch(/drain/)
    await expect(page.getByTestId('byte-map').count()).resolves.toBe(1)
    await expect(page.evaluate(drawn('[data-testid="byte-map"] canvas'))).resolves.toBe(true)
    await page.screenshot({ path: `${ARTIFACTS}/run.png`, fullPage: true })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.screenshot({ path: `${ARTIFACTS}/run-dark.png`, fullPage: true })
    await page.emulateMedia({ colorScheme: 'light' })
  })

  it('shows an invalid scenario’s problem inline, with its line and field, and refuses to run it', async () => {
    const { page } = lab
    await page.getByRole('tab', { name: 'Scenarios' }).click()
    const editor = page.getByLabel('Scenario (YAML)')
    const text = await editor.inputValue()
    await editor.fill(text.replace('len: 1p', 'len: banana'))
    const problem = page.locator('.problem').first()
    await problem.waitFor()
    const line = text.split('\n').findIndex((l) => l.includes('len: 1p')) + 1
    await expect(problem.innerText()).resolves.toContain(`line ${line}`)
    await expect(problem.innerText()).resolves.toContain('ops[0].len')
    await expect(page.getByRole('button', { name: '▶ Run' }).isDisabled()).resolves.toBe(true)
    await page.screenshot({ path: `${ARTIFACTS}/editor-error.png`, fullPage: true })
    await editor.fill(text)
  })

  it('reopens the run from history', async () => {
    const { page } = lab
    await page.getByRole('tab', { name: 'History' }).click()
    const row = page.locator('[data-testid="history"] tbody tr').first()
    await row.waitFor()
    await expect(row.innerText()).resolves.toMatch(/stock/)
    await row.getByRole('button', { name: 'Open' }).click()
    const opened = page.getByRole('region', { name: 'Opened run' })
    await expect(opened.getByTestId('verdict-policy').textContent()).resolves.toBe('stock')
    await expect(opened.locator('[data-testid="op-table"] tbody tr').count()).resolves.toBe(3)
    // The kernel series the run recorded is drawn again.
    await opened.locator('canvas[data-chart="live"]').waitFor()
    await page.screenshot({ path: `${ARTIFACTS}/history.png`, fullPage: true })

    // Exports arrive as downloads with the record's content.
    const download = async (label: RegExp): Promise<string> => {
      const [file] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: label }).click()])
      return readFile((await file.path())!, 'utf8')
    }
    expect(JSON.parse(await download(/as JSON/)).comparison.verdict.behavesLike).toBe('stock')
    expect((await download(/^Export \S+ as CSV$/)).split('\n')[0]).toBe('op,kind,tracepoint,count')
    const series = (await download(/series as CSV/)).trim().split('\n')
    expect(series[0]).toBe('t_ms,shared,stolen,copied,reloads,bytes')
    expect(series.length).toBeGreaterThan(1)
    // Op slices from the markers, the kernel's splice calls as instants, the series as counters.
    const perfetto = JSON.parse(await download(/as a Perfetto trace/)) as { traceEvents: { ph: string; name: string; args?: Record<string, unknown> }[] }
    expect(perfetto.traceEvents.filter((e) => e.ph === 'X').map((e) => e.args?.timing)).toEqual(['trace markers', 'trace markers', 'trace markers'])
    expect(perfetto.traceEvents.some((e) => e.ph === 'i' && e.name === 'sys_enter_splice')).toBe(true)
    expect(perfetto.traceEvents.some((e) => e.ph === 'C')).toBe(true)
    expect(errors).toEqual([])
  })

  it('shows the session’s earlier output when the terminal opens again', async () => {
    const { page } = lab
    // The terminal was closed while the run printed through the session (other tabs).
    await page.getByRole('tab', { name: 'Targets' }).click()
    const rows = page.locator('.xterm-rows')
    // What the lab's commands printed (the facts at connect), without the session's framing.
    await rows.filter({ hasText: /kernel=\d/ }).waitFor({ timeout: 10_000 })
    expect(await rows.textContent()).not.toMatch(/SPLAB_/)
    // Hidden and shown again: the same backlog comes back.
    await page.getByRole('button', { name: 'Hide' }).click()
    await page.getByRole('button', { name: 'Show' }).click()
    await rows.filter({ hasText: /kernel=\d/ }).waitFor({ timeout: 10_000 })
    await page.screenshot({ path: `${ARTIFACTS}/terminal-replay.png`, fullPage: true })
    expect(errors).toEqual([])
  })
})
