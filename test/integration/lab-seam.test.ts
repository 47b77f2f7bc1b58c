/**
 * The Lab's seam for targets that are not a plain shell with a compiler and loop devices (a VM):
 * a target that supplies its scratch disks, its probe, and says when it crashed and when it is back.
 * The target here is this machine's real local session with those members added the way a VM
 * target adds them: an ext4 disk made outside the session (a loop device set up by the test, as the
 * host makes a virtio disk), a probe built beforehand, and a crash reported by the test.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Target } from '../../src/main/target'
import type { BuiltProbe, TargetCrash } from '../../src/main/target/types'
import { buildProbe } from '../../src/main/lab/probe-build'
import { longLoop, runSkipReason, useLocalLab, writeAfterSplice } from './fixtures/lab'

const skip = runSkipReason()

/** A target as a VM presents itself: the real session, plus what the VM supplies. */
interface SeamTarget extends Target {
  crash(c: TargetCrash): void
  back(): void
  probeCalls: number
  readyWaits: number
}

function seamTarget(real: Target, disk: string, probe: BuiltProbe): SeamTarget {
  const crashListeners = new Set<(c: TargetCrash) => void>()
  let ready: Promise<void> = Promise.resolve()
  let resolveReady: () => void = () => undefined
  const t: SeamTarget = Object.assign(Object.create(real) as Target, {
    probeCalls: 0,
    readyWaits: 0,
    scratchDevices: async () => ({ ext4: disk }),
    provideProbe: async () => {
      t.probeCalls++
      return probe
    },
    onCrash: (l: (c: TargetCrash) => void) => {
      crashListeners.add(l)
      return () => crashListeners.delete(l)
    },
    whenReady: () => {
      t.readyWaits++
      return ready
    },
    crash: (c: TargetCrash) => {
      ready = new Promise<void>((r) => (resolveReady = r))
      for (const l of crashListeners) l(c)
    },
    back: () => resolveReady(),
  })
  return t
}

describe.skipIf(skip !== null)(`a target that supplies disks, probe and crash reports${skip ? ` (skipped: ${skip})` : ''}`, () => {
  // The ext4 disk the target supplies: made outside the lab's session, as the host makes a VM's.
  // Detached after the lab (after-hooks run in reverse), which unmounts it first.
  let work = ''
  let device = ''
  afterAll(() => {
    if (device) execFileSync('losetup', ['-d', device])
    if (work) rmSync(work, { recursive: true, force: true })
  })
  let target: SeamTarget
  const local = useLocalLab('seam', {
    wrap: async (real) => {
      work = mkdtempSync(join(tmpdir(), `splice-lab-seam-${process.pid}-`))
      const img = join(work, 'ext4.img')
      execFileSync('truncate', ['-s', '64M', img])
      execFileSync('mkfs.ext4', ['-q', '-F', img])
      device = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim()
      target = seamTarget(real, device, await buildProbe(real))
      return target
    },
  })

  it('mounts the ext4 disk it is given (no mkfs, no loop device of its own) and runs the probe it provides', async () => {
    const record = await local.lab.run(writeAfterSplice, { fs: 'ext4' })
    expect(record.error, record.error?.message).toBeUndefined()
    expect(record.comparison.verdict.behavesLike).toBe('stock')
    expect(target.probeCalls).toBe(1)
    const mount = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === `/tmp/splice-lab-scratch-seam-${process.pid}/ext4`)
    expect(mount?.split(' ')[0]).toBe(device)
    // No image of the lab's own behind a loop device: only the test's disk.
    expect(execFileSync('losetup', ['-a'], { encoding: 'utf8' })).not.toContain(`splice-lab-scratch-seam-${process.pid}`)
  })

  it('a crash ends the run in flight with the console text; the next run waits until the target is back', async () => {
    const record = await local.lab.run(longLoop, {
      fs: 'tmpfs',
      onEvent: (e) => {
        if (e.type === 'op') target.crash({ reason: 'kernel panic', console: 'Kernel panic - not syncing: test' })
      },
    })
    expect(record.error).toEqual({ code: 'target-crashed', message: `${target.label} crashed during the run: kernel panic` })
    expect(record.kernelLog).toBe('Kernel panic - not syncing: test')
    expect(record.observation.ops.length).toBeGreaterThanOrEqual(1)
    expect(record.observation.incomplete).toBeDefined()

    let started = false
    const next = local.lab.run(writeAfterSplice, { fs: 'tmpfs', onEvent: (e) => (started ||= e.type === 'prediction') })
    await new Promise((r) => setTimeout(r, 300))
    expect(started).toBe(false)
    expect(target.readyWaits).toBe(1)
    target.back()
    const after = await next
    expect(after.error, after.error?.message).toBeUndefined()
    expect(after.comparison.verdict.behavesLike).toBe('stock')
  })
})
