/**
 * The names every layer of the lab speaks: the tracepoints both executions count, the live series
 * the charts draw, the filesystems a scenario can run on and the probe's exit codes. Declared here
 * once; the model, the comparison, the trace parser and tracer, the run records, the renderer and
 * the probe's C header (resources/probe/vocabulary.h, checked against this file by a test) take
 * them from here, so a name added on one side cannot silently be missing on another.
 */

/**
 * The tracepoints both sides speak of, as ftrace spells them ("system:event"): the model predicts
 * counts (as ranges) for those it can, the probe counts them per op with perf_event_open, the
 * tracer counts them per op from trace_pipe. Order matters to the probe (its per-op array).
 */
export const TRACEPOINTS = [
  'syscalls:sys_enter_splice',
  'syscalls:sys_enter_vmsplice',
  'syscalls:sys_enter_tee',
  'filemap:mm_filemap_add_to_page_cache',
  'filemap:mm_filemap_delete_from_page_cache',
  'kmem:mm_page_alloc',
  'kmem:mm_page_free',
] as const
export type Tracepoint = (typeof TRACEPOINTS)[number]

/**
 * Tracepoints only some kernels have: the fix's one event per page stolen and per page copied
 * (resources/kernel/steal-or-copy/0007-*.patch, docs/steal-rules.md). The tracer enables those the
 * kernel offers and counts them per op; a kernel without them traces as before. They are not in
 * TRACEPOINTS: the probe opens that list all-or-none with perf_event_open, on every kernel.
 */
export const OPTIONAL_TRACEPOINTS = ['splice:splice_steal', 'splice:splice_copy'] as const

/** OPTIONAL_TRACEPOINTS in the system/event form of tracefs' events/ directory. */
export const OPTIONAL_TRACED_EVENTS: readonly string[] = OPTIONAL_TRACEPOINTS.map((e) => e.replace(':', '/'))

/**
 * Events the tracer enables besides TRACEPOINTS: the syscall exits (their return values are the
 * bytes moved, and they close the window in which allocations count as copies).
 */
export const TRACER_ONLY_EVENTS = ['syscalls:sys_exit_splice', 'syscalls:sys_exit_vmsplice', 'syscalls:sys_exit_tee'] as const

/**
 * Every event the lab names, "system:event": what the tracer enables by default, plus events the
 * kernel emits under these systems that the trace reader recognises (the marker the probe writes,
 * batched page frees).
 */
export const TRACE_EVENTS = [...TRACEPOINTS, ...TRACER_ONLY_EVENTS, ...OPTIONAL_TRACEPOINTS, 'kmem:mm_page_free_batched', 'ftrace:tracing_mark_write'] as const
export type TraceEventName = (typeof TRACE_EVENTS)[number]

/** The events a run's tracer enables, in the system/event form of tracefs' events/ directory. */
export const TRACED_EVENTS: readonly string[] = [...TRACEPOINTS, ...TRACER_ONLY_EVENTS].map((e) => e.replace(':', '/'))

/** True for a name this vocabulary declares as a tracepoint both sides count. */
export function isTracepoint(name: string): name is Tracepoint {
  return (TRACEPOINTS as readonly string[]).includes(name)
}

export type OptionalTracepoint = (typeof OPTIONAL_TRACEPOINTS)[number]

/** True for a tracepoint only some kernels have (the probe counts it per op where the kernel does). */
export function isOptionalTracepoint(name: string): name is OptionalTracepoint {
  return (OPTIONAL_TRACEPOINTS as readonly string[]).includes(name)
}

/**
 * The live series a traced run streams (src/shared/trace/aggregate.ts) and the charts draw next to
 * the model's totals: pages shared, stolen and copied into pipes, page-cache reloads, bytes through
 * pipes, and bytes copied into pipes (the splice_copy tracepoints' bytes=; counted only where the
 * kernel has them).
 */
export const LIVE_SERIES = ['shared', 'stolen', 'copied', 'reloads', 'bytes', 'bytesCopied'] as const
export type LiveSeriesName = (typeof LIVE_SERIES)[number]

/**
 * How a run's stolen, copied and bytesCopied series were counted: 'measured' from the fix's
 * OPTIONAL_TRACEPOINTS (one event per page stolen or copied, the kernel has them), 'inferred' from
 * stock tracepoints (page-cache deletions and page allocations inside a pipe call; bytes copied not
 * known).
 */
export type SeriesCounting = 'measured' | 'inferred'

/** One time bucket's counts, per series. */
export type LiveCounts = Record<LiveSeriesName, number>

/** A bucket with every series at zero. */
export function emptyLiveCounts(): LiveCounts {
  return { shared: 0, stolen: 0, copied: 0, reloads: 0, bytes: 0, bytesCopied: 0 }
}

/** The filesystems the model knows and a run can make scratch of. */
export const FILESYSTEMS = ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const
export type Filesystem = (typeof FILESYSTEMS)[number]
/** The ones that live on a block device (a loop device, or a VM's virtio disk). */
export type BlockFilesystem = Exclude<Filesystem, 'tmpfs'>

export function isFilesystem(name: string): name is Filesystem {
  return (FILESYSTEMS as readonly string[]).includes(name)
}

/** The probe's exit codes (resources/probe/vocabulary.h carries the same table). */
export const PROBE_EXIT = {
  /** Every op ran (ops may still have returned errors: those are outcomes, not failures). */
  ok: 0,
  /** Bad command line or program text: nothing ran. */
  usage: 2,
  /** Setup failed (scratch dir not writable, a file/buffer/pipe could not be created): nothing ran. */
  setup: 3,
  /** An op exceeded its time limit; the probe stopped cleanly after reporting it. */
  timeout: 4,
  /** An internal failure of the probe itself (out of memory, a shadow inconsistency). */
  internal: 5,
  /** Stopped by SIGINT / SIGTERM after reporting what it had (128 + signal number, shell convention). */
  sigint: 130,
  sigterm: 143,
} as const
export type ProbeExitName = keyof typeof PROBE_EXIT
export type ProbeExitCode = (typeof PROBE_EXIT)[ProbeExitName]

/** "setup (3)" for a known code, "exit 7" otherwise; shells report a signal as 128 + n. */
export function describeProbeExit(code: number): string {
  for (const [name, c] of Object.entries(PROBE_EXIT)) if (c === code) return `${name} (${code})`
  return code > 128 ? `killed by signal ${code - 128}` : `exit ${code}`
}
