import { describe, it, expect } from 'vitest'
import { ConsoleWatcher, classifyLine } from './console-watch'

describe('console watcher', () => {
  it('knows the kernel’s words for a panic, an oops, a lockup and a WARN, with or without timestamps', () => {
    expect(classifyLine('[   12.345678] Kernel panic - not syncing: sysrq triggered crash')).toBe('panic')
    expect(classifyLine('BUG: kernel NULL pointer dereference, address: 0000000000000000')).toBe('oops')
    expect(classifyLine('[    3.1] Oops: 0002 [#1] PREEMPT SMP NOPTI')).toBe('oops')
    expect(classifyLine('general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP')).toBe('oops')
    expect(classifyLine('kernel BUG at mm/filemap.c:1234!')).toBe('oops')
    expect(classifyLine('watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [probe:99]')).toBe('lockup')
    expect(classifyLine('rcu: INFO: rcu_sched self-detected stall on CPU')).toBe('lockup')
    expect(classifyLine('WARNING: CPU: 1 PID: 42 at fs/splice.c:123 splice_to_pipe+0x1/0x2')).toBe('warning')
  })

  it('does not raise an alarm for ordinary output that mentions the words', () => {
    expect(classifyLine('grep "Kernel panic" /var/log/kern.log')).toBeNull()
    expect(classifyLine('{"op":"splice","note":"BUG: none"}')).toBeNull()
    expect(classifyLine('sysrq: Trigger a crash')).toBeNull()
  })

  it('finds alarms across chunk boundaries and returns the console around them without the lab’s sentinels', () => {
    const w = new ConsoleWatcher()
    expect(w.push('SPLAB_0123abcd_B\r\nbefore\r\n[  1.0] Kernel pa')).toEqual([])
    const alarms = w.push('nic - not syncing: sysrq triggered crash\r\nCPU: 0 PID: 1\r\n')
    expect(alarms).toEqual([{ kind: 'panic', line: 'Kernel panic - not syncing: sysrq triggered crash', index: 2 }])
    w.push('---[ end Kernel panic')
    expect(w.consoleFrom(alarms[0]!.index, 1)).toBe('before\n[  1.0] Kernel panic - not syncing: sysrq triggered crash\nCPU: 0 PID: 1\n---[ end Kernel panic')
  })

  it('keeps a bounded number of lines and still numbers them', () => {
    const w = new ConsoleWatcher()
    w.push('x\n'.repeat(5000))
    const [a] = w.push('Oops: 0000 [#1] SMP\n')
    expect(a!.index).toBe(5000)
    expect(w.consoleFrom(a!.index, 2)).toBe('x\nx\nOops: 0000 [#1] SMP\n'.trimEnd())
  })
})
