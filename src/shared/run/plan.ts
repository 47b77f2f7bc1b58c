/**
 * The pure half of a run: from a scenario, the filesystem it runs on, the target's facts and the
 * model, everything that does not touch the target — the model's predictions, the probe's program
 * and arguments, the ops the probe is expected to report, a reader for its output and
 * `finish(observation)`, the comparison. src/main/lab executes a plan; nothing here does I/O.
 */
import type { Filesystem, LeafOp, Scenario } from '../scenario/schema'
import type { Comparison, ModelEnv, Observation, OpObservation, Policy, Prediction, UnitCosts } from '../results'
import { DEFAULT_COSTS } from '../results'
import { compare } from '../compare'
import { defaultEnv, predictAll } from '../model'
import { ObservationBuilder, compileProgram, probeArgs } from '../probe'

/** The model a plan predicts with; tests may give another (a model is pure, so a plan stays pure). */
export interface PlanModel {
  env(fs: Filesystem, facts: PlanFacts, costs: UnitCosts): ModelEnv
  predictAll(scenario: Scenario, env: ModelEnv): Record<Policy, Prediction>
}

/** The target facts a plan needs: what shapes the model's environment. */
export interface PlanFacts {
  pageSize: number
  /** `uname -r`: rules that differ between kernels are keyed by it (ModelEnv.kernel). */
  kernel: string
}

export interface PlanInput {
  scenario: Scenario
  fs: Filesystem
  facts: PlanFacts
  costs?: UnitCosts
}

/** One op the probe reports, in the order it reports them (a repeat's body ops once each). */
export interface ExpectedOp {
  path: string
  op: LeafOp['op']
}

/** Reads the probe's output one line at a time (lines already split, without their newline). */
export interface ProbeReader {
  /** Returns the op observation the line completed, if it was an op line. */
  pushLine(line: string): OpObservation | null
  /** Lines that were not probe JSON so far (compiler or shell noise, sanitizer reports). */
  readonly log: readonly string[]
  /** The observation so far; `incomplete` says why it stopped early (kill, disconnect, exit status). */
  finish(incomplete?: string): Observation
}

export interface RunPlan {
  readonly scenario: Scenario
  readonly fs: Filesystem
  readonly env: ModelEnv
  readonly predictions: Record<Policy, Prediction>
  /** The scenario as the probe's program text (uploaded beside the run's files). */
  readonly program: string
  readonly expectedOps: readonly ExpectedOp[]
  /** The probe's arguments after its executable (not quoted). */
  probeArgs(o: { programPath: string; dir: string; marker?: string; timeoutMs?: number }): string[]
  /** A fresh reader for one execution of the probe. */
  reader(): ProbeReader
  /** The comparison of the predictions with what the probe observed. */
  finish(observation: Observation): Comparison
}

export const defaultModel: PlanModel = {
  env: (fs, facts, costs) => defaultEnv(fs, facts.pageSize, costs, { kernel: facts.kernel }),
  predictAll,
}

export function planRun(input: PlanInput, model: PlanModel = defaultModel): RunPlan {
  const { scenario, fs, facts } = input
  const env = model.env(fs, facts, input.costs ?? DEFAULT_COSTS)
  const predictions = model.predictAll(scenario, env)
  const program = compileProgram(scenario, { pageSize: facts.pageSize })
  return {
    scenario,
    fs,
    env,
    predictions,
    program,
    expectedOps: expectedOps(scenario),
    probeArgs,
    reader: () => probeReader(),
    finish: (observation) => compare(predictions, observation),
  }
}

export function expectedOps(scenario: Scenario): ExpectedOp[] {
  const out: ExpectedOp[] = []
  scenario.ops.forEach((op, i) => {
    if (op.op === 'repeat') op.body.forEach((b, j) => out.push({ path: `ops[${i}].body[${j}]`, op: b.op }))
    else if (op.op === 'race') op.ops.forEach((b, j) => out.push({ path: `ops[${i}].ops[${j}]`, op: b.op }))
    else out.push({ path: `ops[${i}]`, op: op.op })
  })
  return out
}

function probeReader(): ProbeReader {
  const b = new ObservationBuilder()
  return {
    pushLine(line) {
      const parsed = b.pushLine(line)
      if (parsed?.type !== 'op') return null
      const { type: _type, run: _run, ...observation } = parsed
      return observation
    },
    get log() {
      return b.log
    },
    finish: (incomplete) => b.finish(incomplete),
  }
}
