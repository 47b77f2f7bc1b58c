/**
 * Expected-outcome files, herd style: beside a scenario, what a kernel was observed to do with it
 * (`<name>.expect/<kernel>.json`), so that a regression of the kernel or of the lab shows as a
 * difference. Only outcomes are kept — return values, errnos and what each drain saw — not times or
 * counts that vary from run to run.
 */
import type { MountOptions, Scenario } from '../scenario/schema'
import type { Observation, OpObservation, OpOutcome } from '../results'
import type { Filesystem } from '../vocabulary'

export const EXPECT_VERSION = 1

export interface ExpectedOutcomes {
  version: typeof EXPECT_VERSION
  scenario: string
  /** `uname -r` of the kernel that was observed. */
  kernel: string
  fs: Filesystem
  mount: MountOptions
  /** Boot arguments of a VM target that shape the behaviour (splice_policy=…), as given. */
  bootArgs?: string[]
  ops: ExpectedOp[]
  /** Set when the probe did not finish: ops holds what it had done. */
  incomplete?: string
}

/**
 * One op's outcome. An op whose outcome is left to a race (it saw more than one outcome in the run,
 * or it is a race) is kept as `varies` without an outcome: which side wins changes from run to run,
 * and a file that changed with it would be a flaky expectation, not a record of the kernel.
 */
export interface ExpectedOp {
  path: string
  op: string
  outcome?: OpOutcome
  varies?: true
}

function varies(o: OpObservation): boolean {
  if (o.op === 'race') return true
  const seen = new Set((o.histogram ?? []).map((h) => JSON.stringify(h.outcome)))
  return seen.size > 1
}

export function expectedOutcomes(scenario: Scenario, fs: Filesystem, kernel: string, observation: Observation, bootArgs?: string[]): ExpectedOutcomes {
  return {
    version: EXPECT_VERSION,
    scenario: scenario.name,
    kernel,
    fs,
    mount: scenario.mount ?? {},
    ...(bootArgs?.length ? { bootArgs } : {}),
    ops: observation.ops.map((o) => (varies(o) ? { path: o.path, op: o.op, varies: true as const } : { path: o.path, op: o.op, outcome: o.outcome })),
    ...(observation.incomplete ? { incomplete: observation.incomplete.reason } : {}),
  }
}

/** The file name of a kernel's expected outcomes: version and filesystem, safe as a path part. */
export function expectFileName(kernel: string, fs: Filesystem): string {
  return `${kernel.replace(/[^A-Za-z0-9._-]/g, '_')}.${fs}.json`
}

/** What differs between an expected and an observed set of outcomes, one line per difference. */
export function diffExpected(expected: ExpectedOutcomes, observed: ExpectedOutcomes): string[] {
  const out: string[] = []
  const seen = new Map(observed.ops.map((o) => [o.path, o]))
  for (const e of expected.ops) {
    const o = seen.get(e.path)
    if (!o) out.push(`${e.path} (${e.op}): expected ${describeExpected(e)}, not observed`)
    else if (e.varies || o.varies) {
      if (e.op !== o.op) out.push(`${e.path}: expected ${e.op}, observed ${o.op}`)
    } else if (JSON.stringify(o.outcome) !== JSON.stringify(e.outcome)) out.push(`${e.path} (${e.op}): expected ${describeExpected(e)}, observed ${describeExpected(o)}`)
    seen.delete(e.path)
  }
  for (const o of seen.values()) out.push(`${o.path} (${o.op}): observed ${describeExpected(o)}, not expected`)
  if ((expected.incomplete ?? '') !== (observed.incomplete ?? '')) out.push(`incomplete: expected ${expected.incomplete ?? 'no'}, observed ${observed.incomplete ?? 'no'}`)
  return out
}

export function describeExpected(o: ExpectedOp): string {
  return o.outcome ? describeOutcome(o.outcome) : 'an outcome that varies'
}

export function describeOutcome(o: OpOutcome): string {
  const ret = o.errno ? `-1 ${o.errno}` : String(o.ret)
  if (!o.drain) return ret
  const ranges = o.drain.changed.map((r) => `${r.start}-${r.end}:${r.holds}`).join(' ')
  return `${ret}, read ${o.drain.read}, changed ${o.drain.changedBytes}${ranges ? ` (${ranges})` : ''}`
}
