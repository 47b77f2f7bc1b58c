/**
 * The parts of a trace line that trace_pipe prints before the event (kernel/trace/trace_output.c,
 * trace_print_context and trace_print_lat_fmt), made from a binary record's common fields, so the
 * binary reader's records equal the text parser's.
 */

// include/linux/trace_events.h, enum trace_flag_type (6.13+: bit 0x02 is NEED_RESCHED_LAZY; before,
// it was IRQS_NOSUPPORT, set only on architectures without irq-flags tracing).
const IRQS_OFF = 0x01
const NEED_RESCHED_LAZY = 0x02
const NEED_RESCHED = 0x04
const HARDIRQ = 0x08
const SOFTIRQ = 0x10
const PREEMPT_RESCHED = 0x20
const NMI = 0x40
const BH_OFF = 0x80

const RESCHED: Record<number, string> = {
  [NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED]: 'B',
  [NEED_RESCHED | PREEMPT_RESCHED]: 'N',
  [NEED_RESCHED_LAZY | PREEMPT_RESCHED]: 'L',
  [NEED_RESCHED | NEED_RESCHED_LAZY]: 'b',
  [NEED_RESCHED]: 'n',
  [PREEMPT_RESCHED]: 'p',
  [NEED_RESCHED_LAZY]: 'l',
}

/** The five latency characters ("d..1.") of common_flags and common_preempt_count, as trace_print_lat_fmt prints them. */
export function latencyFlags(flags: number, preempt: number): string {
  const irqsOff = flags & IRQS_OFF ? (flags & BH_OFF ? 'D' : 'd') : flags & BH_OFF ? 'b' : '.'
  const resched = RESCHED[flags & (NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED)] ?? '.'
  const nmi = flags & NMI
  const hard = flags & HARDIRQ
  const soft = flags & SOFTIRQ
  const irq = nmi && hard ? 'Z' : nmi ? 'z' : hard && soft ? 'H' : hard ? 'h' : soft ? 's' : '.'
  const depth = preempt & 0xf ? (preempt & 0xf).toString(16) : '.'
  const migrate = preempt & 0xf0 ? ((preempt >> 4) & 0xf).toString(16) : '.'
  return irqsOff + resched + irq + depth + migrate
}

/** latencyFlags, each combination made once (a trace sees a handful; no string per event). */
export class LatencyFlagsCache {
  private readonly table: Array<string | undefined> = new Array(65536)

  get(flags: number, preempt: number): string {
    const key = (flags << 8) | preempt
    return this.table[key] ?? (this.table[key] = latencyFlags(flags, preempt))
  }
}

/**
 * Task names by pid, from tracefs `saved_cmdlines` ("<pid> <comm>" lines): the binary records carry
 * only the pid, and trace_pipe itself looks the name up in the same table when it prints
 * (trace_find_cmdline: "<idle>" for pid 0, "<...>" for a pid it does not know).
 */
export class Cmdlines {
  private readonly names = new Map<number, string>()
  private lastPid = -1
  private lastName = '<...>'

  /** Adds (or replaces) the names in a saved_cmdlines text. */
  update(text: string): void {
    for (const line of text.split('\n')) {
      const sp = line.indexOf(' ')
      if (sp <= 0) continue
      const pid = Number(line.slice(0, sp))
      if (Number.isSafeInteger(pid)) this.names.set(pid, line.slice(sp + 1))
    }
    this.lastPid = -1
  }

  name(pid: number): string {
    if (pid === this.lastPid) return this.lastName
    const name = pid === 0 ? '<idle>' : (this.names.get(pid) ?? '<...>')
    this.lastPid = pid
    this.lastName = name
    return name
  }

  has(pid: number): boolean {
    return pid === 0 || this.names.has(pid)
  }
}
