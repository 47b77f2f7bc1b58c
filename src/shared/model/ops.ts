/**
 * One handler per op kind: it reads its operands, changes the world and returns the op's outcome;
 * counts, tracepoints and notes go to the op's accumulator, which every handler gets as an argument.
 */
import type { LeafOp } from '../scenario/schema'
import type { Pattern } from '../scenario/pattern'
import { resolveSize } from '../scenario/size'
import type { OpOutcome } from '../results'
import type { Tracepoint } from '../vocabulary'
import type { OpAcc } from './acc'
import { fadviseDontneed, load, logicalOf, odirectWrite, patternPatch, punch, truncate, writeFile } from './pagecache'
import { dropUserPage, forkProtectsPrivateMemory, storeBuffer, unmapBuffer } from './memory'
import { drain, spliceFileToPipe, spliceToFile, tee, vmsplice } from './pipe'
import type { PolicyRules } from './policy'
import type { BufferState, FileState, PipeState, World } from './state'

/** One simulation: the world it changes, the policy it runs, and the sizes of its ops in bytes. */
export interface Sim {
  readonly world: World
  readonly policy: PolicyRules
  /** Sizes written in pages or units ("2p"), resolved once: ops in a repeat body run many times. */
  readonly sizes: Map<string, number>
}

type OpOf<K extends LeafOp['op']> = Extract<LeafOp, { op: K }>
type Handler<K extends LeafOp['op']> = (sim: Sim, acc: OpAcc, op: OpOf<K>) => OpOutcome

/** The tracepoint each pipe syscall's entry fires (one per call, whatever it returns). */
const SYSCALL_ENTRY: Readonly<Record<'splice' | 'vmsplice' | 'tee', Tracepoint>> = {
  splice: 'syscalls:sys_enter_splice',
  vmsplice: 'syscalls:sys_enter_vmsplice',
  tee: 'syscalls:sys_enter_tee',
}

/** A fresh success outcome (outcomes end up in predictions, which callers own). */
const ok = (): OpOutcome => ({ ret: 0, errno: null })

function size(sim: Sim, spec: string | number): number {
  if (typeof spec === 'number') return spec
  let n = sim.sizes.get(spec)
  if (n === undefined) sim.sizes.set(spec, (n = resolveSize(spec, sim.world.pageSize)))
  return n
}
const fileOf = (sim: Sim, id: string): FileState => sim.world.files.get(id)!
const bufOf = (sim: Sim, id: string): BufferState => sim.world.buffers.get(id)!
const pipeOf = (sim: Sim, id: string): PipeState => sim.world.pipes.get(id)!

/** A buffered write of `pattern` (pwrite, or another process's write(): the same page cache). */
function pwrite(sim: Sim, acc: OpAcc, op: OpOf<'pwrite' | 'write_other_process'>): OpOutcome {
  const s = size(sim, op.offset)
  const len = size(sim, op.len)
  writeFile(sim.world, acc, fileOf(sim, op.file), s, s + len, patternPatch(s, s + len, op.pattern), false)
  return { ret: len, errno: null }
}

/** punch_hole keeps the size (FALLOC_FL_KEEP_SIZE); zero_range extends the file unless it is given keep_size. */
function fallocate(sim: Sim, acc: OpAcc, op: OpOf<'punch_hole' | 'zero_range'>): OpOutcome {
  const w = sim.world
  // vfs_fallocate (fs/open.c) checks `offset < 0 || len <= 0` first, before any mode or filesystem
  // check: a length of 0 is EINVAL on every filesystem, tmpfs's zero range included
  if (size(sim, op.len) === 0) {
    acc.note('fallocate with a length of 0: EINVAL (vfs_fallocate)')
    return { ret: -1, errno: 'EINVAL' }
  }
  if (op.op === 'zero_range' && w.rules.noZeroRange.includes(w.fs)) {
    acc.note(`${w.fs} does not support FALLOC_FL_ZERO_RANGE`)
    return { ret: -1, errno: 'EOPNOTSUPP' }
  }
  const s = size(sim, op.offset)
  const f = fileOf(sim, op.file)
  const e = s + size(sim, op.len)
  const oldSize = f.size
  if (op.op === 'zero_range' && !op.keep_size && e > f.size) {
    logicalOf(f, Math.ceil(e / w.pageSize) - 1, w.pageSize)
    f.size = e
  }
  // the page-cache range of a punch that passes the end of file is not cut there (cacheEnd in
  // pagecache.ts; ext4_punch_hole even stretches it to the end of the page holding i_size: seen on
  // fix-6.1, explore seed 1129, and on 6.18)
  punch(w, acc, f, s, e, oldSize, op.op === 'punch_hole')
  return ok()
}

/** The file's mapping is gone (the probe drops it before a new mmap, which may fail). */
function unmapFile(f: FileState): void {
  f.mapped = false
  f.mappedPage.fill(false)
}

/** A store through a file mapping that does not exist: the probe refuses it (ENXIO) before touching memory. */
function notMapped(acc: OpAcc): OpOutcome {
  acc.note('the file is not mapped (its mmap failed): the store is not made')
  return { ret: -1, errno: 'ENXIO' }
}

/** A store past the length the probe mapped: it refuses it (EFAULT) rather than fault outside the mapping. */
function pastMapping(acc: OpAcc): OpOutcome {
  acc.note('the store reaches past the mapped length (the file size at the mmap): refused, nothing stored')
  return { ret: -1, errno: 'EFAULT' }
}

/**
 * A store of [s, s + len) through the file's shared mapping. The mapping still reaches only the
 * pages that hold part of the file: a truncate since the mmap unmapped the others
 * (truncate_pagecache → unmap_mapping_range), and the fault on one of them is SIGBUS
 * (filemap_fault and shmem_fault refuse an index at or past the end of file). The probe copies page
 * by page, forward, so the bytes before the first such page are stored and none after it. Bytes of
 * the last partial page past the end of file are stored in the page but are not part of the file.
 */
function storeThroughMapping(sim: Sim, acc: OpAcc, f: FileState, s: number, len: number, pattern: Pattern): OpOutcome {
  const ps = sim.world.pageSize
  const reach = Math.ceil(f.size / ps) * ps
  const e = Math.min(s + len, f.size)
  if (s < e) writeFile(sim.world, acc, f, s, e, patternPatch(s, e, pattern), true)
  if (s + len <= reach) return ok()
  acc.note(`the store reaches page ${Math.floor(Math.max(s, reach) / ps)}, past the end of file (${f.size} bytes): SIGBUS${s < e ? `, after bytes ${s}–${e - 1} were stored` : ', nothing stored'}`)
  return { ret: -1, errno: 'SIGBUS' }
}

const HANDLERS: { [K in LeafOp['op']]: Handler<K> } = {
  splice(sim, acc, op) {
    acc.tpAdd(SYSCALL_ENTRY.splice, 1)
    if ('file' in op.from && 'pipe' in op.to)
      return spliceFileToPipe(sim.world, sim.policy, acc, fileOf(sim, op.from.file), size(sim, op.from.offset), size(sim, op.len), pipeOf(sim, op.to.pipe))
    if ('pipe' in op.from && 'file' in op.to)
      return spliceToFile(sim.world, acc, pipeOf(sim, op.from.pipe), fileOf(sim, op.to.file), size(sim, op.to.offset), size(sim, op.len))
    return { ret: -1, errno: 'EINVAL' }
  },
  vmsplice(sim, acc, op) {
    acc.tpAdd(SYSCALL_ENTRY.vmsplice, 1)
    return vmsplice(sim.world, sim.policy, acc, bufOf(sim, op.buffer), size(sim, op.offset), size(sim, op.len), pipeOf(sim, op.pipe), op.gift)
  },
  tee(sim, acc, op) {
    acc.tpAdd(SYSCALL_ENTRY.tee, 1)
    return tee(sim.policy, acc, pipeOf(sim, op.from), pipeOf(sim, op.to), size(sim, op.len))
  },
  pwrite,
  write_other_process(sim, acc, op) {
    // the probe forks a child to write: the fork write-protects the probe's private memory as any
    // fork does (forkProtectsPrivateMemory), even for a write of 0 bytes
    forkProtectsPrivateMemory(sim.world)
    return pwrite(sim, acc, op)
  },
  odirect_write(sim, acc, op) {
    return odirectWrite(sim.world, acc, fileOf(sim, op.file), size(sim, op.offset), size(sim, op.len), op.pattern)
  },
  mmap(sim, acc, op) {
    const f = fileOf(sim, op.file)
    // the probe maps the file's size and drops an older mapping first; a length of 0 is EINVAL
    // (do_mmap in mm/mmap.c: `if (!len) return -EINVAL`), and the file is left unmapped
    if (f.size === 0) {
      unmapFile(f)
      acc.note('mmap of an empty file: a length of 0 is EINVAL (do_mmap)')
      return { ret: -1, errno: 'EINVAL' }
    }
    f.mapped = true
    f.mapLen = f.size
    // fault: read touches every page: each is read into the page cache if it is not there and
    // mapped into the process (filemap_fault, fault-around), so fadvise cannot evict it
    // (docs/stock-rules.md section 12: 4 additions for an uncached 4-page file, none after)
    if (op.fault === 'read') {
      for (let i = 0; i * sim.world.pageSize < f.size; i++) {
        load(sim.world, acc, f, i, true)
        f.mappedPage[i] = true
      }
      acc.note('read faults: every page is cached and mapped into the process')
    }
    return ok()
  },
  mmap_store(sim, acc, op) {
    const f = fileOf(sim, op.file)
    if (!f.mapped) return notMapped(acc)
    const s = size(sim, op.offset)
    if (s + size(sim, op.len) > f.mapLen) return pastMapping(acc)
    return storeThroughMapping(sim, acc, f, s, size(sim, op.len), op.pattern)
  },
  munmap(sim, acc, op) {
    if (op.file !== undefined) {
      const f = fileOf(sim, op.file)
      if (!f.mapped) {
        acc.note('the file is not mapped (its mmap failed): nothing to unmap')
        return { ret: -1, errno: 'EINVAL' }
      }
      unmapFile(f)
    } else if (op.buffer !== undefined) {
      unmapBuffer(bufOf(sim, op.buffer))
      acc.note('unmapped: the pipe keeps its page references')
    }
    return ok()
  },
  buf_store(sim, acc, op) {
    const b = bufOf(sim, op.buffer)
    // the probe does not store into an unmapped buffer (the address may have been reused)
    if (b.unmapped) return { ret: -1, errno: 'ENXIO' }
    storeBuffer(acc, b, sim.world.pageSize, size(sim, op.offset), size(sim, op.len), op.pattern)
    return ok()
  },
  punch_hole: fallocate,
  zero_range: fallocate,
  truncate(sim, acc, op) {
    truncate(sim.world, acc, fileOf(sim, op.file), size(sim, op.size))
    return ok()
  },
  fadvise_dontneed(sim, acc, op) {
    const f = fileOf(sim, op.file)
    // shmem pages have nowhere to go: tmpfs ignores DONTNEED
    if (sim.world.fs !== 'tmpfs') {
      const s = size(sim, op.offset)
      const len = size(sim, op.len)
      fadviseDontneed(acc, f, sim.world.pageSize, s, len === 0 ? f.size : s + len)
    }
    return ok()
  },
  fsync(sim, _acc, op) {
    const f = fileOf(sim, op.file)
    f.dirty.fill(false)
    // fsync waits for every writeback of the file (file_write_and_wait_range)
    f.writebackMayRun = undefined
    return ok()
  },
  madvise_dontneed(sim, acc, op) {
    const P = sim.world.pageSize
    const b = bufOf(sim, op.buffer)
    const s = b.base + size(sim, op.offset)
    const e = s + size(sim, op.len)
    if (s % P !== 0) {
      // madvise(2): the start must be page aligned, else EINVAL and nothing happens (a buffer
      // that starts `offset` bytes into its page needs an op offset that brings it back to a
      // page boundary). Found by running random scenarios against the kernel.
      acc.note('madvise needs a page-aligned start: EINVAL, nothing dropped')
      return { ret: -1, errno: 'EINVAL' }
    }
    if (b.kind === 'private') {
      for (let k = Math.floor(s / P); k * P < e; k++) {
        dropUserPage(b, k, P)
        b.cow[k] = false
      }
      acc.note('MADV_DONTNEED drops private pages: the pipe keeps the old ones, the buffer reads zeros')
    } else acc.note('MADV_DONTNEED on shared memory only unmaps: the page stays in shmem and comes back')
    return ok()
  },
  fork(sim, acc, op) {
    const s = size(sim, op.offset)
    const len = size(sim, op.len)
    // the probe checks the store's target before it forks: a refused store means no fork at all
    if (op.file !== undefined) {
      const f = fileOf(sim, op.file)
      if (!f.mapped) return notMapped(acc)
      if (s + len > f.mapLen) return pastMapping(acc)
    }
    forkProtectsPrivateMemory(sim.world)
    if (op.buffer !== undefined) {
      const b = bufOf(sim, op.buffer)
      if (b.kind === 'private') {
        if (op.store === 'parent') storeBuffer(acc, b, sim.world.pageSize, s, len, op.pattern)
        else acc.note("the child's store copies its COW page: neither the parent's buffer nor the pipe change")
      } else storeBuffer(acc, b, sim.world.pageSize, s, len, op.pattern)
    } else if (op.file !== undefined) {
      acc.note('shared file mappings are not copy-on-write: the store writes the page cache')
      return storeThroughMapping(sim, acc, fileOf(sim, op.file), s, len, op.pattern)
    }
    return ok()
  },
  drain(sim, acc, op) {
    return drain(sim.world, acc, pipeOf(sim, op.pipe), op.len === 'all' ? 'all' : size(sim, op.len))
  },
  close(sim, _acc, op) {
    const p = pipeOf(sim, op.pipe)
    if (op.end === 'read') p.readClosed = true
    else p.writeClosed = true
    return ok()
  },
}

/** Whether the op uses a pipe end that a close op closed (close: the end it closes). */
function usesClosedEnd(sim: Sim, op: LeafOp): boolean {
  switch (op.op) {
    case 'splice':
      return ('pipe' in op.from && pipeOf(sim, op.from.pipe).readClosed) || ('pipe' in op.to && pipeOf(sim, op.to.pipe).writeClosed)
    case 'vmsplice':
      return pipeOf(sim, op.pipe).writeClosed
    case 'tee':
      return pipeOf(sim, op.from).readClosed || pipeOf(sim, op.to).writeClosed
    case 'drain':
      return pipeOf(sim, op.pipe).readClosed
    case 'close':
      return op.end === 'read' ? pipeOf(sim, op.pipe).readClosed : pipeOf(sim, op.pipe).writeClosed
    default:
      return false
  }
}

/** A use of a closed end: the probe's fd is gone, so the call fails with EBADF before anything else. */
function closedEnd(sim: Sim, acc: OpAcc, op: LeafOp): OpOutcome | null {
  if (!usesClosedEnd(sim, op)) return null
  if (op.op === 'splice' || op.op === 'vmsplice' || op.op === 'tee') acc.tpAdd(SYSCALL_ENTRY[op.op], 1)
  return op.op === 'drain' ? { ret: -1, errno: 'EBADF', drain: { read: 0, changed: [], changedBytes: 0 } } : { ret: -1, errno: 'EBADF' }
}

/** Runs one leaf op once, recording into `acc`. */
export function runOp(sim: Sim, acc: OpAcc, op: LeafOp): void {
  acc.iterations++
  acc.outcome(opOutcome(sim, acc, op))
}

/** What one leaf op does to the world, and its outcome, recorded nowhere (a race runs an op in pieces). */
export function opOutcome(sim: Sim, acc: OpAcc, op: LeafOp): OpOutcome {
  const handler = HANDLERS[op.op] as Handler<LeafOp['op']>
  return closedEnd(sim, acc, op) ?? handler(sim, acc, op)
}
