/**
 * Turns parsed trace records into what the lab shows: per-op tracepoint counts (attributed through
 * the probe's trace_marker lines) and per-time-bucket series for the live charts.
 *
 * On a kernel with the fix's tracepoints (splice:splice_steal, splice:splice_copy: one event per page
 * a pipe gets under a non-stock splice_policy, resources/kernel/steal-or-copy/0007-*.patch) the
 * steal and copy series are counted from them ('measured'):
 * - stolen:      splice_steal events (a page-cache page or a gifted user page the pipe now owns).
 * - copied:      splice_copy events (a page copied into a page the pipe owns).
 * - bytesCopied: the sum of splice_copy's bytes= (the length taken from each source page).
 * Elsewhere they are inferred from stock tracepoints ('inferred'), and say only what those can tell:
 * - copied:  page allocations (kmem:mm_page_alloc, counted in pages: 2^order) made by the probe while
 *            inside a splice/vmsplice/tee call — a copy needs a fresh page; sharing a reference does not.
 * - stolen:  page-cache deletions (filemap:mm_filemap_delete_from_page_cache) inside such a call —
 *            what a steal looks like (the page leaves the cache for the pipe).
 * - bytesCopied: not known (stays 0; the charts draw no kernel line for it).
 * Either way:
 * - bytes:   sum of positive returns of splice/vmsplice/tee exits — bytes put into or taken out of pipes.
 * - shared:  pages moved (bytes / page size, rounded up per call) minus copied and stolen, at least 0.
 * - reloads: page-cache additions for a (dev, ino, ofs) that an earlier deletion removed — the page
 *            is read back in after leaving the cache (a steal, DONTNEED or truncate); only the last
 *            MAX_REMEMBERED_REMOVALS removals are remembered, and shmem (tmpfs) adds emit no event.
 * Events from other tasks (the set_event_pid filter lets some interrupt-context events through) are
 * counted only when their pid belongs to the traced process tree.
 */
import type { TraceBucket } from '../run/types'
import { syscallReturn, type TraceEvent, type TraceRecord } from './parser'
import { emptyLiveCounts, type LiveCounts, type SeriesCounting } from '../vocabulary'

export const MARKER_PREFIX = 'splicelab:'
export const BETWEEN_OPS = '(between ops)'

/**
 * How many removed pages are remembered to recognise a reload. Default 65536 (256 MiB of 4 KiB
 * pages): a page read back after more removals than that is not counted as a reload.
 */
export const MAX_REMEMBERED_REMOVALS = 65536

/** Width of a live-chart bucket. Default 100 ms: smooth enough to watch, few enough points to draw. */
export const BUCKET_MS = 100


export class TraceAggregator {
  /** Per op, per event: a box per count, so counting is one map lookup, not a get and a set. */
  private readonly countsByOp = new Map<string, Map<string, { n: number }>>()
  private countsOp: string | null = null
  private counts: Map<string, { n: number }> | null = null
  /** Per op, the live series (seriesPerOp); opSeries is the current op's. */
  private readonly seriesByOp = new Map<string, LiveCounts>()
  private opSeries: LiveCounts | null = null
  /** Ops whose series may have moved since takeChangedSeries(). */
  private readonly changedOps = new Set<string>()
  events = 0
  lost = 0
  private readonly pids = new Set<number>()
  /** The pid that last passed the filter (most events come from one task in a row); -1 after the filter changes. */
  private lastPid = -1
  private currentOp: string | null = null
  /** Pipe-call state per traced pid, reused from call to call (nothing allocated per event). */
  private readonly calls = new Map<number, CallState>()
  private lastCall: CallState | null = null
  private readonly removed = new Set<number | string>()
  private readonly pageKeys = new PageKeys()
  private t0: number | null = null
  private readonly buckets = new Map<number, LiveCounts>()
  private lastBucketIndex = -1
  private lastBucket: LiveCounts | null = null

  /**
   * `counting`: 'measured' when the trace has the fix's splice_steal / splice_copy events enabled
   * (the kernel offers them), else 'inferred'.
   */
  constructor(
    private readonly pageSize = 4096,
    rootPid: number | null = null,
    readonly counting: SeriesCounting = 'inferred',
  ) {
    if (rootPid !== null) this.pids.add(rootPid)
    this.measured = counting === 'measured'
  }

  private readonly measured: boolean

  /** Registers the traced process (the pid that wrote itself into set_event_pid). */
  trackPid(pid: number): void {
    this.pids.add(pid)
    this.lastPid = -1
  }

  push(r: TraceRecord): void {
    if (r.kind === 'lost') {
      this.lost += r.count
      return
    }
    // With no pid registered yet, the first marker names the probe.
    if (r.name === 'ftrace:tracing_mark_write' && r.body.startsWith(MARKER_PREFIX)) {
      this.pids.add(r.pid)
      this.lastPid = -1
      const rest = r.body.slice(MARKER_PREFIX.length)
      const space = rest.indexOf(' ')
      const phase = rest.slice(0, space)
      const path = rest.slice(space + 1).trim()
      if (phase === 'begin') {
        this.currentOp = path
        // An op that causes no event still has its (zero) series: a curve over the ops does not stop there.
        this.seriesFor(path)
        this.changedOps.add(path)
      } else if (phase === 'end' && this.currentOp === path) this.currentOp = null
      return
    }
    if (r.pid !== this.lastPid && this.pids.size > 0 && !this.pids.has(r.pid)) {
      // A child forked by the probe shows up under its own pid; event-fork only lets the tree through,
      // so anything else with an op open is another task in interrupt context: not ours.
      if (r.pid === 0 || this.currentOp === null) return
      this.pids.add(r.pid)
    }
    this.lastPid = r.pid
    this.events++
    if (this.currentOp !== this.countsOp || this.counts === null) {
      this.countsOp = this.currentOp
      this.counts = this.countsFor(this.currentOp ?? BETWEEN_OPS)
      this.opSeries = this.seriesFor(this.currentOp ?? BETWEEN_OPS)
      this.changedOps.add(this.currentOp ?? BETWEEN_OPS)
    }
    const counts = this.counts
    const count = counts.get(r.name)
    if (count === undefined) counts.set(r.name, { n: 1 })
    else count.n++
    this.series(r)
  }

  /**
   * The live series. Bodies are read only by the cases that need them: a binary record prints its
   * body when first read, and reads numeric fields (num) without printing it at all.
   */
  private series(r: TraceEvent): void {
    const { ts, name, pid } = r
    if (this.t0 === null) this.t0 = ts
    const bucket = Math.floor(((ts - this.t0) * 1000) / BUCKET_MS)
    if (bucket !== this.lastBucketIndex) {
      this.lastBucket = this.buckets.get(bucket) ?? this.newBucket(bucket)
      this.lastBucketIndex = bucket
    }
    const b = this.lastBucket!
    const o = this.opSeries!
    switch (name) {
      case 'syscalls:sys_enter_splice':
      case 'syscalls:sys_enter_vmsplice':
      case 'syscalls:sys_enter_tee': {
        const call = this.callOf(pid, true)
        call.active = true
        call.copied = 0
        call.stolen = 0
        break
      }
      case 'syscalls:sys_exit_splice':
      case 'syscalls:sys_exit_vmsplice':
      case 'syscalls:sys_exit_tee': {
        const call = this.callOf(pid)
        if (!call.active) break
        call.active = false
        const ret = (r.num && r.num('ret')) ?? syscallReturn(r.body)
        if (ret > 0) {
          b.bytes! += ret
          o.bytes += ret
          const pages = Math.ceil(ret / this.pageSize)
          const shared = Math.max(0, pages - call.copied - call.stolen)
          b.shared! += shared
          o.shared += shared
        }
        break
      }
      case 'kmem:mm_page_alloc': {
        if (this.measured) break
        const call = this.callOf(pid)
        if (!call.active) break
        const pages = 2 ** ((r.num && r.num('order')) ?? fieldOf(r.body, ' order='))
        call.copied += pages
        b.copied! += pages
        o.copied += pages
        break
      }
      case 'filemap:mm_filemap_delete_from_page_cache': {
        this.removed.add(this.pageKeys.ofEvent(r, this.pageSize))
        // Bounded: forget the oldest removal first (a Set iterates in insertion order).
        if (this.removed.size > MAX_REMEMBERED_REMOVALS) this.removed.delete(this.removed.values().next().value!)
        if (this.measured) break
        const call = this.callOf(pid)
        if (call.active) {
          call.stolen++
          b.stolen!++
          o.stolen++
        }
        break
      }
      case 'splice:splice_steal': {
        if (!this.measured) break
        const call = this.callOf(pid)
        if (call.active) call.stolen++
        b.stolen!++
        o.stolen++
        break
      }
      case 'splice:splice_copy': {
        if (!this.measured) break
        const call = this.callOf(pid)
        if (call.active) call.copied++
        const bytes = (r.num && r.num('bytes')) ?? fieldOf(r.body, ' bytes=')
        b.copied!++
        b.bytesCopied! += bytes
        o.copied++
        o.bytesCopied += bytes
        break
      }
      case 'filemap:mm_filemap_add_to_page_cache':
        if (this.removed.delete(this.pageKeys.ofEvent(r, this.pageSize))) {
          b.reloads!++
          o.reloads++
        }
        break
    }
  }

  /**
   * The call state of a pid. Only an enter event creates one, so the map holds the pids that made
   * pipe calls (not every task a trace of the whole machine sees); others get an inactive state.
   */
  private callOf(pid: number, create = false): CallState {
    const last = this.lastCall
    if (last !== null && last.pid === pid) return last
    let call = this.calls.get(pid)
    if (call === undefined) {
      if (!create) return NO_CALL
      this.calls.set(pid, (call = { pid, active: false, copied: 0, stolen: 0 }))
    }
    return (this.lastCall = call)
  }

  private seriesFor(op: string): LiveCounts {
    let c = this.seriesByOp.get(op)
    if (!c) this.seriesByOp.set(op, (c = emptyLiveCounts()))
    return c
  }

  /**
   * The live series summed per op path, attributed as the per-op counts are (by the probe's markers
   * in the stream's order, not by time: a guest's coarse trace clock can stamp a marker and the
   * events around it alike). Events outside any op go under BETWEEN_OPS.
   */
  get seriesPerOp(): Record<string, LiveCounts> {
    return Object.fromEntries([...this.seriesByOp].map(([op, c]) => [op, { ...c }]))
  }

  /**
   * The series (cumulative, per op) of the ops that had events since the last call: what a live
   * chart over the ops needs to grow while the run goes, without the whole map each time.
   */
  takeChangedSeries(): Record<string, LiveCounts> {
    const out: Record<string, LiveCounts> = {}
    for (const op of this.changedOps) {
      const c = this.seriesByOp.get(op)
      if (c) out[op] = { ...c }
    }
    this.changedOps.clear()
    // The op under way keeps changing: it is sent again next time.
    if (this.countsOp !== null) this.changedOps.add(this.countsOp)
    return out
  }

  private countsFor(op: string): Map<string, { n: number }> {
    let m = this.countsByOp.get(op)
    if (!m) this.countsByOp.set(op, (m = new Map()))
    return m
  }

  /** Kernel clock (s) of the series' t = 0: the first counted event; null before there is one. */
  get start(): number | null {
    return this.t0
  }

  /** Counts per op path, then per "system:event"; events outside any op go under BETWEEN_OPS. */
  get perOp(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const [op, m] of this.countsByOp) out[op] = Object.fromEntries([...m].map(([name, count]) => [name, count.n]))
    return out
  }

  private newBucket(index: number): LiveCounts {
    const b = emptyLiveCounts()
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

interface CallState {
  pid: number
  /** Inside a splice/vmsplice/tee call (between its enter and exit events). */
  active: boolean
  copied: number
  stolen: number
}

/**
 * The state of a pid that never made a pipe call: never active, so never written (callers write only
 * to an active call). Not frozen: the same shape as the real states keeps their property access fast.
 */
const NO_CALL: CallState = { pid: -1, active: false, copied: 0, stolen: 0 }

/** The decimal value of `field` (" name=") in a body; 0 if absent. */
function fieldOf(body: string, field: string): number {
  const at = body.indexOf(field)
  if (at === -1) return 0
  let v = 0
  for (let i = at + field.length, c = body.charCodeAt(i); c >= 48 && c <= 57; c = body.charCodeAt(++i)) v = v * 10 + (c - 48)
  return v
}

/** Distinct files given a number in PageKeys (×2^40 stays a safe integer); past this, keys fall back to strings (memory stays bounded). */
const MAX_FILE_IDS = 4096

/**
 * One page of one file as a set key, from the fixed layout of mm_filemap_op_page_cache's format
 * (include/trace/events/filemap.h, "dev %d:%d ino %lx pfn=0x%lx ofs=%lu order=%u"):
 * "dev 0:26 ino 2 pfn=0x11bcc9 ofs=4096 order=0" → file number × 2^40 + 4096. This runs for every
 * page-cache add and delete, so the usual case reads each character once and builds no string: the
 * file part is compared with the last one seen while it is scanned, and the offset is read as a
 * number. Anything else is its own key (the body itself).
 */
class PageKeys {
  private readonly ids = new Map<string, number>()
  private lastFile = ''
  private lastId = -1

  /**
   * The key of a page-cache event: from a binary record's fields (s_dev, i_ino, index) without
   * printing its body, else from the body. Both give the same key for the same page: the file part
   * is the body's "<major>:<minor> ino <hex>" (MINORBITS 20, include/linux/kdev_t.h) and the offset
   * index × page size (the format's index << PAGE_SHIFT).
   */
  ofEvent(r: TraceEvent, pageSize: number): number | string {
    const dev = r.num?.('s_dev')
    const ino = r.num?.('i_ino')
    const index = r.num?.('index')
    if (dev === undefined || ino === undefined || index === undefined) return this.of(r.body)
    const ofs = index * pageSize
    // Page-cache events come in runs on one file: the file's name is built only when it changes.
    if (dev === this.lastDev && ino === this.lastIno && this.lastId !== -1 && ofs < 2 ** 40) return this.lastId * 2 ** 40 + ofs
    const file = `${Math.floor(dev / 1048576)}:${dev % 1048576} ino ${ino.toString(16)}`
    const id = file === this.lastFile && this.lastId !== -1 ? this.lastId : this.idOf(file)
    if (id === -1 || ofs >= 2 ** 40) return `${file} ofs=${ofs}`
    this.lastDev = dev
    this.lastIno = ino
    return id * 2 ** 40 + ofs
  }

  private lastDev = -1
  private lastIno = -1

  of(body: string): number | string {
    if (body.charCodeAt(0) !== 100 || body.charCodeAt(1) !== 101 || body.charCodeAt(2) !== 118 || body.charCodeAt(3) !== 32) return body
    // "<major>:<minor> ino <hex>": up to the third space after "dev ".
    const last = this.lastFile
    let same = this.lastId !== -1
    let spaces = 0
    let i = 4
    for (; i < body.length; i++) {
      const c = body.charCodeAt(i)
      if (c === 32 && ++spaces === 3) break
      if (same && last.charCodeAt(i - 4) !== c) same = false
    }
    const fileEnd = i
    if (!expect(body, i, ' pfn=')) return body
    i += 5
    while (i < body.length && body.charCodeAt(i) !== 32) i++
    if (!expect(body, i, ' ofs=')) return body
    const digits = (i += 5)
    let ofs = 0
    for (let c = body.charCodeAt(i); c >= 48 && c <= 57; c = body.charCodeAt(++i)) ofs = ofs * 10 + (c - 48)
    if (i === digits) return body
    const id = same && fileEnd - 4 === last.length ? this.lastId : this.idOf(body.slice(4, fileEnd))
    if (id === -1 || ofs >= 2 ** 40) return body.slice(4, fileEnd) + body.slice(digits - 5, i)
    return id * 2 ** 40 + ofs
  }

  /** The number of a file, or -1 when MAX_FILE_IDS are taken. */
  private idOf(file: string): number {
    let id = this.ids.get(file)
    if (id === undefined) {
      if (this.ids.size >= MAX_FILE_IDS) return -1
      this.ids.set(file, (id = this.ids.size))
    }
    this.lastFile = file
    this.lastId = id
    this.lastDev = -1
    return id
  }
}

/** Whether body has `text` at index i (text is short: a field's " name="). */
function expect(body: string, i: number, text: string): boolean {
  if (i + text.length > body.length) return false
  for (let k = 0; k < text.length; k++) if (body.charCodeAt(i + k) !== text.charCodeAt(k)) return false
  return true
}
