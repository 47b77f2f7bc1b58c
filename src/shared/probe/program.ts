/**
 * Compiles a validated scenario into the probe's program: plain text, one declaration or op per
 * line, so the C probe needs no JSON parser. The format is documented at the top of
 * resources/probe/main.c; in short:
 *
 *   splicelab-program 1
 *   runs 1
 *   file 0 size=16384 pattern=seq:1 layout=per_page state=synced cached=1
 *   buffer 0 size=8192 kind=private offset=100 pattern=seq:2
 *   pipe 0 size=65536
 *   op ops[0] splice src=file:0:0 dst=pipe:0:0 len=4096
 *   op ops[1] pwrite file=0 offset=100 len=200 pattern=fill:66
 *   repeat ops[2] times=1024 body=2
 *   op ops[2].body[0] … (the body's ops follow their repeat line)
 *   race ops[3] ops=2                      the two ops that follow run at once, the second in a child process
 *   op ops[3] drain pipe=0 len=all
 *   end
 *
 * Sizes are resolved to bytes here (resolveSize with the target's page size); files, buffers and
 * pipes are referred to by index in declaration order. The scratch directory is not in the program:
 * it is the probe's command-line argument, so one program runs on any filesystem.
 */
import { resolveSize, type SizeSpec } from '../scenario/size'
import type { LeafOp, Op, Scenario } from '../scenario/schema'
import type { Pattern } from '../scenario/pattern'
import { assertNever } from '../scenario/validate'
import { compiledOpCount, PROBE_LIMITS } from './limits'

export const PROGRAM_VERSION = 1

export interface CompileOptions {
  pageSize: number
}

export class ProgramError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`)
    this.name = 'ProgramError'
  }
}

function patternText(p: Pattern): string {
  return 'fill' in p ? `fill:${p.fill}` : `seq:${p.seq}`
}

/** The probe would refuse these after connect and setup: say so here, naming the field. */
function checkLimits(scenario: Scenario): void {
  const tables = [
    ['files', scenario.files.length, PROBE_LIMITS.maxFiles],
    ['buffers', scenario.buffers.length, PROBE_LIMITS.maxBuffers],
    ['pipes', scenario.pipes.length, PROBE_LIMITS.maxPipes],
  ] as const
  for (const [field, n, max] of tables) if (n > max) throw new ProgramError(field, `${n} declared, the probe takes at most ${max}`)
  const ops = compiledOpCount(scenario.ops)
  if (ops > PROBE_LIMITS.maxOps)
    throw new ProgramError('ops', `${ops} op lines (each repeat and each op of its body count once), the probe takes at most ${PROBE_LIMITS.maxOps}`)
  if (scenario.runs > PROBE_LIMITS.maxRuns) throw new ProgramError('runs', `${scenario.runs}, the probe takes at most ${PROBE_LIMITS.maxRuns}`)
}

export function compileProgram(scenario: Scenario, opts: CompileOptions): string {
  const { pageSize } = opts
  if (!Number.isInteger(pageSize) || pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw new ProgramError('pageSize', `expected a power of two ≥ 512, got ${pageSize}`)
  const size = (s: SizeSpec): number => resolveSize(s, pageSize)
  const index = (kind: 'file' | 'buffer' | 'pipe', list: { id: string }[]) => {
    const m = new Map(list.map((x, i) => [x.id, i]))
    return (id: string, where: string): number => {
      const i = m.get(id)
      if (i === undefined) throw new ProgramError(where, `no ${kind} "${id}" (declared: ${list.map((x) => x.id).join(', ') || 'none'})`)
      return i
    }
  }
  checkLimits(scenario)
  const fileIx = index('file', scenario.files)
  const bufIx = index('buffer', scenario.buffers)
  const pipeIx = index('pipe', scenario.pipes)

  const lines = [`splicelab-program ${PROGRAM_VERSION}`, `# ${scenario.name}`, `runs ${scenario.runs}`]
  scenario.files.forEach((f, i) =>
    lines.push(`file ${i} size=${size(f.size)} pattern=${patternText(f.pattern)} layout=${f.layout} state=${f.state} cached=${f.cached ? 1 : 0}`),
  )
  scenario.buffers.forEach((b, i) => lines.push(`buffer ${i} size=${size(b.size)} kind=${b.kind} offset=${size(b.offset)} pattern=${patternText(b.pattern)}`))
  scenario.pipes.forEach((p, i) => lines.push(`pipe ${i} size=${size(p.size)}`))

  const leaf = (op: LeafOp, path: string): string => {
    const f = (id: string) => fileIx(id, `${path}.file`)
    const head = `op ${path} ${op.op}`
    switch (op.op) {
      case 'splice': {
        const src = 'file' in op.from ? `file:${fileIx(op.from.file, `${path}.from.file`)}:${size(op.from.offset)}` : `pipe:${pipeIx(op.from.pipe, `${path}.from.pipe`)}:0`
        const dst = 'file' in op.to ? `file:${fileIx(op.to.file, `${path}.to.file`)}:${size(op.to.offset)}` : `pipe:${pipeIx(op.to.pipe, `${path}.to.pipe`)}:0`
        return `${head} src=${src} dst=${dst} len=${size(op.len)}`
      }
      case 'vmsplice':
        return `${head} buffer=${bufIx(op.buffer, `${path}.buffer`)} offset=${size(op.offset)} len=${size(op.len)} pipe=${pipeIx(op.pipe, `${path}.pipe`)} gift=${op.gift ? 1 : 0}`
      case 'tee':
        return `${head} from=${pipeIx(op.from, `${path}.from`)} to=${pipeIx(op.to, `${path}.to`)} len=${size(op.len)}`
      case 'pwrite':
      case 'write_other_process':
      case 'odirect_write':
      case 'mmap_store':
        return `${head} file=${f(op.file)} offset=${size(op.offset)} len=${size(op.len)} pattern=${patternText(op.pattern)}`
      case 'punch_hole':
        return `${head} file=${f(op.file)} offset=${size(op.offset)} len=${size(op.len)}`
      case 'zero_range':
        return `${head} file=${f(op.file)} offset=${size(op.offset)} len=${size(op.len)} keep_size=${op.keep_size ? 1 : 0}`
      case 'mmap':
        return `${head} file=${f(op.file)} fault=${op.fault}`
      case 'fsync':
        return `${head} file=${f(op.file)}`
      case 'munmap':
        if (op.file !== undefined) return `${head} file=${f(op.file)}`
        if (op.buffer !== undefined) return `${head} buffer=${bufIx(op.buffer, `${path}.buffer`)}`
        throw new ProgramError(path, 'munmap needs a file or a buffer')
      case 'buf_store':
        return `${head} buffer=${bufIx(op.buffer, `${path}.buffer`)} offset=${size(op.offset)} len=${size(op.len)} pattern=${patternText(op.pattern)}`
      case 'madvise_dontneed':
        return `${head} buffer=${bufIx(op.buffer, `${path}.buffer`)} offset=${size(op.offset)} len=${size(op.len)}`
      case 'truncate':
        return `${head} file=${f(op.file)} size=${size(op.size)}`
      case 'fadvise_dontneed':
        return `${head} file=${f(op.file)} offset=${size(op.offset)} len=${size(op.len)}`
      case 'fork': {
        const target =
          op.buffer !== undefined ? `buffer=${bufIx(op.buffer, `${path}.buffer`)}` : op.file !== undefined ? `file=${f(op.file)}` : null
        if (!target) throw new ProgramError(path, 'fork needs a buffer or a (mapped) file to store into')
        return `${head} store=${op.store} ${target} offset=${size(op.offset)} len=${size(op.len)} pattern=${patternText(op.pattern)}`
      }
      case 'drain':
        return `${head} pipe=${pipeIx(op.pipe, `${path}.pipe`)} len=${op.len === 'all' ? 'all' : size(op.len)}`
      case 'close':
        return `${head} pipe=${pipeIx(op.pipe, `${path}.pipe`)} end=${op.end}`
      default:
        return assertNever(op)
    }
  }

  scenario.ops.forEach((op: Op, i) => {
    const path = `ops[${i}]`
    if (op.op === 'repeat') {
      lines.push(`repeat ${path} times=${op.times} body=${op.body.length}`)
      op.body.forEach((b, j) => lines.push(leaf(b, `${path}.body[${j}]`)))
    } else if (op.op === 'race') {
      lines.push(`race ${path} ops=${op.ops.length}`)
      op.ops.forEach((b, j) => lines.push(leaf(b, `${path}.ops[${j}]`)))
    } else lines.push(leaf(op, path))
  })
  lines.push('end')
  return `${lines.join('\n')}\n`
}

export interface ProbeArgsOptions {
  /** The program file on the target (compileProgram's text, uploaded). */
  programPath: string
  /** Scratch directory where the probe creates (and removes) its files. */
  dir: string
  /** trace_marker file to bracket each op with (an ftrace instance's). */
  marker?: string
  /** The probe stops itself after this long (an op still running reports ETIMEDOUT). */
  timeoutMs?: number
}

/** The probe's command line after the executable (not shell-quoted: quote each when building a shell command). */
export function probeArgs(o: ProbeArgsOptions): string[] {
  const args = ['--program', o.programPath]
  if (o.marker) args.push('--marker', o.marker)
  if (o.timeoutMs !== undefined) {
    if (!Number.isFinite(o.timeoutMs) || o.timeoutMs <= 0) throw new ProgramError('timeoutMs', `expected a positive number of ms, got ${o.timeoutMs}`)
    args.push('--timeout-ms', String(Math.ceil(o.timeoutMs)))
  }
  args.push('--', o.dir)
  return args
}

/**
 * The command line of a batch after the executable: the programs of `batchPath` (compileProgram's
 * texts one after another) run in order, each as its own probe would in `<dir>/s<index>`, each
 * within `timeoutMs`; the batch's tracepoint counters stay open `holdMs` after it (main.c).
 */
export function batchProbeArgs(o: { batchPath: string; dir: string; timeoutMs: number; holdMs?: number }): string[] {
  const ms = (field: string, v: number): string => {
    if (!Number.isFinite(v) || v <= 0) throw new ProgramError(field, `expected a positive number of ms, got ${v}`)
    return String(Math.ceil(v))
  }
  const hold = o.holdMs ? ['--hold-ms', ms('holdMs', o.holdMs)] : []
  return ['--batch', o.batchPath, ...hold, '--timeout-ms', ms('timeoutMs', o.timeoutMs), '--', o.dir]
}

/** The calibration command line after the executable. */
export function calibrateArgs(dir: string): string[] {
  return ['--calibrate', dir]
}
