/**
 * The model: predicts, per op, what a policy does to a workload (pages shared/stolen/copied, bytes
 * copied, reloads, /proc/fs/splice deltas, the bytes each drain sees changed, return values,
 * tracepoint ranges, cost). Pure TypeScript, deterministic: same scenario and env, same prediction.
 *
 * Policies: `stock` follows what the kernel really does (docs/stock-rules.md, found by experiment on
 * 6.18; the rules that differ between kernels are keyed by version in kernels.ts); `steal-or-copy`
 * the RFC's rules (policy.ts); `copy` read()+write() semantics.
 */
import type { Filesystem, MountOptions, Scenario } from '../scenario/schema'
import { DEFAULT_COSTS, POLICIES, type ModelEnv, type Policy, type Prediction, type UnitCosts } from '../results'
import { simulate, type SimulateOptions } from './sim'

export { simulatedPageEvents } from './sim'

export { oneWriteFolios } from './folios'

export { KERNEL_RULES, parseKernel, resolveRules, type KernelRules } from './kernels'
export { FILE_STEAL_CONDITIONS, USER_STEAL_CONDITIONS } from './policy'

/** The kernel a model environment stands for when none is given: the newest one the rules have evidence for. */
export const DEFAULT_KERNEL = '6.18'

export function defaultEnv(fs: Filesystem, pageSize = 4096, costs?: Partial<UnitCosts>, where: { kernel?: string; mount?: MountOptions } = {}): ModelEnv {
  const env: ModelEnv = { fs, pageSize, kernel: where.kernel ?? DEFAULT_KERNEL, costs: { ...DEFAULT_COSTS, ...costs } }
  if (where.mount) env.mount = where.mount
  return env
}

export type { SimulateOptions } from './sim'

export function predict(scenario: Scenario, policy: Policy, env: ModelEnv, options?: SimulateOptions): Prediction {
  return simulate(scenario, policy, env, options)
}

export function predictAll(scenario: Scenario, env: ModelEnv): Record<Policy, Prediction> {
  const out = {} as Record<Policy, Prediction>
  for (const p of POLICIES) out[p] = predict(scenario, p, env)
  return out
}
