import { describe, expect, it } from 'vitest'
import { describeFacts } from './facts'
import type { TargetFactsView } from '../../shared/api'

const facts: TargetFactsView = {
  kernel: '6.18.0', arch: 'x86_64', pageSize: 4096, root: false, sudo: false,
  tracefs: { path: null, writable: false, why: 'not mounted and not root' },
  perf: { available: false, paranoid: 3, why: 'perf_event_paranoid is 3' },
  compiler: { path: null, why: 'no cc or gcc in PATH' },
  spliceStats: false, scratch: { dir: '/tmp', fs: 'tmpfs' }, mkfs: {},
  notes: ['mounted tracefs at /sys/kernel/tracing'],
}

describe('describeFacts', () => {
  it('says what each missing piece means for a run, with the target’s own reason', () => {
    const lines = Object.fromEntries(describeFacts(facts).map((l) => [l.label, l]))
    expect(lines['tracefs']!.ok).toBe(false)
    expect(lines['tracefs']!.meaning).toContain('not mounted and not root')
    expect(lines['C compiler']!.meaning).toMatch(/Nothing can run/)
    expect(lines['Root']!.meaning).toMatch(/probe still runs/)
    expect(lines['/proc/fs/splice']!.meaning).toMatch(/inferred/)
    expect(lines['Note']!.value).toBe('mounted tracefs at /sys/kernel/tracing')
  })

  it('shows how a VM target was booted: the accelerator with its reason, and the boot arguments', () => {
    const vm = { kernel: 'fix-6.1', image: '/k/fix-6.1/bzImage', accelerator: 'tcg' as const, acceleratorWhy: '/dev/kvm is missing: TCG emulates the CPU, runs are slower', bootArgs: ['nokaslr'], cmdline: 'console=ttyS0 nokaslr', memoryMb: 1024, cpus: 2, bootMs: 9000, extraEvents: [] }
    const lines = Object.fromEntries(describeFacts({ ...facts, vm }).map((l) => [l.label, l]))
    expect(lines['Accelerator']).toMatchObject({ value: 'tcg', ok: false, meaning: vm.acceleratorWhy })
    expect(lines['Boot arguments']!.value).toBe('nokaslr')
    expect(lines['VM kernel']!.value).toBe('fix-6.1 (1024 MiB, 2 CPUs)')
    expect(describeFacts(facts).some((l) => l.label === 'Accelerator')).toBe(false)
  })
})
