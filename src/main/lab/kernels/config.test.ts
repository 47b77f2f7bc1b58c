import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { checkConfig, formatConfigProblems, parseFragment } from './config'
import { resourcePath } from '../resources'

const fragment = 'CONFIG_SMP=y\nCONFIG_NR_CPUS=8\n# CONFIG_DEBUG_INFO is not set\n# a comment\n'

describe('kernel config fragment', () => {
  it('reads values and unset options, ignoring comments', () => {
    expect(parseFragment(fragment)).toEqual([
      { symbol: 'CONFIG_SMP', value: 'y' },
      { symbol: 'CONFIG_NR_CPUS', value: '8' },
      { symbol: 'CONFIG_DEBUG_INFO', value: null },
    ])
  })

  it('accepts a final .config that has every request', () => {
    expect(checkConfig(parseFragment(fragment), 'CONFIG_SMP=y\nCONFIG_NR_CPUS=8\n# CONFIG_DEBUG_INFO is not set\nCONFIG_X=y\n')).toEqual([])
  })

  it('reports an option Kconfig dropped, a wrong value, and anything built as a module', () => {
    const problems = checkConfig(parseFragment(fragment), 'CONFIG_NR_CPUS=64\nCONFIG_DEBUG_INFO=y\nCONFIG_EXT4_FS=m\n')
    expect(problems).toEqual([
      { symbol: 'CONFIG_SMP', wanted: 'y', got: null },
      { symbol: 'CONFIG_NR_CPUS', wanted: '8', got: '64' },
      { symbol: 'CONFIG_DEBUG_INFO', wanted: null, got: 'y' },
      { symbol: 'CONFIG_EXT4_FS', wanted: 'y (nothing as a module)', got: 'm' },
    ])
    expect(formatConfigProblems(problems)).toContain('CONFIG_SMP: asked for y, the final .config has it not set')
  })

  it("asks for what the lab needs: KPROBES with MODULES, tracing, the three filesystems", () => {
    const symbols = new Map(parseFragment(readFileSync(resourcePath('kernel/config/lab.config'), 'utf8')).map((r) => [r.symbol, r.value]))
    for (const s of ['KPROBES', 'KPROBE_EVENTS', 'MODULES', 'FTRACE_SYSCALLS', 'FUNCTION_TRACER', 'EXT4_FS', 'XFS_FS', 'BTRFS_FS', 'TMPFS', 'VIRTIO_BLK', 'SERIAL_8250_CONSOLE', 'BLK_DEV_INITRD', 'PROC_PAGE_MONITOR', 'TRANSPARENT_HUGEPAGE'])
      expect(symbols.get(`CONFIG_${s}`), s).toBe('y')
  })
})
