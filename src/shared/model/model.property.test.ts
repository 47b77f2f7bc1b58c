/**
 * Invariants over random valid scenarios (fast-check): the fix never lets a drain see a change, the
 * page counts add up, no splice reads past the end of a file, and the model is deterministic.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { validateScenario, type Scenario } from '../scenario'
import { POLICIES } from '../results'
import { FILESYSTEMS } from '../vocabulary'
import { defaultEnv, predict } from '.'

const P = 4096
const FS = FILESYSTEMS

/** Random scenarios over 2 files, 2 buffers and 2 pipes; ranges stay inside files and buffers. */
const arbScenario = (opts: { sizeChanges: boolean; longRepeats?: boolean }): fc.Arbitrary<Scenario> =>
  fc
    .record({
      fileSizes: fc.tuple(fc.integer({ min: 1, max: 8 * P }), fc.integer({ min: 1, max: 8 * P })),
      layouts: fc.tuple(fc.constantFrom('per_page', 'one_write'), fc.constantFrom('per_page', 'one_write')),
      states: fc.tuple(fc.constantFrom('synced', 'dirty'), fc.boolean()),
      bufKinds: fc.tuple(fc.constantFrom('private', 'shared'), fc.constantFrom('private', 'shared')),
      bufOffsets: fc.tuple(fc.constantFrom(0, 100), fc.constantFrom(0, 4000)),
      pipeSizes: fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4 })),
      mapped: fc.tuple(fc.boolean(), fc.boolean()),
      ops: fc.array(
        fc.record({
          kind: fc.integer({ min: 0, max: 17 }),
          a: fc.integer({ min: 0, max: 1 }),
          b: fc.integer({ min: 0, max: 1 }),
          x: fc.double({ min: 0, max: 1, noNaN: true }),
          y: fc.double({ min: 0, max: 1, noNaN: true }),
          gift: fc.boolean(),
          fill: fc.integer({ min: 1, max: 255 }),
        }),
        { minLength: 1, maxLength: 14 },
      ),
      // long repeats only (constants draw nothing, so the other properties see the scenarios they always saw)
      cycle: opts.longRepeats ? fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }))) : fc.constant(null),
      trailingDrains: opts.longRepeats ? fc.boolean() : fc.constant(true),
      // new inputs: zero_range keep_size and read-faulting mmaps, ext4 block size, btrfs nodatasum
      inputs: opts.longRepeats ? fc.record({ keep: fc.boolean(), fault: fc.boolean(), blockSize: fc.constantFrom(1024, 4096), nodatasum: fc.boolean() }) : fc.constant(null),
      close: opts.longRepeats ? fc.option(fc.tuple(fc.nat(20), fc.integer({ min: 0, max: 1 }), fc.constantFrom('read', 'write'))) : fc.constant(null),
      repeat: opts.longRepeats ? fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 41, max: 400 })) : fc.integer({ min: 0, max: 3 }),
    })
    .map((g) => {
      const fileSize = g.fileSizes
      const bufSize = [3 * P, 2 * P]
      const range = (total: number, x: number, y: number) => {
        const offset = Math.floor(x * (total - 1))
        const len = Math.max(1, Math.floor(y * (total - offset)))
        return { offset, len }
      }
      const ops: unknown[] = []
      g.mapped.forEach((m, i) => m && ops.push({ op: 'mmap', file: `f${i}`, ...(g.inputs?.fault ? { fault: 'read' } : {}) }))
      for (const o of g.ops) {
        const f = `f${o.a}`
        const fr = range(fileSize[o.a]!, o.x, o.y)
        const br = range(bufSize[o.a]!, o.x, o.y)
        const pipe = `p${o.b}`
        switch (o.kind) {
          case 0: case 1: case 2:
            ops.push({ op: 'splice', from: { file: f, offset: fr.offset }, to: { pipe }, len: fr.len })
            break
          case 3: case 4:
            ops.push({ op: 'vmsplice', buffer: `b${o.a}`, ...br, pipe, gift: o.gift })
            break
          case 5:
            ops.push({ op: 'tee', from: pipe, to: `p${1 - o.b}`, len: fr.len })
            break
          case 6:
            ops.push({ op: 'pwrite', file: f, ...fr, pattern: { fill: o.fill } })
            break
          case 7:
            ops.push({ op: 'buf_store', buffer: `b${o.a}`, ...br, pattern: { fill: o.fill } })
            break
          case 8:
            ops.push(o.gift ? { op: 'punch_hole', file: f, ...fr } : { op: 'zero_range', file: f, ...fr, ...(g.inputs?.keep ? { keep_size: true } : {}) })
            break
          case 9:
            if (opts.sizeChanges) ops.push({ op: 'truncate', file: f, size: fr.offset })
            else ops.push({ op: 'fsync', file: f })
            break
          case 10:
            ops.push({ op: 'fadvise_dontneed', file: f })
            break
          case 11:
            ops.push({ op: 'odirect_write', file: f, offset: Math.floor(fr.offset / 512) * 512, len: 512 * Math.max(1, Math.floor(fr.len / 512)) })
            break
          case 12:
            if (g.mapped[o.a]) ops.push({ op: 'mmap_store', file: f, ...fr, pattern: { fill: o.fill } })
            else ops.push({ op: 'write_other_process', file: f, ...fr })
            break
          case 13:
            ops.push({ op: 'fork', store: o.gift ? 'child' : 'parent', buffer: `b${o.a}`, ...br })
            break
          case 14:
            ops.push({ op: 'madvise_dontneed', buffer: `b${o.a}`, offset: 0, len: P })
            break
          case 15:
            ops.push({ op: 'splice', from: { pipe }, to: { file: f, offset: fr.offset }, len: fr.len })
            break
          default:
            // long repeats drain whole multiples of 512 bytes: the ring's partial slot then cycles in a few iterations
            ops.push({ op: 'drain', pipe, len: o.gift ? 'all' : opts.longRepeats ? 512 * (1 + Math.floor(o.y * 8)) : fr.len })
        }
      }
      // a ring that fills by whole pages and drains by 512-byte steps cycles with a period of several iterations
      if (opts.longRepeats && g.cycle) {
        ops.unshift({ op: 'splice', from: { file: 'f0', offset: 0 }, to: { pipe: 'p0' }, len: g.cycle[0] * P })
        ops.push({ op: 'drain', pipe: 'p0', len: 512 * g.cycle[1] })
      }
      if (g.close) ops.splice(Math.min(g.close[0], ops.length), 0, { op: 'close', pipe: `p${g.close[1]}`, end: g.close[2] })
      // without the final drains the pipes fill up and cycle
      if (g.trailingDrains) ops.push({ op: 'drain', pipe: 'p0' }, { op: 'drain', pipe: 'p1' })
      const body = ops.filter((o) => (o as { op: string }).op !== 'mmap')
      const scenario = {
        name: 'random',
        ...(g.inputs ? { mount: { ext4: { block_size: g.inputs.blockSize }, btrfs: { nodatasum: g.inputs.nodatasum } } } : {}),
        files: fileSize.map((size, i) => ({ id: `f${i}`, size, layout: g.layouts[i], state: i === 0 ? g.states[0] : 'synced', cached: i === 0 || g.states[1] })),
        buffers: bufSize.map((size, i) => ({ id: `b${i}`, size, kind: g.bufKinds[i], offset: g.bufOffsets[i] })),
        pipes: g.pipeSizes.map((n, i) => ({ id: `p${i}`, size: n * P })),
        ops: g.repeat > 0 ? [...ops.filter((o) => (o as { op: string }).op === 'mmap'), { op: 'repeat', times: g.repeat + 1, body }] : ops,
      }
      const r = validateScenario(scenario, '<random>')
      if (!r.ok) throw new Error(`generator made an invalid scenario: ${r.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
      return r.scenario
    })

const pagesTouched = (start: number, bytes: number): number => (bytes > 0 ? Math.ceil((start + bytes) / P) - Math.floor(start / P) : 0)

describe('model invariants (random scenarios)', () => {
  it('steal-or-copy and copy never let a drain see a change', () => {
    fc.assert(
      fc.property(arbScenario({ sizeChanges: true }), fc.constantFrom(...FS), (s, fs) => {
        for (const policy of ['steal-or-copy', 'copy'] as const) {
          const p = predict(s, policy, defaultEnv(fs))
          for (const op of p.ops) for (const o of op.outcomes) expect(o.drain?.changedBytes ?? 0, `${policy} ${op.path}`).toBe(0)
          expect(p.totals.changedBytes).toBe(0)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('shared + stolen + copied = the pages put into the pipe', () => {
    fc.assert(
      fc.property(arbScenario({ sizeChanges: true }), fc.constantFrom(...FS), (s, fs) => {
        const offsets = new Map<string, number>()
        const visit = (op: Scenario['ops'][number], path: string): void => {
          if (op.op === 'repeat') op.body.forEach((b, j) => visit(b, `${path}.body[${j}]`))
          else if (op.op === 'splice' && 'file' in op.from && 'pipe' in op.to) offsets.set(path, Number(op.from.offset))
          else if (op.op === 'vmsplice') offsets.set(path, Number(op.offset) + Number(s.buffers.find((b) => b.id === op.buffer)!.offset))
        }
        s.ops.forEach((op, i) => visit(op, `ops[${i}]`))
        for (const policy of POLICIES) {
          for (const op of predict(s, policy, defaultEnv(fs)).ops) {
            const n = op.pages.shared + op.pages.stolen + op.pages.copied
            const start = offsets.get(op.path)
            if (start === undefined) continue
            // every iteration of the same op starts at the same offset; outcomes are the distinct returns
            if (op.iterations === 1) expect(n, `${policy} ${op.path}`).toBe(pagesTouched(start, Math.max(0, op.outcomes[0]!.ret)))
            else expect(n).toBeLessThanOrEqual(op.iterations * Math.max(...op.outcomes.map((o) => pagesTouched(start, Math.max(0, o.ret)))))
          }
        }
      }),
      { numRuns: 150 },
    )
  })

  it('never splices past the end of a file', () => {
    fc.assert(
      fc.property(arbScenario({ sizeChanges: false }), fc.constantFrom(...FS), (s, fs) => {
        // without truncate, a file only grows by pwrites inside it: its size stays the created size
        const size = new Map(s.files.map((f) => [f.id, Number(f.size)]))
        const splices = new Map<string, { file: string; offset: number }>()
        const visit = (op: Scenario['ops'][number], path: string): void => {
          if (op.op === 'repeat') op.body.forEach((b, j) => visit(b, `${path}.body[${j}]`))
          else if (op.op === 'splice' && 'file' in op.from) splices.set(path, { file: op.from.file, offset: Number(op.from.offset) })
        }
        s.ops.forEach((op, i) => visit(op, `ops[${i}]`))
        for (const policy of POLICIES)
          for (const op of predict(s, policy, defaultEnv(fs)).ops) {
            const sp = splices.get(op.path)
            if (sp) for (const o of op.outcomes) expect(o.ret).toBeLessThanOrEqual(Math.max(0, size.get(sp.file)! - sp.offset))
          }
      }),
      { numRuns: 150 },
    )
  })

  it('a repeat predicted in closed form once it reaches a steady state equals running every iteration', () => {
    fc.assert(
      fc.property(arbScenario({ sizeChanges: true, longRepeats: true }), fc.constantFrom(...FS), fc.constantFrom(...POLICIES), (s, fs, policy) => {
        const env = defaultEnv(fs)
        expect(JSON.stringify(predict(s, policy, env))).toBe(JSON.stringify(predict(s, policy, env, { repeats: 'iterate' })))
      }),
      { numRuns: 300 },
    )
  }, 60_000)

  it('is deterministic', () => {
    fc.assert(
      fc.property(arbScenario({ sizeChanges: true }), fc.constantFrom(...FS), fc.constantFrom(...POLICIES), (s, fs, policy) => {
        expect(JSON.stringify(predict(s, policy, defaultEnv(fs)))).toBe(JSON.stringify(predict(s, policy, defaultEnv(fs))))
      }),
      { numRuns: 100 },
    )
  })
})
