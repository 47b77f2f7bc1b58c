import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ObservationBuilder, mergeObservations, mergeOpRuns, parseBatchLine, parseCalibrationOutput, parseProbeLine, PROBE_PROTOCOL } from './output'
import type { OpObservation } from '../results'

const hello = JSON.stringify({
  type: 'hello',
  protocol: PROBE_PROTOCOL,
  pid: 4242,
  pageSize: 4096,
  facts: { spliceStats: false, perf: true, traceMarker: true, hw: false, notes: ['no /proc/fs/splice: a stock kernel', 'no hardware PMU'] },
})
const splice = JSON.stringify({
  type: 'op', path: 'ops[0]', op: 'splice', iterations: 1, outcome: { ret: 4096, errno: null }, ns: 5100,
  tracepoints: { 'syscalls:sys_enter_splice': 1 }, stats: null, hw: null,
})
const pwrite = JSON.stringify({ type: 'op', path: 'ops[1]', op: 'pwrite', iterations: 1, outcome: { ret: 200, errno: null }, ns: 900, stats: null, hw: null })
const drain = JSON.stringify({
  type: 'op', path: 'ops[2]', op: 'drain', iterations: 1,
  outcome: { ret: 4096, errno: null, drain: { read: 4096, changed: [{ start: 100, end: 300, holds: 'current' }], changedBytes: 200 } },
  ns: 2000, stats: null, hw: null,
})
const done = JSON.stringify({ type: 'done', ops: 3, exit: 0 })
const stream = ['$ ./probe --program p.txt /tmp/x', hello, splice, pwrite, drain, done, ''].join('\r\n')

describe('parseProbeLine', () => {
  it('treats text that is not probe JSON as log (null)', () => {
    expect(parseProbeLine('gcc: warning: something')).toBeNull()
    expect(parseProbeLine('{"not":"probe"}')).toBeNull()
  })

  it('names the field that has the wrong shape', () => {
    const bad = parseProbeLine('{"type":"op","path":"ops[2]","op":"drain","outcome":{"ret":"x","errno":null},"ns":1,"stats":null}')
    expect(bad).toEqual({ line: expect.any(String), problem: expect.stringContaining('op ops[2].outcome.ret') })
    const holds = parseProbeLine('{"type":"op","path":"ops[2]","op":"drain","outcome":{"ret":1,"errno":null,"drain":{"read":1,"changed":[{"start":0,"end":1,"holds":"maybe"}],"changedBytes":1}},"ns":1,"stats":null}')
    expect(holds && 'problem' in holds && holds.problem).toContain('holds')
    const kind = parseProbeLine('{"type":"op","path":"ops[0]","op":"teleport","outcome":{"ret":1,"errno":null},"ns":1,"stats":null}')
    expect(kind && 'problem' in kind && kind.problem).toContain('unknown op kind "teleport"')
  })

  it('reports a truncated JSON line as malformed, not as a crash', () => {
    const cut = parseProbeLine(splice.slice(0, 40))
    expect(cut && 'problem' in cut && cut.problem).toMatch(/not valid JSON/)
  })
})

describe('parseBatchLine', () => {
  it("reads a batch's begin and end lines and leaves every other line to the program's reader", () => {
    expect(parseBatchLine('{"type":"begin","index":3}')).toEqual({ type: 'begin', index: 3 })
    expect(parseBatchLine('{"type":"end","index":3,"exit":137}\r')).toEqual({ type: 'end', index: 3, exit: 137 })
    for (const other of [hello, '{"type":"done","ops":1,"exit":0}', '{"type":"end","index":"x","exit":0}', '{"type":"begin"', 'begin 3', '']) expect(parseBatchLine(other)).toBeNull()
  })
})

describe('ObservationBuilder', () => {
  it('assembles hello, ops and done into an Observation; other lines are log', () => {
    const b = new ObservationBuilder()
    const lines = b.push(stream)
    expect(lines.map((l) => l.type)).toEqual(['hello', 'op', 'op', 'op', 'done'])
    const obs = b.finish()
    expect(obs.incomplete).toBeUndefined()
    expect(obs.ops.map((o) => o.path)).toEqual(['ops[0]', 'ops[1]', 'ops[2]'])
    expect(obs.ops[2]!.outcome.drain!.changed).toEqual([{ start: 100, end: 300, holds: 'current' }])
    expect(obs.ops[0]!.tracepoints).toEqual({ 'syscalls:sys_enter_splice': 1 })
    expect(obs.ops[1]!.tracepoints).toBeUndefined()
    expect(obs.ops[0]).not.toHaveProperty('type')
    expect(obs.facts).toEqual({ spliceStats: false, perf: true, traceMarker: true, notes: ['no /proc/fs/splice: a stock kernel', 'no hardware PMU'] })
    expect(b.log).toEqual(['$ ./probe --program p.txt /tmp/x'])
  })

  it('gives the same Observation whatever the stream is cut at (every single cut position)', () => {
    const whole = new ObservationBuilder()
    whole.push(stream)
    const expected = whole.finish()
    for (let cut = 0; cut <= stream.length; cut++) {
      const b = new ObservationBuilder()
      const n = b.push(stream.slice(0, cut)).length + b.push(stream.slice(cut)).length
      expect(n).toBe(5)
      expect(b.finish()).toEqual(expected)
    }
  })

  it('gives the same Observation for any split into many chunks (property)', () => {
    const whole = new ObservationBuilder()
    whole.push(stream)
    const expected = whole.finish()
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 30 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length]
        const b = new ObservationBuilder()
        for (let i = 1; i < points.length; i++) b.push(stream.slice(points[i - 1], points[i]))
        expect(b.finish()).toEqual(expected)
      }),
    )
  })

  it('keeps the finished ops and says incomplete when the probe died mid-run', () => {
    const b = new ObservationBuilder()
    b.push([hello, splice, pwrite.slice(0, 30)].join('\n'))
    const obs = b.finish('the probe was killed by SIGKILL')
    expect(obs.ops.map((o) => o.path)).toEqual(['ops[0]'])
    expect(obs.incomplete?.reason).toContain('SIGKILL')
    expect(b.malformed).toHaveLength(1)
  })

  it('says incomplete even without a reason when the done line is missing', () => {
    const b = new ObservationBuilder()
    b.push(`${hello}\n${splice}\n`)
    expect(b.finish().incomplete?.reason).toMatch(/before its done line \(after 1 op\)/)
  })

  it('reports error lines as the reason of an incomplete observation', () => {
    const b = new ObservationBuilder()
    b.push(`${hello}\n{"type":"error","code":"scratch","message":"cannot create files in /ro: EACCES"}\n{"type":"done","ops":0,"exit":3}\n`)
    const obs = b.finish()
    expect(obs.ops).toEqual([])
    expect(obs.incomplete?.reason).toBe('cannot create files in /ro: EACCES')
    expect(b.errors[0]!.code).toBe('scratch')
  })

  it('keeps the ops a stopped probe finished, with the signal of its done line as the reason it is incomplete', () => {
    const b = new ObservationBuilder()
    b.push(`${hello}\n${splice}\n{"type":"error","code":"signal","message":"stopped by SIGTERM after 1 op lines; files removed"}\n{"type":"done","ops":1,"exit":143,"signal":"SIGTERM"}\n`)
    const obs = b.finish()
    expect(obs.ops.map((o) => o.path)).toEqual(['ops[0]'])
    expect(b.done).toEqual({ type: 'done', ops: 1, exit: 143, signal: 'SIGTERM' })
    expect(obs.incomplete?.reason).toBe('stopped by SIGTERM after 1 op lines; files removed')
    expect(parseProbeLine('{"type":"done","ops":1,"exit":143,"signal":15}')).toMatchObject({ problem: expect.stringMatching(/done\.signal: expected a string/) })
  })

  it('says so when the probe printed no hello line', () => {
    const b = new ObservationBuilder()
    b.push(`${splice}\n${done}\n`)
    const obs = b.finish()
    expect(obs.facts.perf).toBe(false)
    expect(obs.facts.notes).toContain('the probe printed no hello line')
  })

  it('folds op lines of several runs (the probe looping over runs) into histograms', () => {
    const clean = { ...JSON.parse(drain), outcome: { ret: 4096, errno: null, drain: { read: 4096, changed: [], changedBytes: 0 } } }
    const b = new ObservationBuilder()
    b.push([hello, JSON.stringify({ ...JSON.parse(drain), run: 0 }), JSON.stringify({ ...clean, run: 1 }), JSON.stringify({ ...clean, run: 2 }), done, ''].join('\n'))
    const [op] = b.finish().ops
    expect(op!.histogram!.map((h) => [h.outcome.drain!.changedBytes, h.count])).toEqual([[200, 1], [0, 2]])
    expect(op!.outcome.drain!.changedBytes).toBe(0)
    expect(op!.ns).toBe(2000)
  })
})

describe('merging runs', () => {
  const base: OpObservation = { path: 'ops[0]', op: 'splice', iterations: 1, outcome: { ret: 4096, errno: null }, ns: 100, stats: null, hw: null, tracepoints: { a: 1 } }

  it('keeps the first differing outcome, the mean ns and the per-run maximum of counts', () => {
    const m = mergeOpRuns([base, { ...base, ns: 300, tracepoints: { a: 3 } }, { ...base, outcome: { ret: -1, errno: 'EAGAIN' } }])
    expect(m.outcome).toEqual({ ret: -1, errno: 'EAGAIN' })
    expect(m.histogram).toEqual([{ outcome: base.outcome, count: 2 }, { outcome: { ret: -1, errno: 'EAGAIN' }, count: 1 }])
    expect(m.ns).toBe(167)
    expect(m.tracepoints).toEqual({ a: 3 })
  })

  it('merges whole observations and keeps which runs were incomplete', () => {
    const facts = { spliceStats: false, perf: true, traceMarker: false, notes: [] }
    const m = mergeObservations([{ ops: [base], facts }, { ops: [base], facts, incomplete: { reason: 'killed' } }])
    expect(m.ops[0]!.histogram).toEqual([{ outcome: base.outcome, count: 2 }])
    expect(m.incomplete).toEqual({ reason: 'run 2: killed' })
  })
})

describe('parseCalibrationOutput', () => {
  it('reads the unit costs', () => {
    const costs = { copyBytesPerNs: 6.5, reloadNsPerPage: 1200, stealNsPerPage: 250, shareNsPerPage: 25, minorFaultNs: 350 }
    expect(parseCalibrationOutput(`noise\n{"type":"calibration","costs":${JSON.stringify(costs)},"notes":[]}\n`)).toEqual(costs)
  })

  it('names a missing or non-positive cost', () => {
    expect(() => parseCalibrationOutput('{"type":"calibration","costs":{"copyBytesPerNs":1}}\n')).toThrow(/reloadNsPerPage/)
    expect(() =>
      parseCalibrationOutput('{"type":"calibration","costs":{"copyBytesPerNs":0,"reloadNsPerPage":1,"stealNsPerPage":1,"shareNsPerPage":1,"minorFaultNs":1}}\n'),
    ).toThrow(/copyBytesPerNs: expected a positive number/)
    expect(() => parseCalibrationOutput('{"type":"error","code":"scratch","message":"no dir"}\n')).toThrow(/no calibration line: no dir/)
  })
})

describe('ObservationBuilder.pushLine', () => {
  it('accepts already-split lines (with or without a trailing carriage return)', () => {
    const b = new ObservationBuilder()
    expect(b.pushLine(`${hello}\r`)?.type).toBe('hello')
    expect(b.pushLine('bash: some noise')).toBeNull()
    const op = b.pushLine(splice)
    expect(op?.type === 'op' && op.path).toBe('ops[0]')
    b.pushLine(done)
    expect(b.finish().ops).toHaveLength(1)
    expect(b.log).toEqual(['bash: some noise'])
  })
})
