/**
 * The Explore view in a real browser against this machine's kernel: connect the local target,
 * explore a few dozen generated scenarios on tmpfs, watch the counters reach the count, and see
 * every minimal case with what the kernel's reader saw. Screenshots go to docs/screenshots/.
 */
import { describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { builtAndBrowsable, shoot, skipUnlessCi, startLab, useBrowserLab } from './harness'

const missing = builtAndBrowsable() ?? (process.getuid?.() !== 0 ? 'needs root (scratch filesystems)' : null) ?? (!existsSync('/sys/kernel') ? 'needs a Linux kernel' : null)
const skip = skipUnlessCi(missing)

describe.skipIf(skip)('Explore in Chromium against this kernel', () => {
  const session = useBrowserLab(missing, () => startLab())

  it('says why it cannot start before a target is connected', async () => {
    const { page } = session.lab
    await page.getByRole('tab', { name: 'Explore' }).click()
    await expect(page.getByTestId('explore-start').isDisabled()).resolves.toBe(true)
    await expect(page.getByText('Connect a target first').isVisible()).resolves.toBe(true)
  })

  it('explores 30 scenarios on tmpfs and ends with its counters and cases', async () => {
    const { page } = session.lab
    await page.getByRole('tab', { name: 'Targets' }).click()
    await page.getByRole('button', { name: '+ Local' }).click()
    await page.getByRole('button', { name: 'Add target' }).click()
    await page.getByRole('button', { name: 'Connect', exact: true }).click()
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 })

    await page.getByRole('tab', { name: 'Explore' }).click()
    await page.getByTestId('explore-count').fill('30')
    await page.getByTestId('explore-start').click()
    await page.getByText(/^Done: stopped by count/).waitFor({ timeout: 300_000 })
    const counters = await page.getByTestId('explore-counters').innerText()
    expect(counters).toMatch(/^30\s+scenarios/)
    // Each case the run found is shown with what disagreed and a way to keep it.
    const cases = page.getByTestId('explore-case')
    const n = await cases.count()
    for (let i = 0; i < n; i++) {
      await expect(cases.nth(i).innerText()).resolves.toMatch(/model disagrees|the fix lets data change/i)
      await expect(cases.nth(i).getByRole('button', { name: /Save as scenario|Saved/ }).isVisible()).resolves.toBe(true)
    }
    await shoot(page, 'explore', true)
    expect(session.errors).toEqual([])
  })
})
