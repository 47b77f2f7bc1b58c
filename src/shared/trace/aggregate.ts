/**
 * Turns parsed trace records into what the lab shows: per-op tracepoint counts (attributed through
 * the probe's trace_marker lines) and per-time-bucket series for the live charts.
 *
 * The series are inferred from stock tracepoints, and say only what those can tell:
 * - bytes:   sum of positive returns of splice/vmsplice/tee exits — bytes put into or taken out of pipes.
 * - copied:  page allocations (kmem:mm_page_alloc, counted in pages: 2^order) made by the probe while
 *            inside a splice/vmsplice/tee call — a copy needs a fresh page; sharing a reference does not.
 * - stolen:  page-cache deletions (filemap:mm_filemap_delete_from_page_cache) inside such a call —
 *            what a steal looks like (the page leaves the cache for the pipe).
 * - shared:  pages moved (bytes / page size, rounded up per call) minus copied and stolen, at least 0.
 * - reloads: page-cache additions for a (dev, ino, ofs) that an earlier deletion removed — the page
 *            is read back in after leaving the cache (a steal, DONTNEED or truncate); only the last
 *            MAX_REMEMBERED_REMOVALS removals are remembered, and shmem (tmpfs) adds emit no event.
 * Events from other tasks (the set_event_pid filter lets some interrupt-context events through) are
 * counted only when their pid belongs to the traced process tree.
 */
import type { TraceBucket } from '../run/types'
import { fieldsOf, syscallReturn, type TraceRecord } from './parser'

export const MARKER_PREFIX = 'splicelab:'
export const BETWEEN_OPS = '(between ops)'

/**
 * How many removed pages are remembered to recognise a reload. Default 65536 (256 MiB of 4 KiB
 * pages): a page read back after more removals than that is not counted as a reload.
 */
export const MAX_REMEMBERED_REMOVALS = 65536

/** Width of a live-chart bucket. Default 100 ms: smooth enough to watch, few enough points to draw. */
export const BUCKET_MS = 100

export const SERIES = ['shared', 'stolen', 'copied', 'reloads', 'bytes'] as const
export type SeriesName = (typeof SERIES)[number]

export class TraceAggregator {
  private readonly countsByOp = new Map<string, Map<string, number>>()
  private countsOp: string | null = null
  private counts: Map<string, number> | null = null
  events = 0
  lost = 0
  private readonly pids = new Set<number>()
  private currentOp: string | null = null
  /** pid → syscall name while a pipe call is in progress. */
  private readonly inCall = new Map<number, { copied: number; stolen: number }>()
  private readonly removed = new Set<string>()
  private t0: number | null = null
  private readonly buckets = new Map<number, Record<string, number>>()
  private lastBucketIndex = -1
  private lastBucket: Record<string, number> | null = null

  constructor(private readonly pageSize = 4096, rootPid: number | null = null) {
    if (rootPid !== null) this.pids.add(rootPid)
  }

  /** Registers the traced process (the pid that wrote itself into set_event_pid). */
  trackPid(pid: number): void {
    this.pids.add(pid)
  }

  push(r: TraceRecord): void {
    if (r.kind === 'lost') {
      this.lost += r.count
      return
    }
    // With no pid registered yet, the first marker names the probe.
    if (r.name === 'ftrace:tracing_mark_write' && r.body.startsWith(MARKER_PREFIX)) {
      this.pids.add(r.pid)
      const rest = r.body.slice(MARKER_PREFIX.length)
      const space = rest.indexOf(' ')
      const phase = rest.slice(0, space)
      const path = rest.slice(space + 1).trim()
      if (phase === 'begin') this.currentOp = path
      else if (phase === 'end' && this.currentOp === path) this.currentOp = null
      return
    }
    if (this.pids.size > 0 && !this.pids.has(r.pid)) {
      // A child forked by the probe shows up under its own pid; event-fork only lets the tree through,
      // so anything else with an op open is another task in interrupt context: not ours.
      if (r.pid === 0 || this.currentOp === null) return
      this.pids.add(r.pid)
    }
    this.events++
    if (this.currentOp !== this.countsOp) {
      this.countsOp = this.currentOp
      this.counts = this.countsFor(this.currentOp ?? BETWEEN_OPS)
    }
    const counts = this.counts ?? (this.counts = this.countsFor(BETWEEN_OPS))
    counts.set(r.name, (counts.get(r.name) ?? 0) + 1)
    this.series(r.ts, r.name, r.pid, r.body)
  }

  private series(ts: number, name: string, pid: number, body: string): void {
    if (this.t0 === null) this.t0 = ts
    const bucket = Math.floor(((ts - this.t0) * 1000) / BUCKET_MS)
    if (bucket !== this.lastBucketIndex) {
      this.lastBucket = this.buckets.get(bucket) ?? this.newBucket(bucket)
      this.lastBucketIndex = bucket
    }
    const b = this.lastBucket!
    switch (name) {
      case 'syscalls:sys_enter_splice':
      case 'syscalls:sys_enter_vmsplice':
      case 'syscalls:sys_enter_tee':
        this.inCall.set(pid, { copied: 0, stolen: 0 })
        break
      case 'syscalls:sys_exit_splice':
      case 'syscalls:sys_exit_vmsplice':
      case 'syscalls:sys_exit_tee': {
        const call = this.inCall.get(pid)
        if (!call) break
        this.inCall.delete(pid)
        const ret = syscallReturn(body)
        if (ret > 0) {
          b.bytes! += ret
          const pages = Math.ceil(ret / this.pageSize)
          b.shared! += Math.max(0, pages - call.copied - call.stolen)
        }
        break
      }
      case 'kmem:mm_page_alloc': {
        const call = this.inCall.get(pid)
        if (!call) break
        const pages = 2 ** Number(fieldsOf(body).order ?? 0)
        call.copied += pages
        b.copied! += pages
        break
      }
      case 'filemap:mm_filemap_delete_from_page_cache': {
        this.removed.add(pageKey(body))
        // Bounded: forget the oldest removal first (a Set iterates in insertion order).
        if (this.removed.size > MAX_REMEMBERED_REMOVALS) this.removed.delete(this.removed.values().next().value!)
        const call = this.inCall.get(pid)
        if (call) {
          call.stolen++
          b.stolen!++
        }
        break
      }
      case 'filemap:mm_filemap_add_to_page_cache':
        if (this.removed.delete(pageKey(body))) b.reloads!++
        break
    }
  }

  private countsFor(op: string): Map<string, number> {
    let m = this.countsByOp.get(op)
    if (!m) this.countsByOp.set(op, (m = new Map()))
    return m
  }

  /** Counts per op path, then per "system:event"; events outside any op go under BETWEEN_OPS. */
  get perOp(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const [op, m] of this.countsByOp) out[op] = Object.fromEntries(m)
    return out
  }

  private newBucket(index: number): Record<string, number> {
    const b: Record<string, number> = { shared: 0, stolen: 0, copied: 0, reloads: 0, bytes: 0 }
    this.buckets.set(index, b)
    return b
  }

  /**
   * Buckets completed since the last call (all of them when `final`), in time order, then forgotten:
   * memory stays bounded however long the stream is.
   */
  takeBuckets(final = false): TraceBucket[] {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b)
    const last = final ? Infinity : keys[keys.length - 1]
    const out: TraceBucket[] = []
    for (const k of keys) {
      if (k >= last!) break
      out.push({ t: k * BUCKET_MS, counts: this.buckets.get(k)! })
      this.buckets.delete(k)
      if (k === this.lastBucketIndex) this.lastBucketIndex = -1
    }
    return out
  }
}

/** "dev 0:26 ino 2 pfn=0x11bcc9 ofs=4096 order=0" → "0:26/2/4096": one page of one file. */
const PAGE_KEY = /^dev (\S+) ino (\S+) .*?ofs=(\d+)/
function pageKey(body: string): string {
  // One pass over the fixed layout of mm_filemap_op_page_cache's format (include/trace/events/filemap.h).
  const m = PAGE_KEY.exec(body)
  return m ? `${m[1]}/${m[2]}/${m[3]}` : body
}
