/**
 * Watches a guest's serial console for the kernel reporting trouble: a panic, an oops or BUG, a
 * lockup or RCU stall, a WARNING. The console carries both the lab's framed commands and the
 * kernel's own messages (console=ttyS0), so a crash's text arrives in the same stream the lab reads.
 * Pure: fed text, it keeps recent lines and says which lines were alarms.
 */

export type ConsoleAlarmKind = 'panic' | 'oops' | 'lockup' | 'warning'

export interface ConsoleAlarm {
  kind: ConsoleAlarmKind
  /** The line that raised it, without the printk timestamp. */
  line: string
  /** Index of the line in the watcher's line numbering (for consoleFrom). */
  index: number
}

/** A printk timestamp ("[   12.345678] ") and, with CONFIG_PRINTK_CALLER, a caller id ("[T123] "). */
const PREFIX = /^(?:\[\s*\d+\.\d+\]\s*)?(?:\[\s*[CT]\d+\]\s*)?/

/**
 * The kernel's own words for trouble, first match wins. Sources (Linux 6.1): panic() "Kernel panic -
 * not syncing" (kernel/panic.c); die() "Oops:" and "general protection fault" (arch/x86/kernel/
 * dumpstack.c, traps.c); page faults "BUG: unable to handle page fault" / "BUG: kernel NULL pointer
 * dereference" (arch/x86/mm/fault.c); BUG() "kernel BUG at" (lib/bug.c); "BUG: soft lockup"
 * (kernel/watchdog.c); "rcu: INFO: rcu_sched detected stalls" (kernel/rcu/tree_stall.h); WARN()
 * "WARNING: CPU: N PID: N at" (kernel/panic.c __warn).
 */
const ALARMS: [RegExp, ConsoleAlarmKind][] = [
  [/^Kernel panic - not syncing/, 'panic'],
  [/^BUG: soft lockup|^watchdog: BUG: soft lockup|^rcu: INFO: rcu_\w+ (?:self-)?detected stall|^INFO: task .* blocked for more than/, 'lockup'],
  [/^Oops: |^general protection fault|^BUG: |^kernel BUG at |^invalid opcode: /, 'oops'],
  [/^WARNING: CPU: \d+ PID: \d+ at /, 'warning'],
]

export function classifyLine(line: string): ConsoleAlarmKind | null {
  const text = line.replace(PREFIX, '')
  for (const [re, kind] of ALARMS) if (re.test(text)) return kind
  return null
}

const SENTINEL = /SPLAB_[0-9a-f]+_[BE]/

/** Lines kept: enough for a full oops with its stack and the lines before it. */
export const KEPT_LINES = 2000

export class ConsoleWatcher {
  private lines: string[] = []
  /** Line number of lines[0]. */
  private first = 0
  private partial = ''

  /** Feeds console text (any chunking, \r\n or \n); returns the alarms among the completed lines. */
  push(text: string): ConsoleAlarm[] {
    const parts = (this.partial + text).replace(/\r/g, '').split('\n')
    this.partial = parts.pop() ?? ''
    const alarms: ConsoleAlarm[] = []
    for (const line of parts) {
      const index = this.first + this.lines.length
      this.lines.push(line)
      const kind = classifyLine(line)
      if (kind) alarms.push({ kind, line: line.replace(PREFIX, ''), index })
    }
    if (this.lines.length > KEPT_LINES) {
      const drop = this.lines.length - KEPT_LINES
      this.lines.splice(0, drop)
      this.first += drop
    }
    return alarms
  }

  /** The next line's number (what an alarm raised from now on would get at least). */
  get nextIndex(): number {
    return this.first + this.lines.length
  }

  /**
   * The console from line `index` (minus `before` lines of context) to now, the unfinished line
   * included, without the lab's framing sentinels (noise to a person reading a crash).
   */
  consoleFrom(index: number, before = 20): string {
    const from = Math.max(0, index - before - this.first)
    const lines = this.lines.slice(from)
    if (this.partial) lines.push(this.partial)
    return lines.filter((l) => !SENTINEL.test(l)).join('\n')
  }
}
