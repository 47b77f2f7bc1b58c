import { describe, expect, it } from 'vitest'
import { validateScenario, type Scenario, type ScenarioInput } from '../scenario'
import { batchProbeArgs, calibrateArgs, compileProgram, probeArgs, ProgramError } from './program'

function scenario(input: ScenarioInput): Scenario {
  const r = validateScenario(input, '<test>')
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'))
  return r.scenario
}

const writeAfterSplice = scenario({
  name: 'was',
  files: [{ id: 'data', size: '4p', pattern: { seq: 1 } }],
  pipes: [{ id: 'p' }],
  ops: [
    { op: 'splice', from: { file: 'data', offset: 0 }, to: { pipe: 'p' }, len: '1p' },
    { op: 'pwrite', file: 'data', offset: 100, len: 200, pattern: { fill: 0x42 } },
    { op: 'drain', pipe: 'p' },
  ],
})

describe('compileProgram', () => {
  it('writes the documented line format with sizes in bytes', () => {
    expect(compileProgram(writeAfterSplice, { pageSize: 4096 })).toBe(
      [
        'splicelab-program 1',
        '# was',
        'runs 1',
        'file 0 size=16384 pattern=seq:1 layout=per_page state=synced cached=1',
        'pipe 0 size=65536',
        'op ops[0] splice src=file:0:0 dst=pipe:0:0 len=4096',
        'op ops[1] pwrite file=0 offset=100 len=200 pattern=fill:66',
        'op ops[2] drain pipe=0 len=all',
        'end',
        '',
      ].join('\n'),
    )
  })

  it('resolves page sizes with the target page size', () => {
    const text = compileProgram(writeAfterSplice, { pageSize: 65536 })
    expect(text).toContain('file 0 size=262144 ')
    expect(text).toContain('len=65536')
  })

  it('refers to files, buffers and pipes by declaration index and nests repeat bodies', () => {
    const s = scenario({
      name: 'mix',
      runs: 3,
      files: [{ id: 'a', size: '2p' }, { id: 'b', size: '1p+100', layout: 'one_write', state: 'dirty', cached: false }],
      buffers: [{ id: 'buf', size: '2p', kind: 'shared', offset: 100, pattern: { fill: 7 } }],
      pipes: [{ id: 'p' }, { id: 'q', size: '1p' }],
      ops: [
        { op: 'vmsplice', buffer: 'buf', offset: 0, len: '1p', pipe: 'q', gift: true },
        { op: 'tee', from: 'q', to: 'p', len: '1p' },
        { op: 'splice', from: { pipe: 'p' }, to: { file: 'b', offset: '1p' }, len: 10 },
        { op: 'mmap', file: 'b' },
        { op: 'fork', store: 'parent', file: 'b', offset: 0, len: 10 },
        { op: 'repeat', times: 5, body: [{ op: 'truncate', file: 'b', size: 0 }, { op: 'drain', pipe: 'q', len: 100 }] },
        { op: 'munmap', file: 'b' },
        { op: 'drain', pipe: 'p' },
        { op: 'mmap', file: 'a', fault: 'read' },
        { op: 'zero_range', file: 'a', offset: 0, len: '1p', keep_size: true },
        { op: 'close', pipe: 'q', end: 'write' },
      ],
    })
    const lines = compileProgram(s, { pageSize: 4096 }).trimEnd().split('\n')
    expect(lines).toEqual([
      'splicelab-program 1',
      '# mix',
      'runs 3',
      'file 0 size=8192 pattern=seq:1 layout=per_page state=synced cached=1',
      'file 1 size=4196 pattern=seq:1 layout=one_write state=dirty cached=0',
      'buffer 0 size=8192 kind=shared offset=100 pattern=fill:7',
      'pipe 0 size=65536',
      'pipe 1 size=4096',
      'op ops[0] vmsplice buffer=0 offset=0 len=4096 pipe=1 gift=1',
      'op ops[1] tee from=1 to=0 len=4096',
      'op ops[2] splice src=pipe:0:0 dst=file:1:4096 len=10',
      'op ops[3] mmap file=1 fault=none',
      'op ops[4] fork store=parent file=1 offset=0 len=10 pattern=fill:70',
      'repeat ops[5] times=5 body=2',
      'op ops[5].body[0] truncate file=1 size=0',
      'op ops[5].body[1] drain pipe=1 len=100',
      'op ops[6] munmap file=1',
      'op ops[7] drain pipe=0 len=all',
      'op ops[8] mmap file=0 fault=read',
      'op ops[9] zero_range file=0 offset=0 len=4096 keep_size=1',
      'op ops[10] close pipe=1 end=write',
      'end',
    ])
  })

  it('writes a race as its line followed by its two ops, and counts them against the op limit', () => {
    const s = scenario({
      name: 'r',
      files: [{ id: 'data', size: '16p', cached: false }],
      pipes: [{ id: 'p' }],
      ops: [
        { op: 'race', ops: [{ op: 'splice', from: { file: 'data', offset: '4p' }, to: { pipe: 'p' }, len: '4p' }, { op: 'punch_hole', file: 'data', offset: '4p', len: '4p' }] },
        { op: 'drain', pipe: 'p' },
      ],
      runs: 50,
    })
    const lines = compileProgram(s, { pageSize: 4096 }).split('\n')
    expect(lines.slice(2)).toEqual([
      'runs 50',
      'file 0 size=65536 pattern=seq:1 layout=per_page state=synced cached=0',
      'pipe 0 size=65536',
      'race ops[0] ops=2',
      'op ops[0].ops[0] splice src=file:0:16384 dst=pipe:0:0 len=16384',
      'op ops[0].ops[1] punch_hole file=0 offset=16384 len=16384',
      'op ops[1] drain pipe=0 len=all',
      'end',
      '',
    ])
  })

  it('names the op and the missing id when a reference is wrong (unvalidated input)', () => {
    const bad = { ...writeAfterSplice, ops: [{ op: 'drain', pipe: 'nope', len: 'all' }] } as Scenario
    expect(() => compileProgram(bad, { pageSize: 4096 })).toThrow(ProgramError)
    expect(() => compileProgram(bad, { pageSize: 4096 })).toThrow(/ops\[0\]\.pipe: no pipe "nope" \(declared: p\)/)
  })

  it('refuses a page size that is not a power of two', () => {
    expect(() => compileProgram(writeAfterSplice, { pageSize: 3000 })).toThrow(/pageSize/)
  })
})

describe('batchProbeArgs', () => {
  it('gives the batch file, the hold, the time limit of each program and the directory, unquoted', () => {
    expect(batchProbeArgs({ batchPath: '/t/b', dir: '/mnt/x y', timeoutMs: 20_000, holdMs: 2999.2 })).toEqual(['--batch', '/t/b', '--hold-ms', '3000', '--timeout-ms', '20000', '--', '/mnt/x y'])
    expect(batchProbeArgs({ batchPath: '/t/b', dir: '/d', timeoutMs: 1 })).toEqual(['--batch', '/t/b', '--timeout-ms', '1', '--', '/d'])
    expect(() => batchProbeArgs({ batchPath: 'b', dir: 'd', timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(() => batchProbeArgs({ batchPath: 'b', dir: 'd', timeoutMs: 1, holdMs: -5 })).toThrow(/holdMs/)
  })
})

describe('probeArgs', () => {
  it('builds the command line with the scratch dir last, after --', () => {
    expect(probeArgs({ programPath: '/t/p.txt', dir: '/mnt/x y' })).toEqual(['--program', '/t/p.txt', '--', '/mnt/x y'])
    expect(probeArgs({ programPath: '/t/p.txt', dir: '/d', marker: '/sys/kernel/tracing/instances/i/trace_marker', timeoutMs: 1500.5 })).toEqual([
      '--program', '/t/p.txt', '--marker', '/sys/kernel/tracing/instances/i/trace_marker', '--timeout-ms', '1501', '--', '/d',
    ])
    expect(() => probeArgs({ programPath: 'p', dir: 'd', timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(calibrateArgs('/d')).toEqual(['--calibrate', '/d'])
  })
})
