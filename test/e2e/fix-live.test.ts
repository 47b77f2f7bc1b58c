/**
 * The fix kernel live in a real browser: the lab server boots `fix-6.1` under qemu with
 * splice_policy=steal-or-copy, runs streaming-readonly on ext4 (64 passes of a clean 1 MiB file
 * through a pipe), and the Run view draws the kernel's steal line measured from its
 * splice:splice_steal events — not flat: 64 × 256 pages — beside each policy's prediction, with the
 * cost panel saying that under TCG times are not comparable. The same preset on stock Debian 6.1
 * (its series inferred) then opens beside it in History's comparison. Screenshots go to
 * docs/screenshots/ (run-fix-live, compare-fix-stock).
 *
 * Needs root, qemu and both kernels in the store (CI builds them before the tests); about two
 * minutes under TCG.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { builtAndBrowsable, shoot, skipUnlessCi, startLab, useBrowserLab } from './harness'
import { vmSkipReason } from '../integration/fixtures/vm'
import { findKernel } from '../../src/main/lab/kernels'
import { cacheDir } from '../../src/main/paths'
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** Pages the steal-or-copy kernel steals in streaming-readonly: 64 passes × 256 pages. */
const STOLEN = 64 * 256

async function missingReason(): Promise<string | null> {
  const m = builtAndBrowsable() ?? (process.getuid?.() !== 0 ? 'needs root (the guest’s scratch disks)' : null) ?? (await vmSkipReason())
  if (m) return m
  for (const k of ['fix-6.1', 'debian-6.1']) if (!(await findKernel(k).catch(() => null))) return `the kernel store has no ${k}`
  return null
}
const missing = await missingReason()
const skip = skipUnlessCi(missing)

/**
 * The server's SPLICE_LAB_HOME is a temp dir with a kernel store of its own (empty): the VM targets
 * name the bzImages of this machine's store by path, and the KVM verdict it remembers is copied over
 * so the guest does not try KVM again where it fails.
 */
async function useMachineKernels(home: string): Promise<Record<string, string>> {
  const verdict = join(cacheDir(), 'vm', 'kvm.json')
  if (existsSync(verdict)) {
    mkdirSync(join(home, 'cache', 'vm'), { recursive: true })
    copyFileSync(verdict, join(home, 'cache', 'vm', 'kvm.json'))
  }
  const out: Record<string, string> = {}
  for (const k of ['fix-6.1', 'debian-6.1']) out[k] = (await findKernel(k))!.bzImage.path
  return out
}

async function addVm(page: Page, name: string, kernel: string, bootArgs: string): Promise<void> {
  await page.getByRole('tab', { name: 'Targets' }).click()
  await page.getByRole('button', { name: '+ VM…' }).click()
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Kernel').fill(kernel)
  if (bootArgs) await page.getByLabel('Boot arguments').fill(bootArgs)
  await page.getByRole('button', { name: 'Add target' }).click()
  await page.getByRole('option', { name: new RegExp(name) }).click()
  await page.getByRole('button', { name: 'Connect', exact: true }).click()
  const state = page.locator('[role="status"], .error, h2 + * , [data-testid="disconnect-reason"]')
  try {
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 240_000 })
  } catch (e) {
    throw new Error(`${name} did not connect: ${(await page.locator('.error').allInnerTexts()).join(' | ') || (await state.allInnerTexts()).join(' | ')}`, { cause: e })
  }
}

async function runPreset(page: Page, target: string): Promise<void> {
  await page.getByRole('tab', { name: 'Scenarios' }).click()
  await page.getByRole('button', { name: /Streaming: 64 MiB/ }).click()
  await page.getByLabel('Target').selectOption({ label: target })
  await page.getByLabel('Filesystem').selectOption('ext4')
  await page.getByRole('button', { name: '▶ Run' }).click()
  const status = page.getByTestId('run-status')
  await status.filter({ hasText: /^\s*(finished|failed|cancelled)\s*$/ }).waitFor({ timeout: 300_000 })
  const final = (await status.textContent())?.trim()
  if (final !== 'finished') throw new Error(`run ${final}: ${await page.locator('.error').allInnerTexts()}`)
}

describe.skipIf(skip)('the fix kernel live in Chromium (qemu)', () => {
  let images: Record<string, string> = {}
  const session = useBrowserLab(missing, () => startLab(), async (lab) => {
    images = await useMachineKernels(lab.home)
  })

  it('draws the steal line measured from splice_steal on fix-6.1, steal-or-copy: not flat, and the counts beside each policy', async () => {
    const { page } = session.lab
    await addVm(page, 'fix steal-or-copy', images['fix-6.1']!, 'splice_policy=steal-or-copy')
    await runPreset(page, 'fix steal-or-copy')
    await expect(page.getByTestId('verdict-policy').textContent()).resolves.toBe('steal-or-copy')
    await expect(page.getByTestId('run-header').innerText()).resolves.toMatch(/CPU\s+emulated \(TCG\): times are not comparable/)

    // Over the ops, once the trace is read: the chart shows the stolen series (the fix's news), measured.
    const progress = page.locator('canvas[data-chart="progress"]')
    await page.locator('canvas[data-chart="progress"][data-axis="ops"][data-metric="stolen"][data-series="4"]').waitFor({ timeout: 30_000 })
    await expect(progress.getAttribute('data-counting')).resolves.toBe('measured')
    await expect(progress.getAttribute('data-kernel-total')).resolves.toBe(String(STOLEN))
    await expect(page.getByText(/Measured: one splice:splice_steal \/ splice_copy event per page/).count()).resolves.toBe(1)

    // Over time: the kernel's steal line climbs through the run's buckets.
    await page.getByRole('radio', { name: 'By time' }).click()
    await page.locator('canvas[data-chart="progress"][data-axis="time"]').waitFor()
    expect(Number(await progress.getAttribute('data-kernel-points'))).toBeGreaterThanOrEqual(3)
    await expect(progress.getAttribute('data-kernel-total')).resolves.toBe(String(STOLEN))

    // The cost panel: the kernel's counts (from /proc/fs/splice) beside each policy's, times said not comparable.
    const cost = page.getByTestId('cost-panel')
    await expect(cost.getByTestId('cost-kernel-stolen').innerText()).resolves.toBe(STOLEN.toLocaleString('en'))
    await expect(cost.getByTestId('cost-times-note').innerText()).resolves.toMatch(/TCG/)

    // Per op: the fix's tracepoint counts against the steals each policy predicts.
    await page.getByLabel('Per-op measure').selectOption('splice:splice_steal')
    await page.locator('canvas[data-chart="per-op"][data-measure="splice:splice_steal"]').waitFor()
    await page.getByLabel('Per-op measure').selectOption('stolen')
    await page.evaluate('window.scrollTo(0, 0)')
    await shoot(page, 'run-fix-live', true)
    expect(session.errors).toEqual([])
  }, 600_000)

  it('opens the fix run beside a run of stock Debian 6.1 (its steal line inferred, flat)', async () => {
    const { page } = session.lab
    await addVm(page, 'debian stock', images['debian-6.1']!, '')
    await runPreset(page, 'debian stock')
    await expect(page.getByTestId('verdict-policy').textContent()).resolves.toBe('stock')
    await page.locator('canvas[data-chart="progress"][data-axis="ops"]').waitFor({ timeout: 30_000 })
    await expect(page.locator('canvas[data-chart="progress"]').getAttribute('data-metric')).resolves.toBe('shared')

    await page.getByRole('tab', { name: 'History' }).click()
    const boxes = page.locator('[data-testid="history"] tbody tr input[type="checkbox"]')
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    await page.getByRole('button', { name: /Compare selected \(2\/2\)/ }).click()
    const cmp = page.getByTestId('compare-page')
    await cmp.waitFor()
    await expect(cmp.getByTestId('run-header').count()).resolves.toBe(2)
    await cmp.getByRole('radio', { name: 'stolen' }).click()
    const overlay = page.locator('canvas[data-chart="overlay"]')
    await page.locator('canvas[data-chart="overlay"][data-metric="stolen"]').waitFor()
    const legend = await overlay.getAttribute('data-kernels')
    expect(legend).toMatch(/fix-6\.1.*splice_policy=steal-or-copy.*measured/)
    expect(legend).toMatch(/debian-6\.1.*inferred/)
    await expect(overlay.getAttribute('data-kernel-totals')).resolves.toMatch(new RegExp(`^(${STOLEN}\\|0|0\\|${STOLEN})$`))
    await shoot(page, 'compare-fix-stock', true)
    expect(session.errors).toEqual([])
  }, 600_000)
})
