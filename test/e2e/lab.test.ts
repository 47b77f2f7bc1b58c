/**
 * The lab in a real browser: `splice-lab serve` (the built app) in Debian's Chromium, driving this
 * machine's real kernel through the local target — add it, connect, run the write-after-splice
 * preset on tmpfs, see what ran and the verdict and what backs it (cumulative curves, pages per op,
 * the timeline from an op row), break a scenario in the editor, make a multi-filesystem batch with
 * the CLI and find it in History's matrix, open a run and a comparison on their own pages.
 * Screenshots of each view, light and dark, go to docs/screenshots/.
 */
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import type { Locator, Page } from 'playwright-core'
import { ARTIFACTS, CLI, builtAndBrowsable, shoot, skipUnlessCi, startLab, useBrowserLab } from './harness'

const missing =
  builtAndBrowsable() ??
  (process.getuid?.() !== 0 ? 'needs root (tracefs, scratch filesystems)' : null) ??
  (!existsSync('/sys/kernel') ? 'needs a Linux kernel' : null)
// On CI nothing is skipped: a missing piece there is a failure, said loudly.
const skip = skipUnlessCi(missing)

/** True when a canvas has at least one non-transparent pixel. */
const drawn = (selector: string) => `(() => {
  const c = document.querySelector(${JSON.stringify(selector)})
  if (!c || !c.width || !c.height) return false
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true
  return false
})()`

/** The element's top edge lies inside the viewport: the user sees it without scrolling. */
async function inView(page: Page, l: Locator): Promise<boolean> {
  const box = await l.boundingBox()
  const vp = page.viewportSize()!
  return !!box && box.y >= 0 && box.y < vp.height * 0.6 && box.height > 0
}

describe.skipIf(skip)('Splice Lab in Chromium against this kernel', () => {
  const session = useBrowserLab(missing, () => startLab([], { SHELL: '/bin/sh' }))

  it('adds the local target and connects, showing its facts', async () => {
    const { page } = session.lab
    await page.getByRole('button', { name: '+ Local' }).click()
    await page.getByRole('button', { name: 'Add target' }).click()
    await page.getByRole('button', { name: 'Connect', exact: true }).click()
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 })
    const facts = await page.locator('table[aria-label="Target facts"]').innerText()
    expect(facts).toMatch(/Kernel\s+\d+\.\d+/)
    // The scratch filesystem from the mount table, never statfs's "ext2/ext3".
    expect(facts).not.toContain('ext2/ext3')
    await shoot(page, 'targets', true)
  })

  it('runs write-after-splice on tmpfs: header, verdict, curves over the ops, pages per op for the kernel and each policy', async () => {
    const { page } = session.lab
    await page.getByRole('tab', { name: 'Scenarios' }).click()
    await page.getByRole('button', { name: /Write after splice/ }).click()
    await page.locator('table[aria-label="Prediction per op and policy"]').waitFor({ timeout: 30_000 })
    await shoot(page, 'scenarios', true)
    await page.getByLabel('Filesystem').selectOption('tmpfs')
    await page.getByRole('button', { name: '▶ Run' }).click()
    const status = page.getByTestId('run-status')
    // Locator waits, not waitForFunction: the page's CSP (rightly) forbids evaluating strings.
    await status.filter({ hasText: /^\s*(finished|failed|cancelled)\s*$/ }).waitFor({ timeout: 180_000 })
    const final = (await status.textContent())?.trim()
    if (final !== 'finished') throw new Error(`run ${final}: ${await page.locator('.error').allInnerTexts()}`)
    await expect(page.getByTestId('verdict-policy').textContent()).resolves.toBe('stock')
    // The verdict sentence once: in the card, not again in the status line.
    const summary = (await page.locator('.summary').innerText()).trim()
    expect(summary).toMatch(/^All 3 ops agree with stock/)
    expect(summary).not.toMatch(/disagreement/)
    await expect(page.getByText(summary, { exact: true }).count()).resolves.toBe(1)

    const header = await page.getByTestId('run-header').innerText()
    expect(header).toMatch(/Target\s+this machine \(local\)/i)
    expect(header).toMatch(/Kernel\s+\d+\.\d+\S*/i)
    expect(header).toMatch(/Filesystem\s+tmpfs at \//i)

    // Once the run's trace is read, the kernel's cumulative curve over the ops beside every policy's.
    await page.locator('canvas[data-chart="progress"][data-axis="ops"][data-series="4"]').waitFor({ timeout: 20_000 })
    expect(Number(await page.locator('canvas[data-chart="progress"]').getAttribute('data-kernel-points'))).toBe(4)
    await expect(page.evaluate(drawn('canvas[data-chart="progress"]'))).resolves.toBe(true)

    // Per op: pages shared, kernel against each policy; then stolen and copied.
    const perOp = page.locator('canvas[data-chart="per-op"]')
    await page.locator('canvas[data-chart="per-op"][data-measure="shared"]').waitFor()
    await expect(perOp.getAttribute('data-sources')).resolves.toBe('kernel|stock (model)|steal-or-copy (model)|copy (model)')
    for (const m of ['stolen', 'copied']) {
      await page.getByLabel('Per-op measure').selectOption(m)
      await page.locator(`canvas[data-chart="per-op"][data-measure="${m}"]`).waitFor()
      await expect(perOp.getAttribute('data-sources')).resolves.toMatch(/^kernel\|/)
    }
    await page.getByLabel('Per-op measure').selectOption('shared')
    await expect(page.evaluate(drawn('canvas[data-chart="per-op"]'))).resolves.toBe(true)

    const rows = page.locator('[data-testid="op-table"] tbody tr')
    await expect(rows.count()).resolves.toBe(3)
    await expect(rows.nth(2).innerText()).resolves.toMatch(/drain/)
    // Disagreements are listed (in red) and agreements are behind "details", never mixed.
    for (const reason of await page.getByTestId('disagreement').allInnerTexts()) expect(reason).not.toMatch(/allows that/)
    await expect(page.getByTestId('byte-map').count()).resolves.toBe(1)
    await expect(page.evaluate(drawn('[data-testid="byte-map"] canvas'))).resolves.toBe(true)
    await page.evaluate('window.scrollTo(0, 0)')
    await shoot(page, 'run', true)
  })

  it('opens the timeline from an op row: the op selected, its kernel events listed', async () => {
    const { page } = session.lab
    await page.getByRole('button', { name: 'Kernel events of ops[0]' }).click()
    const timeline = page.getByTestId('timeline')
    expect(await inView(page, timeline)).toBe(true)
    await page.locator('canvas[data-chart="timeline"][data-selected="ops[0]"]').waitFor()
    await expect(page.evaluate(drawn('canvas[data-chart="timeline"]'))).resolves.toBe(true)
    const events = timeline.locator('[data-testid="event-list"] tbody tr')
    expect(await events.count()).toBeGreaterThan(0)
    // ops[0] is the splice: its enter and exit are among its events.
    const names = (await events.locator('td:nth-child(4)').allInnerTexts()).join(' ')
    expect(names).toContain('syscalls:sys_enter_splice')
    await timeline.getByLabel('Filter kernel events').fill('sys_exit_splice')
    await expect(events.count()).resolves.toBe(1)
    await timeline.getByLabel('Filter kernel events').fill('')
    await shoot(page, 'timeline')
  })

  it('edits a scenario in CodeMirror: completion from the schema, problems inline and listed once, save to the user folder', async () => {
    const { page } = session.lab
    await page.getByRole('tab', { name: 'Scenarios' }).click()
    const text = await readFile(new URL('../../resources/scenarios/write-after-splice.yaml', import.meta.url), 'utf8')
    const editor = page.getByLabel('Scenario (YAML)')
    const replaceAll = async (t: string): Promise<void> => {
      await editor.click()
      await page.keyboard.press('Control+a')
      await page.keyboard.insertText(t)
    }
    const line = text.split('\n').findIndex((l) => l.includes('len: 1p')) + 1

    // A bad value: one problem, at its line and field, underlined in the text, marked in the gutter.
    await replaceAll(text.replace('len: 1p', 'len: banana'))
    const problems = page.locator('.problem')
    await problems.first().waitFor()
    await expect(problems.count()).resolves.toBe(1)
    await expect(problems.first().innerText()).resolves.toContain(`line ${line}`)
    await expect(problems.first().innerText()).resolves.toContain('ops[0].len')
    await page.locator('.cm-lintRange-error').first().waitFor()
    await page.locator('.cm-lint-marker-error').first().waitFor()
    await expect(page.getByRole('button', { name: '▶ Run' }).isDisabled()).resolves.toBe(true)
    await expect(page.getByTestId('run-blocked').innerText()).resolves.toMatch(/Fix the scenario/)
    await expect(page.getByText('● modified').count()).resolves.toBe(1)
    await shoot(page, 'editor-error')

    // An unknown op, in words.
    await replaceAll(text.replace('op: pwrite', 'op: pwirte'))
    await problems.filter({ hasText: /unknown op 'pwirte' \(did you mean 'pwrite'\?\) — expected one of splice, / }).waitFor()
    await expect(problems.count()).resolves.toBe(1)

    // Completion: op kinds after "op:", from the schema.
    await replaceAll(text.trimEnd() + '\n  - op: dr')
    const options = page.locator('.cm-tooltip-autocomplete li')
    await options.filter({ hasText: /^drain/ }).first().waitFor()
    await shoot(page, 'editor-completion')
    await page.keyboard.press('Enter')
    await expect(page.locator('.cm-content').innerText()).resolves.toContain('- op: drain')

    // Save into the user's folder; it is listed under "Yours".
    await replaceAll(text)
    await page.getByLabel('Scenario file name').fill('my-write')
    await page.getByRole('button', { name: 'Save', exact: true }).click()
    await page.getByRole('list', { name: 'Your scenarios' }).getByRole('button', { name: 'my-write' }).waitFor()
    await expect(readFile(`${session.lab.home}/data/scenarios/my-write.yaml`, 'utf8')).resolves.toBe(text)
    await expect(page.getByText('● modified').count()).resolves.toBe(0)
    expect(session.errors).toEqual([])
  })

  it('finds a multi-filesystem batch in History’s matrix and opens a run from a cell', async () => {
    const { page } = session.lab
    // The batch a kernel developer makes: the CLI, the same lab home, two filesystems.
    await promisify(execFile)(process.execPath, [CLI, 'run', '--fs', 'tmpfs,ext4', '--trace', 'write-after-splice'], { env: { ...process.env, SPLICE_LAB_HOME: session.lab.home }, timeout: 180_000 })
    await page.getByRole('tab', { name: 'History' }).click()
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByRole('radio', { name: 'Matrix' }).click()
    const matrix = page.getByTestId('matrix')
    await matrix.waitFor()
    const head = await matrix.locator('thead').innerText()
    expect(head).toMatch(/tmpfs[\s\S]*ext4/i)
    const cells = matrix.getByRole('button', { name: /^write-after-splice on (tmpfs|ext4), .+: stock$/ })
    await expect(cells.count()).resolves.toBe(2)
    await shoot(page, 'history-matrix')
    await matrix.getByRole('button', { name: /^write-after-splice on ext4/ }).click()
    const runPage = page.getByTestId('run-page')
    await runPage.waitFor()
    expect(await inView(page, runPage)).toBe(true)
    await expect(runPage.getByTestId('run-header').innerText()).resolves.toMatch(/Filesystem\s+ext4 at/i)
    await expect(page.evaluate('location.hash')).resolves.toMatch(/^#\/history\/run\//)
    await page.getByRole('button', { name: '← History' }).click()
    await page.getByRole('radio', { name: 'List' }).click()
  })

  it('opens a run from the list on its own page, with exports that say what ran', async () => {
    const { page } = session.lab
    await page.getByRole('radio', { name: 'Batches' }).click()
    await expect(page.locator('tr.batch').first().innerText()).resolves.toMatch(/Batch of [2-9]/)
    await page.getByRole('radio', { name: 'List' }).click()
    const row = page.locator('[data-testid="history"] tbody tr').last()
    await row.waitFor()
    await expect(row.innerText()).resolves.toMatch(/stock/)
    await shoot(page, 'history')
    await row.getByRole('button', { name: 'Open' }).click()
    const opened = page.getByTestId('run-page')
    await opened.waitFor()
    // Its own page: at the top of the view, the list gone.
    expect(await inView(page, opened)).toBe(true)
    await expect(page.getByTestId('history').count()).resolves.toBe(0)
    await expect(opened.getByTestId('verdict-policy').textContent()).resolves.toBe('stock')
    await expect(opened.locator('[data-testid="op-table"] tbody tr').count()).resolves.toBe(3)
    await opened.locator('canvas[data-chart="progress"][data-series="4"]').waitFor({ timeout: 20_000 })
    await shoot(page, 'history-run', true)

    // Exports arrive as downloads with the record's content.
    const download = async (label: RegExp): Promise<string> => {
      const [file] = await Promise.all([page.waitForEvent('download'), opened.getByRole('button', { name: label }).click()])
      return readFile((await file.path())!, 'utf8')
    }
    expect(JSON.parse(await download(/as JSON$/)).comparison.verdict.behavesLike).toBe('stock')
    const [about, head] = (await download(/as CSV$/)).split('\n')
    expect(about).toMatch(/^# splice-lab run \S+ \(write-after-splice\): target local, kernel \d+\.\d+\S* \w+, fs tmpfs$/)
    expect(head).toBe('op,kind,tracepoint,count')
    const series = (await download(/as Series$/)).trim().split('\n')
    expect(series[0]).toMatch(/^# splice-lab run /)
    expect(series[1]).toBe('t_ms,shared,stolen,copied,reloads,bytes,bytesCopied')
    expect(series.length).toBeGreaterThan(2)
    // Op slices from the markers, the kernel's splice calls as instants, the series as counters; what ran in the metadata.
    const perfetto = JSON.parse(await download(/as Perfetto$/)) as { traceEvents: { ph: string; name: string; args?: Record<string, unknown> }[]; metadata: Record<string, unknown> }
    expect(perfetto.traceEvents.filter((e) => e.ph === 'X').map((e) => e.args?.timing)).toEqual(['trace markers', 'trace markers', 'trace markers'])
    expect(perfetto.traceEvents.some((e) => e.ph === 'i' && e.name === 'sys_enter_splice')).toBe(true)
    expect(perfetto.traceEvents.some((e) => e.ph === 'C')).toBe(true)
    expect(perfetto.metadata).toMatchObject({ target: 'local', fs: 'tmpfs' })
    expect(perfetto.metadata.kernel).toMatch(/^\d+\.\d+/)
    await page.getByRole('button', { name: '← History' }).click()
    expect(session.errors).toEqual([])
  })

  it('compares two runs on their own page: both kernels, every policy, differences marked, both on one chart', async () => {
    const { page } = session.lab
    const boxes = page.locator('[data-testid="history"] tbody tr input[type="checkbox"]')
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    await page.getByRole('button', { name: /Compare selected \(2\/2\)/ }).click()
    const cmp = page.getByTestId('compare-page')
    await cmp.waitFor()
    expect(await inView(page, cmp)).toBe(true)
    await expect(page.getByTestId('history').count()).resolves.toBe(0)
    const head = (await cmp.getByTestId('compare-table').locator('thead').innerText()).toLowerCase()
    for (const p of ['stock', 'steal-or-copy', 'copy']) expect(head).toContain(p)
    await expect(cmp.getByTestId('compare-table').locator('tbody tr').count()).resolves.toBe(3)
    await expect(cmp.getByTestId('run-header').count()).resolves.toBe(2)
    await expect(page.evaluate(drawn('canvas[data-chart="overlay"]'))).resolves.toBe(true)
    await shoot(page, 'compare', true)
    await page.getByRole('button', { name: '← History' }).click()
    expect(session.errors).toEqual([])
  })

  it('shows the session’s earlier output when the terminal opens again', async () => {
    const { page } = session.lab
    // The terminal was closed while the run printed through the session (other tabs).
    await page.getByRole('tab', { name: 'Targets' }).click()
    const rows = page.locator('.xterm-rows')
    // What the lab's commands printed (the facts at connect, then the run's), without the session's framing.
    await rows.filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 })
    const shown = (await rows.textContent())!
    expect(shown).not.toMatch(/SPLAB_/)
    // Hidden and shown again: the same backlog comes back (its end is what the viewport shows).
    await page.getByRole('button', { name: 'Hide' }).click()
    await page.getByRole('button', { name: 'Show' }).click()
    await rows.filter({ hasText: shown.trim().slice(-40) }).waitFor({ timeout: 10_000 })
    await shoot(page, 'terminal')
    expect(session.errors).toEqual([])
  })

  it('opens an interactive shell on the target in a second tab, in its own pty', async () => {
    const { page } = session.lab
    await page.getByRole('tab', { name: 'Shell' }).click()
    const shell = page.locator('[data-terminal$="--shell"]')
    await shell.waitFor()
    // The prompt first: what is typed before the shell reads goes to the pty's echo, not to the shell yet.
    await shell.locator('.xterm-rows').filter({ hasText: /[#$]/ }).waitFor({ timeout: 30_000 })
    await shell.click()
    // Typed text runs: the shell computes what the page never wrote.
    await page.keyboard.type('echo splice-lab-$((6*7)) $$\n')
    await shell
      .locator('.xterm-rows')
      .filter({ hasText: /splice-lab-42 \d+/ })
      .waitFor({ timeout: 15_000 })
      .catch(async (e: Error) => {
        await page.screenshot({ path: `${ARTIFACTS}/shell-failed.png` })
        throw new Error(`${e.message}\nthe shell showed: ${JSON.stringify(await shell.locator('.xterm-rows').textContent())}`)
      })
    await shoot(page, 'terminal-shell')
    // Its own pty: the lab's session tab still shows no shell prompt typed into it.
    await page.getByRole('tab', { name: 'Lab session' }).click()
    await expect(page.locator('.xterm-rows').first().textContent()).resolves.not.toContain('splice-lab-42')
    await page.getByRole('tab', { name: 'Shell' }).click()
    await page.getByRole('button', { name: 'End shell' }).click()
    await page.getByRole('button', { name: 'Open a shell' }).waitFor()
    expect(session.errors).toEqual([])
  })
})
