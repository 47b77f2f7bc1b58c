/**
 * A real guest under qemu: the kernel-store's debian-6.1 (or SPLICE_LAB_TEST_KERNEL), the lab's
 * initramfs, the serial console driven like a local shell, streams on virtio-serial ports, scratch
 * disks made on the host, a deliberate crash caught and the guest rebooted, and qemu gone after
 * dispose and after the lab process is SIGKILLed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TargetError } from '../../src/main/target'
import { VmTarget, cleanStaleVmDirs, connectVm, type VmIncident } from '../../src/main/target/vm/vm-target'
import { ScratchPool } from '../../src/main/lab/scratch'
import { TEST_KERNEL, processAlive, testKernelImage, vmSkipReason, waitUntil } from './fixtures/vm'

const skip = await vmSkipReason()

describe.skipIf(skip !== null)(`VM target${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let vm: VmTarget
  const incidents: VmIncident[] = []
  let bootMs = 0

  beforeAll(async () => {
    const t0 = Date.now()
    vm = await connectVm({ kernel: TEST_KERNEL, image: await testKernelImage(), bootArgs: ['splice_lab_test=1'] })
    bootMs = Date.now() - t0
    vm.onIncident((i) => incidents.push(i))
  }, 600_000)

  afterAll(async () => {
    await vm?.dispose()
  })

  it('boots, and the facts say which kernel, accelerator, boot arguments and extra events', async () => {
    const f = await vm.facts()
    const uname = await vm.exec('uname -r')
    expect(f.kernel).toBe(uname.output.trim())
    expect(f.root).toBe(true)
    expect(f.tracefs.writable).toBe(true)
    expect(f.vm?.accelerator).toMatch(/^(kvm|tcg)$/)
    expect(f.vm?.acceleratorWhy).toMatch(/KVM|TCG/)
    expect(f.vm?.bootArgs).toEqual(['splice_lab_test=1'])
    expect((await vm.exec('cat /proc/cmdline')).output).toContain('splice_lab_test=1')
    expect(f.vm?.cpus).toBe(2)
    expect((await vm.exec('nproc')).output.trim()).toBe('2')
    expect(f.mkfs).toEqual({ ext4: true, xfs: true, btrfs: true })
    console.log(`VM ${TEST_KERNEL}: Linux ${f.kernel} under ${f.vm?.accelerator} (${f.vm?.acceleratorWhy}); boot to the console's shell ${(f.vm!.bootMs / 1000).toFixed(1)} s, whole connect ${(bootMs / 1000).toFixed(1)} s; extra events: ${f.vm?.extraEvents.join(', ')}`)
    // The lab's config fragment builds these in; a kernel without them is reported, not assumed.
    expect(f.vm?.extraEvents).toEqual(expect.arrayContaining(['function tracer', 'kprobe events']))
  })

  it('runs commands through the console: output, exit status, syntax errors, long lines, timeouts', async () => {
    expect(await vm.exec('echo hello; exit_with() { return 7; }; exit_with')).toEqual({ code: 7, output: 'hello\n' })
    expect((await vm.exec('if then fi')).code).not.toBe(0)
    const long = 'y'.repeat(20_000)
    expect((await vm.exec(`printf %s ${long} | wc -c`)).output.trim()).toBe('20000')
    const err = await vm.exec('echo started; sleep 30', { timeoutMs: 1_500 }).catch((e: unknown) => e)
    expect((err as TargetError).code).toBe('timeout')
    expect((err as TargetError).partialOutput).toContain('started')
    expect((await vm.exec('echo still here')).output).toBe('still here\n')
  })

  it('uploads a binary file through the console, intact', async () => {
    const data = randomBytes(40_000)
    await vm.upload('/tmp/splice-lab-upload-test/blob', data, 0o600)
    const r = await vm.exec('sha256sum /tmp/splice-lab-upload-test/blob; stat -c %a /tmp/splice-lab-upload-test/blob')
    expect(r.output.split(/\s+/)[0]).toBe(createHash('sha256').update(data).digest('hex'))
    expect(r.output).toMatch(/\n600\n$/)
  })

  it('streams bytes on a port of their own while the console stays free', async () => {
    await vm.exec('head -c 3000000 /dev/urandom > /tmp/stream-blob')
    const want = (await vm.exec('sha256sum /tmp/stream-blob')).output.split(/\s+/)[0]
    const chunks: Uint8Array[] = []
    let stderr = ''
    const h = await vm.streamBinary('cat /tmp/stream-blob; echo to-stderr >&2', (b) => chunks.push(b), { onStderr: (s) => (stderr += s) })
    // The console answers while the stream runs.
    expect((await vm.exec('echo console free')).output).toBe('console free\n')
    expect(await h.done).toBe(0)
    const got = Buffer.concat(chunks)
    expect(got.length).toBe(3_000_000)
    expect(stderr).toBe('to-stderr\n')
    expect(createHash('sha256').update(got).digest('hex')).toBe(want)
  })

  it('streams trace_pipe text without it reaching the console, and stop() ends the command', async () => {
    let text = ''
    let consoleText = ''
    const off = vm.onTerminalData((d) => (consoleText += d))
    const t = '/sys/kernel/tracing'
    await vm.exec(`echo 1 > ${t}/tracing_on`)
    const h = await vm.stream(`exec cat ${t}/trace_pipe`, (s) => (text += s))
    const mark = `splice-lab-vm-test-${randomBytes(4).toString('hex')}`
    const t0 = Date.now()
    await vm.exec(`echo ${mark} > ${t}/trace_marker`)
    // Under TCG on a loaded host the guest's wake-ups can come late (its APIC timer fails
    // calibration and is disabled): later events push earlier ones out, so keep some coming.
    let nudges = 0
    while (!text.includes(mark) && Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 500))
      if (!text.includes(mark)) await vm.exec(`echo nudge-${++nudges} > ${t}/trace_marker`)
    }
    expect(text).toContain(mark)
    console.log(`VM trace_pipe: the marker arrived on its stream after ${Date.now() - t0} ms (${nudges} later markers written meanwhile)`)
    await h.stop()
    expect(await h.done).toBe(130)
    off()
    expect(consoleText).not.toContain(mark)
    // Two streams at once, each on its own port.
    const a: string[] = []
    const b: string[] = []
    const [ha, hb] = await Promise.all([vm.stream('echo a; sleep 0.5; echo a2', (s) => a.push(s)), vm.stream('echo b', (s) => b.push(s))])
    expect(await Promise.all([ha.done, hb.done])).toEqual([0, 0])
    expect(a.join('')).toBe('a\na2\n')
    expect(b.join('')).toBe('b\n')
  })

  it('mounts the host-made ext4, xfs and btrfs disks and a tmpfs in the guest', async () => {
    // The Lab's scratch pool, on the disks the VM supplies (Target.scratchDevices): mounted, no mkfs.
    const scratch = new ScratchPool(vm, `vm-test-${process.pid}`)
    try {
      const seen: Record<string, string> = {}
      for (const fs of ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const) {
        const dir = await scratch.ensure(fs)
        expect(await scratch.ensure(fs)).toBe(dir)
        // /proc/mounts, not stat -f: busybox's stat names btrfs UNKNOWN.
        seen[fs] = (await vm.exec(`awk -v d=${dir} '$2 == d { print $3 }' /proc/mounts`)).output.trim()
        const w = await vm.exec(`echo data > ${dir}/f && sync && cat ${dir}/f`)
        expect(w).toEqual({ code: 0, output: 'data\n' })
      }
      expect(seen).toEqual({ tmpfs: 'tmpfs', ext4: 'ext4', xfs: 'xfs', btrfs: 'btrfs' })
      // A scenario's mkfs and mount options get a disk of their own: an ext4 made with 1 KiB blocks,
      // a btrfs mounted nodatasum beside the plain one (a second mount of one btrfs shares its options).
      const small = await scratch.ensure('ext4', { ext4: { block_size: 1024 } })
      expect((await vm.exec(`stat -f -c %S ${small}`)).output.trim()).toBe('1024')
      const nodatasum = await scratch.ensure('btrfs', { btrfs: { nodatasum: true } })
      expect((await vm.exec(`awk -v d=${nodatasum} '$2 == d { print $4 }' /proc/mounts`)).output).toMatch(/nodatasum/)
      expect((await vm.exec(`awk -v d=${await scratch.ensure('btrfs')} '$2 == d { print $4 }' /proc/mounts`)).output).not.toMatch(/nodatasum/)
    } finally {
      expect(await scratch.dispose()).toBeNull()
    }
    expect((await vm.exec(`grep -c ${scratch.base} /proc/mounts`)).output.trim()).toBe('0')
  })

  it('catches a deliberate panic, records it with the console text, reboots, and the next command runs', async () => {
    const bootsBefore = vm.boots
    const qemuBefore = vm.qemuPid!
    const t0 = Date.now()
    const err = await vm.exec('echo c > /proc/sysrq-trigger').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TargetError)
    expect((err as TargetError).code).toBe('crash')
    expect((err as TargetError).message).toMatch(/panic.*sysrq triggered crash.*rebooted/)
    const panic = incidents.find((i) => i.kind === 'panic')
    expect(panic).toBeDefined()
    expect(panic!.message).toMatch(/^Kernel panic - not syncing: sysrq triggered crash/)
    expect(panic!.console).toContain('sysrq: Trigger a crash')
    expect(panic!.console).not.toMatch(/SPLAB_[0-9a-f]+_[BE]/)
    expect(panic!.rebooted).toBe(true)
    expect(panic!.boot).toBe(bootsBefore)
    expect(await vm.exec('echo after the crash')).toEqual({ code: 0, output: 'after the crash\n' })
    console.log(`VM crash → rebooted guest answering in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    expect(vm.boots).toBe(bootsBefore + 1)
    expect(processAlive(qemuBefore)).toBe(false)
    // The new guest has its streams and scratch again.
    const scratch = new ScratchPool(vm, `vm-after-${process.pid}`)
    try {
      expect((await vm.exec(`stat -f -c %T ${await scratch.ensure('ext4')}`)).output.trim()).toBe('ext2/ext3')
    } finally {
      await scratch.dispose()
    }
    const out: string[] = []
    const h = await vm.stream('echo streams back', (s) => out.push(s))
    expect(await h.done).toBe(0)
    expect(out.join('')).toBe('streams back\n')
  })

  it('calls a console that stops answering a hang: recorded, rebooted, and the next command runs', async () => {
    const bootsBefore = vm.boots
    // The console's own shell stops itself: ^C and ^\ reach nobody, the resync gets no answer.
    const err = await vm.exec('kill -STOP $$', { timeoutMs: 2_000 }).catch((e: unknown) => e)
    expect((err as TargetError).code).toBe('crash')
    expect((err as TargetError).message).toMatch(/hung.*rebooted/)
    const hang = incidents.find((i) => i.kind === 'hang')
    expect(hang?.message).toMatch(/stopped answering/)
    expect(hang?.boot).toBe(bootsBefore)
    expect(await vm.exec('echo after the hang')).toEqual({ code: 0, output: 'after the hang\n' })
    expect(vm.boots).toBe(bootsBefore + 1)
  })

  it('leaves no qemu and no files behind after dispose', async () => {
    const t = await connectVm({ kernel: TEST_KERNEL, image: await testKernelImage(), disks: [] })
    const pid = t.qemuPid!
    expect(processAlive(pid)).toBe(true)
    const dirs = vmDirs()
    await t.dispose()
    expect(processAlive(pid)).toBe(false)
    expect(vmDirs().length).toBe(dirs.length - 1)
  })

  it('kills qemu when the lab process itself is SIGKILLed, and the next start removes its files', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'vm-child.ts'), await testKernelImage()], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    expect(await waitUntil(() => /qemu=\d+/.test(out), 300_000)).toBe(true)
    const qemu = Number(/qemu=(\d+)/.exec(out)![1])
    const dir = /dir=(\S+)/.exec(out)![1]!
    expect(processAlive(qemu)).toBe(true)
    child.kill('SIGKILL')
    expect(await waitUntil(() => !processAlive(qemu), 5_000)).toBe(true)
    expect(existsSync(join(tmpdir(), dir))).toBe(true)
    expect(cleanStaleVmDirs()).toContain(dir)
    expect(existsSync(join(tmpdir(), dir))).toBe(false)
  }, 400_000)
})

function vmDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('splice-lab-vm-'))
}
