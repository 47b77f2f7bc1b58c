/**
 * The scenario generator of `splice-lab explore`: seeded, reproducible (scenario k of seed S is the
 * same everywhere), over the whole scenario format, and valid by construction (the validator is
 * asked anyway, and a scenario it refuses is a bug of this file, thrown, not skipped).
 *
 * Weighted towards what the lab's question is about — a mutation of a range that a pipe still
 * holds, before the drain that reads it — without excluding the rest: a fraction of the ops are
 * drawn from every kind, in any order the validator accepts.
 */
import { RACE_MUTATORS, type Filesystem, type Scenario, type ScenarioInput } from '../scenario/schema'
import { RACE_MAX_PAGES, validateScenario } from '../scenario/validate'
import { Rng } from './rng'

export interface GenerateOptions {
  seed: number
  /** Filesystems the target can make; each scenario is about one of them. */
  filesystems: readonly Filesystem[]
  pageSize?: number
  /** Upper bound on the ops of one scenario (before the closing drains). Default 10. */
  maxOps?: number
}

/** Scenario `index` of the stream `seed`. */
export function generateScenario(index: number, options: GenerateOptions): Scenario {
  const input = new Builder(new Rng(options.seed, index), options).build(`x${options.seed}-${index}`)
  const checked = validateScenario(input, '<generator>', options.pageSize ?? 4096)
  if (!checked.ok) {
    throw new Error(`the generator made an invalid scenario (seed ${options.seed}, index ${index}): ${checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`)
  }
  return checked.scenario
}

type LeafInput = Exclude<ScenarioInput['ops'][number], { op: 'repeat' } | { op: 'race' }>
type OpInput = ScenarioInput['ops'][number]

interface FileState {
  id: string
  /** Size now, as the ops so far left it (truncate shrinks, writes extend). */
  size: number
  mapped: boolean
  /** Dropped from the page cache at setup (cached: false). */
  cold: boolean
}
interface BufferState {
  id: string
  size: number
  unmapped: boolean
}
interface Range {
  offset: number
  len: number
}

class Builder {
  private readonly P: number
  private readonly files: FileState[] = []
  private readonly buffers: BufferState[] = []
  private readonly pipes: string[] = []
  private readonly ops: OpInput[] = []
  /** Pages the races so far let go either way (validation bounds their sum: RACE_MAX_PAGES). */
  private racePages = 0

  constructor(
    private readonly rng: Rng,
    private readonly options: GenerateOptions,
  ) {
    this.P = options.pageSize ?? 4096
  }

  build(name: string): ScenarioInput {
    const { rng, P } = this
    const files = Array.from({ length: rng.weighted([[1, 6], [2, 2], [0, 1]]) }, (_, i) => {
      const size = this.size(8)
      const cached = rng.weighted([[true, 3], [false, 1]] as const)
      this.files.push({ id: `f${i}`, size, mapped: false, cold: !cached })
      return {
        id: `f${i}`,
        size,
        pattern: { seq: rng.int(0, 9) },
        layout: rng.pick(['per_page', 'one_write'] as const),
        state: rng.weighted([['synced', 3], ['dirty', 1]] as const),
        cached,
      }
    })
    const buffers = Array.from({ length: rng.weighted([[0, 3], [1, 3], [2, 1]]) }, (_, i) => {
      const size = rng.int(1, 4) * P
      this.buffers.push({ id: `b${i}`, size, unmapped: false })
      return { id: `b${i}`, size, kind: rng.pick(['private', 'shared'] as const), offset: rng.weighted([[0, 3], [rng.int(1, P - 1), 1]]), pattern: { seq: rng.int(10, 19) } }
    })
    const pipes = Array.from({ length: rng.weighted([[1, 3], [2, 1]]) }, (_, i) => {
      this.pipes.push(`p${i}`)
      return { id: `p${i}`, size: rng.pick([1, 2, 4, 16]) * P }
    })
    if (files.length === 0 && buffers.length === 0) {
      this.buffers.push({ id: 'b0', size: P, unmapped: false })
      buffers.push({ id: 'b0', size: P, kind: 'private', offset: 0, pattern: { seq: 10 } })
    }

    const maxOps = this.options.maxOps ?? 10
    while (this.ops.length < maxOps) {
      if (rng.chance(0.55)) this.mutationWhileHeld()
      else this.anyOp()
      if (rng.chance(0.25)) break
    }
    if (rng.chance(0.15)) this.wrapInRepeat()
    for (const p of this.pipes) if (rng.chance(0.9)) this.ops.push({ op: 'drain', pipe: p })

    return {
      name,
      title: `explore seed ${this.options.seed}`,
      fs: rng.pick(this.options.filesystems),
      mount: this.mountOptions(),
      files,
      buffers,
      pipes,
      ops: this.ops.length ? this.ops : [{ op: 'drain', pipe: 'p0' }],
    }
  }

  /** The heart of the question: put a range into a pipe, change its source, (maybe later) drain. */
  private mutationWhileHeld(): void {
    const { rng } = this
    if (this.files.length === 0 && this.liveBuffers().length === 0) return this.anyOp()
    const pipe = rng.pick(this.pipes)
    const fromFile = this.files.length > 0 && (this.liveBuffers().length === 0 || rng.chance(0.65))
    if (fromFile) {
      const f = rng.pick(this.files)
      if (rng.chance(0.3) && !f.mapped) this.map(f)
      const r = this.range(Math.max(f.size, 1))
      this.ops.push({ op: 'splice', from: { file: f.id, offset: r.offset }, to: { pipe }, len: r.len })
      if (rng.chance(0.2) && this.pipes.length > 1) this.ops.push({ op: 'tee', from: pipe, to: this.pipes.find((p) => p !== pipe)!, len: r.len })
      this.mutateFile(f, this.overlapping(r, f.size))
      if (f.cold && rng.chance(0.5)) this.raceLastTwo(f, r)
    } else {
      const b = rng.pick(this.liveBuffers())
      const r = this.range(b.size)
      this.ops.push({ op: 'vmsplice', buffer: b.id, offset: r.offset, len: r.len, pipe, gift: rng.chance(0.3) })
      this.mutateBuffer(b, this.overlapping(r, b.size))
    }
    if (rng.chance(0.5)) this.ops.push({ op: 'drain', pipe, len: rng.chance(0.8) ? 'all' : rng.int(1, 2 * this.P) })
  }

  private mutateFile(f: FileState, r: Range): void {
    const { rng, P } = this
    const kind = rng.weighted([
      ['pwrite', 4], ['write_other_process', 1], ['mmap_store', 3], ['punch_hole', 2], ['zero_range', 2],
      ['truncate', 2], ['odirect_write', 1], ['fadvise_dontneed', 1], ['fork', 1], ['fsync', 1],
    ] as const)
    const fill = rng.int(1, 255)
    switch (kind) {
      case 'pwrite': case 'write_other_process':
        this.ops.push({ op: kind, file: f.id, ...r, pattern: { fill } })
        f.size = Math.max(f.size, r.offset + r.len)
        break
      case 'punch_hole':
        this.ops.push({ op: kind, file: f.id, ...r })
        break
      case 'zero_range':
        this.ops.push({ op: kind, file: f.id, ...r, keep_size: rng.chance(0.4) })
        break
      case 'truncate': {
        const size = rng.weighted([[r.offset, 2], [Math.floor(r.offset / P) * P, 1], [0, 1]])
        this.ops.push({ op: 'truncate', file: f.id, size })
        f.size = size
        break
      }
      case 'odirect_write': {
        const offset = Math.floor(r.offset / 512) * 512
        const len = Math.max(512, Math.ceil(r.len / 512) * 512)
        this.ops.push({ op: 'odirect_write', file: f.id, offset, len, pattern: { fill } })
        f.size = Math.max(f.size, offset + len)
        break
      }
      case 'fadvise_dontneed':
        this.ops.push({ op: 'fadvise_dontneed', file: f.id, offset: 0, len: 0 })
        break
      case 'fsync':
        this.ops.push({ op: 'fsync', file: f.id })
        break
      case 'mmap_store': case 'fork': {
        if (!f.mapped) this.map(f)
        // A store past the end of the file through a mapping is SIGBUS, not a finding.
        const inside = this.clampTo(r, f.size)
        if (!inside) return this.ops.push({ op: 'pwrite', file: f.id, ...r, pattern: { fill } }), undefined
        if (kind === 'fork') this.ops.push({ op: 'fork', store: rng.pick(['child', 'parent'] as const), file: f.id, ...inside, pattern: { fill } })
        else this.ops.push({ op: 'mmap_store', file: f.id, ...inside, pattern: { fill } })
        break
      }
    }
  }

  private mutateBuffer(b: BufferState, r: Range): void {
    const { rng } = this
    const kind = rng.weighted([['buf_store', 5], ['fork', 2], ['madvise_dontneed', 1], ['munmap', 1]] as const)
    const fill = rng.int(1, 255)
    if (kind === 'buf_store') this.ops.push({ op: 'buf_store', buffer: b.id, ...r, pattern: { fill } })
    else if (kind === 'fork') this.ops.push({ op: 'fork', store: rng.pick(['child', 'parent'] as const), buffer: b.id, ...r, pattern: { fill } })
    else if (kind === 'madvise_dontneed') this.ops.push({ op: 'madvise_dontneed', buffer: b.id, ...r })
    else {
      this.ops.push({ op: 'munmap', buffer: b.id })
      b.unmapped = true
    }
  }

  /** Any op the validator accepts here, drawn evenly-ish across kinds. */
  private anyOp(): void {
    const { rng } = this
    const kinds: string[] = ['drain', 'close']
    if (this.files.length) kinds.push('splice_in', 'file_mutation', 'mmap', 'splice_out')
    if (this.liveBuffers().length) kinds.push('vmsplice', 'buffer_mutation')
    if (this.pipes.length > 1) kinds.push('tee')
    if (this.files.some((f) => f.mapped)) kinds.push('munmap_file')
    const kind = rng.pick(kinds)
    const pipe = rng.pick(this.pipes)
    switch (kind) {
      case 'drain':
        this.ops.push({ op: 'drain', pipe, len: rng.chance(0.7) ? 'all' : rng.int(1, 3 * this.P) })
        break
      case 'close':
        // Writers gone: a drain of the emptied pipe reads end-of-file; reader gone: EPIPE.
        this.ops.push({ op: 'close', pipe, end: rng.weighted([['write', 3], ['read', 1]] as const) })
        break
      case 'splice_in': {
        const f = rng.pick(this.files)
        const r = this.range(Math.max(f.size, 1))
        this.ops.push({ op: 'splice', from: { file: f.id, offset: r.offset }, to: { pipe }, len: r.len })
        break
      }
      case 'splice_out': {
        const f = rng.pick(this.files)
        const offset = this.range(Math.max(f.size, 1)).offset
        const len = rng.int(1, 2 * this.P)
        this.ops.push({ op: 'splice', from: { pipe }, to: { file: f.id, offset }, len })
        f.size = Math.max(f.size, offset + len)
        break
      }
      case 'file_mutation': {
        const f = rng.pick(this.files)
        this.mutateFile(f, this.range(Math.max(f.size, 1)))
        break
      }
      case 'mmap': {
        const f = rng.pick(this.files)
        if (!f.mapped) this.map(f)
        break
      }
      case 'munmap_file': {
        const f = rng.pick(this.files.filter((x) => x.mapped))
        this.ops.push({ op: 'munmap', file: f.id })
        f.mapped = false
        break
      }
      case 'vmsplice': {
        const b = rng.pick(this.liveBuffers())
        this.ops.push({ op: 'vmsplice', buffer: b.id, ...this.range(b.size), pipe, gift: rng.chance(0.3) })
        break
      }
      case 'buffer_mutation': {
        const b = rng.pick(this.liveBuffers())
        this.mutateBuffer(b, this.range(b.size))
        break
      }
      case 'tee': {
        const to = rng.pick(this.pipes.filter((p) => p !== pipe))
        this.ops.push({ op: 'tee', from: pipe, to, len: rng.int(1, 4 * this.P) })
        break
      }
    }
  }

  /**
   * The splice of a cold file's range and the change of it just pushed become a race (the change
   * runs in a second process while the splice reads from disk: Whitlock's case), when the change is
   * one that may race and the pages both touch stay within what the model enumerates.
   */
  private raceLastTwo(f: FileState, spliced: Range): void {
    const n = this.ops.length
    const [splice, change] = [this.ops[n - 2], this.ops[n - 1]]
    if (!splice || !change || splice.op !== 'splice' || !(RACE_MUTATORS as readonly string[]).includes(change.op)) return
    if (!('file' in change) || change.file !== f.id || !('offset' in change) || !('len' in change)) return
    const lo = Math.max(spliced.offset, Number(change.offset))
    const hi = Math.min(spliced.offset + spliced.len, Number(change.offset) + Number(change.len))
    const pages = hi > lo ? Math.ceil(hi / this.P) - Math.floor(lo / this.P) : 0
    if (pages === 0 || this.racePages + pages > RACE_MAX_PAGES) return
    this.racePages += pages
    this.ops.splice(n - 2, 2, { op: 'race', ops: [splice as LeafInput, change as LeafInput] })
  }

  /**
   * Wraps a run of leaf ops that can repeat into a `repeat` (mmap/munmap/truncate change what later
   * ops may do, and the validator follows mappings in order, so they stay outside).
   */
  private wrapInRepeat(): void {
    const repeatable = (o: OpInput): o is LeafInput => !['mmap', 'munmap', 'truncate', 'close', 'repeat', 'race'].includes(o.op)
    let start = this.rng.int(0, Math.max(0, this.ops.length - 1))
    while (start < this.ops.length && !repeatable(this.ops[start]!)) start++
    let end = start
    while (end < this.ops.length && end - start < 3 && repeatable(this.ops[end]!)) end++
    if (end === start) return
    const body = this.ops.slice(start, end) as LeafInput[]
    this.ops.splice(start, end - start, { op: 'repeat', times: this.rng.int(2, 5), body })
  }

  /** Mostly the defaults; sometimes the ones that change the rules (small ext4 blocks, btrfs nodatasum). */
  private mountOptions(): ScenarioInput['mount'] {
    const { rng } = this
    const mount: NonNullable<ScenarioInput['mount']> = {}
    if (rng.chance(0.2)) mount.ext4 = { block_size: rng.pick([1024, 2048, 4096] as const) }
    if (rng.chance(0.2)) mount.btrfs = { nodatasum: true }
    return mount
  }

  private map(f: FileState): void {
    this.ops.push({ op: 'mmap', file: f.id, fault: this.rng.pick(['none', 'read'] as const) })
    f.mapped = true
  }

  private liveBuffers(): BufferState[] {
    return this.buffers.filter((b) => !b.unmapped)
  }

  /** A file or buffer size: whole pages mostly, an unaligned tail sometimes. */
  private size(maxPages: number): number {
    const pages = this.rng.int(1, maxPages)
    return this.rng.chance(0.7) ? pages * this.P : (pages - 1) * this.P + this.rng.int(1, this.P - 1)
  }

  /** A non-empty range inside [0, total): page-aligned or not, a page, the rest, or a few bytes. */
  private range(total: number): Range {
    const { rng, P } = this
    const pages = Math.max(1, Math.ceil(total / P))
    const offset = Math.min(total - 1, rng.weighted([[0, 3], [rng.int(0, pages - 1) * P, 3], [rng.int(0, total - 1), 3]]))
    const rest = total - offset
    const len = Math.min(rest, rng.weighted([[rest, 3], [P, 2], [rng.int(1, rest), 3], [rng.int(1, 64), 1]]))
    return { offset, len: Math.max(1, len) }
  }

  /** A range that overlaps `r` (so the mutation touches bytes the pipe holds), mostly. */
  private overlapping(r: Range, total: number): Range {
    if (this.rng.chance(0.15)) return this.range(Math.max(total, 1))
    const start = r.offset + this.rng.int(0, r.len - 1)
    const end = Math.min(Math.max(total, start + 1), start + this.rng.weighted([[r.offset + r.len - start, 2], [this.rng.int(1, this.P), 2], [1, 1]]))
    return { offset: start, len: Math.max(1, end - start) }
  }

  private clampTo(r: Range, size: number): Range | null {
    if (r.offset >= size) return null
    return { offset: r.offset, len: Math.min(r.len, size - r.offset) }
  }
}
