/**
 * The scenario format: one workload that both the model and the probe execute. The zod schema is
 * the single source of truth; the TypeScript types are inferred from it. Cross-references (an op
 * naming a file that does not exist, a store into a file that is not mapped) are checked after the
 * shape, in validate.ts, so every error names a field path.
 */
import { z } from 'zod'
import { checkSize } from './size'
import { FILESYSTEMS } from '../vocabulary'
import { SCENARIO_LIMITS as L } from './limits'

export const Size = z
  .union([z.number(), z.string()])
  .superRefine((v, ctx) => {
    const problem = checkSize(v)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })
  .describe('bytes (4096), pages ("2p", "1p+100") or binary units ("16KiB")')

export const PatternSchema = z.union([
  z.strictObject({ fill: z.number().int().min(1).max(255).describe('constant byte, never 0') }),
  z.strictObject({ seq: z.number().int().min(0).max(1_000_000).describe('seed of a position-dependent pattern') }),
])

const Id = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'expected an identifier: a letter, then letters, digits, _ or -')

export const Filesystem = z.enum(FILESYSTEMS)

export const FileSpec = z.strictObject({
  id: Id,
  size: Size,
  pattern: PatternSchema.default({ seq: 1 }),
  /** How the initial content is written: one write() (the kernel may pick large folios) or one per page (order-0 folios). */
  layout: z.enum(['one_write', 'per_page']).default('per_page'),
  /** synced: fsync'd before the ops start (clean pages); dirty: left dirty in the page cache. */
  state: z.enum(['synced', 'dirty']).default('synced'),
  /** false: the pages are dropped from the page cache before the ops start, so a splice reads them from disk. */
  cached: z.boolean().default(true),
})

export const BufferSpec = z.strictObject({
  id: Id,
  size: Size,
  kind: z.enum(['private', 'shared']).default('private'),
  /** Start of the buffer within its first page; 0 means page-aligned. */
  offset: Size.default(0),
  pattern: PatternSchema.default({ seq: 2 }),
})

export const PipeSpec = z.strictObject({
  id: Id,
  /** F_SETPIPE_SZ; the kernel rounds up to a power-of-two number of pages. */
  size: Size.default('16p'),
})

const FileRange = { file: Id, offset: Size, len: Size }
const BufRange = { buffer: Id, offset: Size, len: Size }

const opSplice = z.strictObject({
  op: z.literal('splice'),
  from: z.union([z.strictObject({ file: Id, offset: Size }), z.strictObject({ pipe: Id })]),
  to: z.union([z.strictObject({ pipe: Id }), z.strictObject({ file: Id, offset: Size })]),
  len: Size,
})
const opVmsplice = z.strictObject({ op: z.literal('vmsplice'), ...BufRange, pipe: Id, gift: z.boolean().default(false) })
const opTee = z.strictObject({ op: z.literal('tee'), from: Id, to: Id, len: Size })
const opPwrite = z.strictObject({ op: z.literal('pwrite'), ...FileRange, pattern: PatternSchema.default({ fill: 0x42 }) })
const opWriteOther = z.strictObject({ op: z.literal('write_other_process'), ...FileRange, pattern: PatternSchema.default({ fill: 0x43 }) })
const opOdirect = z.strictObject({ op: z.literal('odirect_write'), ...FileRange, pattern: PatternSchema.default({ fill: 0x44 }) })
const opMmap = z.strictObject({
  op: z.literal('mmap'),
  file: Id,
  /** read: after mapping, read one byte of every page (read faults: each page is cached and mapped into the process). */
  fault: z.enum(['none', 'read']).default('none'),
})
const opMmapStore = z.strictObject({ op: z.literal('mmap_store'), ...FileRange, pattern: PatternSchema.default({ fill: 0x4d }) })
const opMunmap = z.strictObject({ op: z.literal('munmap'), file: Id.optional(), buffer: Id.optional() })
const opBufStore = z.strictObject({ op: z.literal('buf_store'), ...BufRange, pattern: PatternSchema.default({ fill: 0x55 }) })
const opPunch = z.strictObject({ op: z.literal('punch_hole'), ...FileRange })
const opZero = z.strictObject({
  op: z.literal('zero_range'),
  ...FileRange,
  /** FALLOC_FL_KEEP_SIZE: a range past the end of the file allocates zeroed blocks but leaves its size. */
  keep_size: z.boolean().default(false),
})
const opTruncate = z.strictObject({ op: z.literal('truncate'), file: Id, size: Size })
const opFadvise = z.strictObject({ op: z.literal('fadvise_dontneed'), file: Id, offset: Size.default(0), len: Size.default(0) })
const opFsync = z.strictObject({ op: z.literal('fsync'), file: Id })
const opMadvise = z.strictObject({ op: z.literal('madvise_dontneed'), ...BufRange })
const opFork = z.strictObject({
  op: z.literal('fork'),
  /** Which side of the fork stores into the buffer (or shared file mapping) after the fork. */
  store: z.enum(['child', 'parent']),
  buffer: Id.optional(),
  file: Id.optional(),
  offset: Size,
  len: Size,
  pattern: PatternSchema.default({ fill: 0x46 }),
})
const opDrain = z.strictObject({ op: z.literal('drain'), pipe: Id, len: z.union([Size, z.literal('all')]).default('all') })
/**
 * Closes one end of a pipe for the rest of the run. With the write end closed, a drain of the empty
 * pipe returns 0 (end of file) instead of EAGAIN; with the read end closed, putting data in fails
 * with EPIPE; any later use of a closed end fails with EBADF.
 */
const opClose = z.strictObject({ op: z.literal('close'), pipe: Id, end: z.enum(['read', 'write']) })

const leafOps = [
  opSplice, opVmsplice, opTee, opPwrite, opWriteOther, opOdirect, opMmap, opMmapStore, opMunmap, opBufStore,
  opPunch, opZero, opTruncate, opFadvise, opFsync, opMadvise, opFork, opDrain, opClose,
] as const

export const LeafOp = z.discriminatedUnion('op', leafOps)

const opRepeat = z.strictObject({
  op: z.literal('repeat'),
  times: z.number().int().min(1).max(L.maxTimes, `at most ${L.maxTimes} times`),
  body: z.array(LeafOp).min(1).max(L.maxOps - 1, `at most ${L.maxOps - 1} ops (the probe's limit)`),
})

/**
 * Two leaf ops at the same time: ops[0] runs in the probe, ops[1] in a second process forked for it
 * (another task for the kernel, as a concurrent writer would be), both released by one barrier.
 * Which kinds may race, and on what, is checked in validate.ts (RACE_SPLICERS, RACE_MUTATORS).
 * Each op is reported on its own line (ops[i].ops[0], ops[i].ops[1]); the race has no line.
 */
const opRace = z.strictObject({
  op: z.literal('race'),
  ops: z.tuple([LeafOp, LeafOp]),
})

/** repeat bodies and races hold leaf ops only: one level keeps per-op aggregation well defined. */
export const Op = z.discriminatedUnion('op', [...leafOps, opRepeat, opRace])

export const OP_KINDS = [...leafOps.map((o) => o.shape.op.value), 'repeat', 'race'] as const

/** A race's first op: what puts data into a pipe while the other op runs. */
export const RACE_SPLICERS = ['splice'] as const
/** A race's second op: a mutation of the file the splice reads, whose effect the model can split page by page. */
export const RACE_MUTATORS = ['punch_hole', 'zero_range', 'pwrite'] as const

/**
 * mkfs and mount options of the run's scratch filesystem, per filesystem: the run applies the entry
 * of the filesystem it runs on (a run on tmpfs ignores the ext4 entry), and the model takes the same
 * entry as part of its environment.
 */
export const MountOptions = z.strictObject({
  ext4: z
    .strictObject({
      /** mkfs.ext4 -b: a block smaller than a page makes partial-page blocks (zeroing and punching go by block). */
      block_size: z.union([z.literal(1024), z.literal(2048), z.literal(4096)]).default(4096),
    })
    .optional(),
  btrfs: z
    .strictObject({
      /** mount -o nodatasum: new files have no data checksums, so O_DIRECT is real direct I/O, not a buffered fallback. */
      nodatasum: z.boolean().default(false),
    })
    .optional(),
})

export const ScenarioSchema = z.strictObject({
  name: Id,
  title: z.string().min(1).optional(),
  description: z.string().default(''),
  /** Filesystem this scenario is about; a run may override it. */
  fs: Filesystem.optional(),
  mount: MountOptions.default({}),
  files: z.array(FileSpec).max(L.maxFiles, `at most ${L.maxFiles} files (the probe's limit)`).default([]),
  buffers: z.array(BufferSpec).max(L.maxBuffers, `at most ${L.maxBuffers} buffers (the probe's limit)`).default([]),
  pipes: z.array(PipeSpec).min(1).max(L.maxPipes, `at most ${L.maxPipes} pipes (the probe's limit)`),
  ops: z.array(Op).min(1).max(L.maxOps, `at most ${L.maxOps} ops (the probe's limit)`),
  /** How many times a run executes the whole scenario, keeping a histogram of outcomes. */
  runs: z.number().int().min(1).max(L.maxRuns, `at most ${L.maxRuns} runs`).default(1),
})

export type Scenario = z.output<typeof ScenarioSchema>
export type ScenarioInput = z.input<typeof ScenarioSchema>
export type Op = z.output<typeof Op>
export type LeafOp = z.output<typeof LeafOp>
export type RaceOp = z.output<typeof opRace>
export type OpKind = Op['op']
export type FileSpec = z.output<typeof FileSpec>
export type BufferSpec = z.output<typeof BufferSpec>
export type PipeSpec = z.output<typeof PipeSpec>
export type Filesystem = z.output<typeof Filesystem>
export type PatternSpec = z.output<typeof PatternSchema>
export type MountOptions = z.output<typeof MountOptions>
