/**
 * Records → trace_pipe text lines (kernel/trace/trace_output.c: trace_print_context's
 * "%16s-%-7d [%03d] <flags> %5llu.%06lu: ", then the event). The binary reader keeps a run's raw trace
 * in this form, so saved traces, exports and `splice-lab trace --out` read the same whichever reader
 * ran; the text parser reads these lines back into equal records.
 */
import type { TraceRecord } from '../parser'

const SYS_ENTER = 'syscalls:sys_enter_'
const SYS_EXIT = 'syscalls:sys_exit_'

export function traceLine(r: TraceRecord): string {
  if (r.kind === 'lost') return `CPU:${r.cpu} [LOST ${r.count} EVENTS]`
  const us = Math.round(r.ts * 1e6)
  const secs = Math.floor(us / 1e6)
  const frac = String(us - secs * 1e6).padStart(6, '0')
  const tgid = r.tgid === null ? '' : `(${String(r.tgid).padStart(7)}) `
  const head = `${r.task.padStart(16)}-${String(r.pid).padEnd(7)} ${tgid}[${String(r.cpu).padStart(3, '0')}] ${r.flags} ${String(secs).padStart(5)}.${frac}: `
  if (r.name.startsWith(SYS_ENTER)) return `${head}sys_${r.name.slice(SYS_ENTER.length)}${r.body}`
  if (r.name.startsWith(SYS_EXIT)) return `${head}sys_${r.name.slice(SYS_EXIT.length)} -> ${r.body}`
  const colon = r.name.indexOf(':')
  return `${head}${colon === -1 ? r.name : r.name.slice(colon + 1)}: ${r.body}`
}
